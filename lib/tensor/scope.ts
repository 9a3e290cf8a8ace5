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

function collectReturned(v: unknown, out: Set<unknown>, depth = 0): void {
  if (v === null || typeof v !== 'object' || depth > 4) return;
  if (typeof (v as Disposable).dispose === 'function') out.add(v);
  if (Array.isArray(v)) for (const e of v) collectReturned(e, out, depth + 1);
  else if (v instanceof Map) for (const e of v.values()) collectReturned(e, out, depth + 1);
  else if (Object.getPrototypeOf(v) === Object.prototype) for (const e of Object.values(v)) collectReturned(e, out, depth + 1);
}

function release(scope: Scope, result: unknown, parent: Scope | null | undefined): void {
  const returned = new Set<unknown>();
  collectReturned(result, returned);
  for (const t of scope) {
    if (returned.has(t) || kept.has(t)) {
      if (parent && !kept.has(t)) parent.push(t);  // returned tensors belong to the enclosing scope
      continue;
    }
    t.dispose();
  }
}

/**
 * Runs fn and disposes every tensor it created, except those it returns (also inside arrays, Maps or
 * plain objects) and those passed to keep(). Works with async functions: the scope follows the async
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

/** Disposes every tensor in a value (a tensor, an array, a Map or a plain object of tensors). */
export function dispose(v: unknown): void {
  const all = new Set<unknown>();
  collectReturned(v, all);
  for (const t of all) (t as Disposable).dispose();
}
