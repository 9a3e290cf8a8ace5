// Memory scopes. libtorch frees a tensor's memory when its last reference goes; JS garbage collection is
// too lazy for GPU memory, so tensors are disposed explicitly or by a tidy() scope. The native finalizer
// stays as the safety net for whatever escapes both.
import { AsyncLocalStorage } from 'async_hooks';

export interface Disposable { dispose(): void; }
type Scope = Disposable[];

const asyncScopes = new AsyncLocalStorage<Scope>();
let syncScope: Scope | null = null;

/** Called by every new Tensor: remembers it in the innermost open scope. */
export function track(t: Disposable): void {
  const s = syncScope ?? asyncScopes.getStore();
  if (s) s.push(t);
}

const kept = new WeakSet<object>();

/** Keeps a tensor alive past the scope that created it. Returns it. */
export function keep<T extends object>(t: T): T {
  kept.add(t);
  return t;
}

// Values never searched for tensors: binary data (a big Float32Array would be walked element by
// element), promises, weak collections and boxed primitives hold no Disposable we could reach.
function opaque(v: object): boolean {
  return ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof Promise || v instanceof WeakMap ||
    v instanceof WeakSet || v instanceof Date || v instanceof RegExp ||
    (typeof SharedArrayBuffer !== 'undefined' && v instanceof SharedArrayBuffer);
}

/**
 * Every Disposable reachable from v, at any depth: through arrays, Maps (keys and values), Sets, plain
 * objects and class instances (their own data properties; getters are not run). Iterative with a
 * visited set, so deep nesting cannot overflow the stack and cycles end. `descendDisposables` false
 * stops at a Disposable or class instance (dispose() of a container must not reach into objects that
 * own their tensors); true searches everything (what tidy() keeps may hide anywhere).
 */
function collect(root: unknown, out: Set<unknown>, descendAll: boolean): void {
  const seen = new Set<object>();
  const todo: unknown[] = [root];
  while (todo.length) {
    const v = todo.pop();
    if (v === null || (typeof v !== 'object' && typeof v !== 'function')) continue;
    const o = v as object;
    if (seen.has(o)) continue;
    seen.add(o);
    const isDisposable = typeof (o as Disposable).dispose === 'function';
    if (isDisposable) out.add(o);
    if (typeof o === 'function' || opaque(o)) continue;
    if (Array.isArray(o)) { for (const e of o) todo.push(e); continue; }
    if (o instanceof Map) { for (const [k, e] of o) todo.push(k, e); continue; }
    if (o instanceof Set) { for (const e of o) todo.push(e); continue; }
    const proto = Object.getPrototypeOf(o);
    const plain = proto === Object.prototype || proto === null;
    if (!descendAll && (isDisposable || !plain)) continue;
    for (const key of Reflect.ownKeys(o)) {
      const d = Object.getOwnPropertyDescriptor(o, key);
      if (d && 'value' in d) todo.push(d.value);
    }
  }
}

function release(scope: Scope, result: unknown, parent: Scope | null | undefined): void {
  const returned = new Set<unknown>();
  collect(result, returned, true);
  for (const t of scope) {
    if (returned.has(t) || kept.has(t)) {
      if (parent && !kept.has(t)) parent.push(t);  // returned tensors belong to the enclosing scope
      continue;
    }
    t.dispose();
  }
}

/**
 * Runs fn and disposes every tensor it created, except those it returns (at any depth inside arrays,
 * Maps, Sets, plain objects and class instances) and those passed to keep(). Works with async functions: the scope follows the async
 * context, so concurrent work outside fn is not touched.
 */
export function tidy<T>(fn: () => Promise<T>): Promise<T>;
export function tidy<T>(fn: () => T): T;
export function tidy<T>(fn: () => T | Promise<T>): T | Promise<T> {
  const parent = syncScope ?? asyncScopes.getStore();
  const scope: Scope = [];
  const prevSync = syncScope;
  syncScope = scope;
  let result: T | Promise<T>;
  try {
    // The async-context store carries the scope across awaits inside fn; the sync variable is the
    // fast path for synchronous code.
    result = asyncScopes.run(scope, fn);
  } catch (e) {
    release(scope, undefined, parent);
    throw e;
  } finally {
    syncScope = prevSync;
  }
  if (result instanceof Promise) {
    return result.then(
      (r) => { release(scope, r, parent); return r; },
      (e) => { release(scope, undefined, parent); throw e; });
  }
  release(scope, result, parent);
  return result;
}

/**
 * Disposes every tensor in a value: a tensor, or tensors inside arrays, Maps, Sets and plain objects at
 * any depth (a class instance with a dispose() method is disposed itself, not searched).
 */
export function dispose(v: unknown): void {
  const all = new Set<unknown>();
  collect(v, all, false);
  for (const t of all) (t as Disposable).dispose();
}
