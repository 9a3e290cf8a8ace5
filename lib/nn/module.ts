// Module: PyTorch's nn.Module in TypeScript. Parameters, buffers and submodules live in ordered maps
// keyed by name, so dotted names, state_dict order and functional calls (swap the maps' entries, run
// forward, swap back) all match PyTorch. Subclasses implement forward(); callers use call(), which also
// runs forward hooks (how the Fisher fast paths see each layer's input and output).
import { noGrad } from '../autograd';
import { DType } from '../tensor/dtype';
import { Tensor } from '../tensor/tensor';
import { keep } from '../tensor/scope';
import { CheckpointError, OptionError, ShapeError } from '../errors';
import type { PyValue } from '../io/values';

/** What a value is, for an error message: its class name, else its typeof. */
function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return `a ${(v as object).constructor?.name ?? 'object'}`;
  return `a ${typeof v}`;
}

export type ForwardHook = (module: Module, inputs: unknown[], output: unknown) => void;

export interface LoadStateDictOptions {
  /** Refuse missing or unexpected keys (default true), as PyTorch's strict=True. */
  strict?: boolean;
}

export abstract class Module {
  training = true;
  /** @internal */ readonly _parameters = new Map<string, Tensor | null>();
  /** @internal */ readonly _buffers = new Map<string, Tensor | null>();
  /** @internal */ readonly _modules = new Map<string, Module>();
  /** Buffers left out of stateDict() (PyTorch's persistent=False). */
  protected readonly nonPersistent = new Set<string>();
  private readonly hooks: ForwardHook[] = [];

  /**
   * The module's computation. Subclasses declare their own inputs and output (`forward(x: Tensor): Tensor`);
   * `never[]` here lets any parameter list override it.
   */
  abstract forward(...inputs: never[]): unknown;

  /**
   * Runs forward() and then the forward hooks, like calling a PyTorch module. T is the output the caller
   * expects (a Tensor unless said otherwise, e.g. `call<[Tensor, Tensor]>(x)`): not checked at run time.
   */
  call<T = Tensor>(...inputs: unknown[]): T {
    const out = (this.forward as (...a: unknown[]) => unknown)(...inputs) as T;
    for (const h of this.hooks) h(this, inputs, out);
    return out;
  }

  /** The class name PyTorch would print (used by the Fisher fast paths to recognise layers). */
  get typeName(): string { return this.constructor.name; }

  registerForwardHook(hook: ForwardHook): () => void {
    this.hooks.push(hook);
    return () => { const i = this.hooks.indexOf(hook); if (i >= 0) this.hooks.splice(i, 1); };
  }

  // ---- registration ----
  protected registerParameter(name: string, t: Tensor | null): Tensor | null {
    if (t) keep(t.requiresGrad_(true));
    this._parameters.set(name, t);
    return t;
  }
  protected registerBuffer(name: string, t: Tensor | null, persistent = true): Tensor | null {
    if (t) keep(t);
    this._buffers.set(name, t);
    if (!persistent) this.nonPersistent.add(name);
    return t;
  }
  registerModule<M extends Module>(name: string, m: M): M {
    if (name.includes('.')) throw new OptionError(`module name '${name}' may not contain '.'`);
    this._modules.set(name, m);
    return m;
  }
  /** A parameter of this module (not of a child), for use in forward(). */
  protected param(name: string): Tensor {
    const t = this._parameters.get(name);
    if (!t) throw new OptionError(`${this.typeName}: parameter '${name}' is not set`);
    return t;
  }
  protected maybeParam(name: string): Tensor | null { return this._parameters.get(name) ?? null; }
  protected buffer(name: string): Tensor | null { return this._buffers.get(name) ?? null; }

  // ---- traversal (PyTorch's order: pre-order over modules, own entries first) ----
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, m] of this._modules) out.push(...m.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }
  namedChildren(): [string, Module][] { return [...this._modules]; }
  /**
   * Whether this module keeps its parameters outside the maps (a TorchScript module: libtorch owns them);
   * a parent then asks it for its namedParameters / namedBuffers / withTensors under its prefix.
   */
  get ownsTensors(): boolean {
    return this.namedParameters !== Module.prototype.namedParameters;
  }

  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [mp, m] of this.namedModules()) {
      if (m !== this && m.ownsTensors) {
        for (const [n, t] of m.namedParameters()) if (!seen.has(t)) { seen.add(t); out.push([`${mp}.${n}`, t]); }
        continue;
      }
      for (const [n, t] of m._parameters) {
        if (t && !seen.has(t)) { seen.add(t); out.push([mp ? `${mp}.${n}` : n, t]); }
      }
    }
    return out;
  }
  parameters(): Tensor[] { return this.namedParameters().map(([, t]) => t); }
  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [mp, m] of this.namedModules()) {
      if (m !== this && m.ownsTensors) {
        for (const [n, t] of m.namedBuffers()) out.push([`${mp}.${n}`, t]);
        continue;
      }
      for (const [n, t] of m._buffers) if (t) out.push([mp ? `${mp}.${n}` : n, t]);
    }
    return out;
  }
  /** Parameters and persistent buffers in PyTorch's state_dict order (the live tensors, not copies). */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    const visit = (m: Module, prefix: string) => {
      for (const [n, t] of m._parameters) if (t) out.set(prefix + n, t);
      for (const [n, t] of m._buffers) if (t && !m.nonPersistent.has(n)) out.set(prefix + n, t);
      for (const [n, c] of m._modules) visit(c, `${prefix}${n}.`);
    };
    visit(this, '');
    return out;
  }

  /**
   * Copies values into this module's tensors (shapes must match; dtypes are converted). As PyTorch's
   * load_state_dict, every problem is named at once: all missing and unexpected keys (strict) and every shape
   * mismatch with both shapes; unlike PyTorch, nothing is copied when there is one, so a failed load leaves the
   * model as it was. Keys that differ: CheckpointError (its `file` is 'loadStateDict(<type>)': a state dict in
   * memory has no file); shapes alone: ShapeError.
   */
  loadStateDict(sd: Map<string, Tensor> | Record<string, Tensor> | PyValue, o: LoadStateDictOptions = {}): { missing: string[]; unexpected: string[] } {
    const strict = o.strict ?? true;
    const src = this.checkStateDict(sd);
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !src.has(k));
    const unexpected = [...src.keys()].filter((k) => !own.has(k));
    const mismatched: string[] = [];
    for (const [k, dst] of own) {
      const v = src.get(k);
      if (v && v.shape.join(',') !== dst.shape.join(',')) mismatched.push(`'${k}' has shape [${v.shape}] in the state dict but [${dst.shape}] in the model`);
    }
    const keysDiffer = strict && (missing.length > 0 || unexpected.length > 0);
    if (keysDiffer || mismatched.length) {
      const where = `loadStateDict(${this.typeName})`;
      const parts = [];
      if (strict && missing.length) parts.push(`missing keys: ${missing.join(', ')}`);
      if (strict && unexpected.length) parts.push(`unexpected keys: ${unexpected.join(', ')}`);
      parts.push(...mismatched);
      if (keysDiffer) throw new CheckpointError(where, parts.join('; '));
      throw new ShapeError(`${where}: ${parts.join('; ')}`);
    }
    for (const [k, dst] of own) {
      const v = src.get(k);
      if (v) noGrad(() => dst.copy_(v));
    }
    return { missing, unexpected };
  }

  /**
   * load()'s result is typed as any checkpoint value (PyValue), so what loadStateDict is given is checked
   * here: a Map (or plain object) of string keys to tensors, else an OptionError naming the key.
   */
  private checkStateDict(sd: unknown): Map<string, Tensor> {
    const where = `loadStateDict(${this.typeName})`;
    let entries: [unknown, unknown][];
    if (sd instanceof Map) entries = [...sd];
    else if (sd !== null && typeof sd === 'object' && Object.getPrototypeOf(sd) === Object.prototype) entries = Object.entries(sd);
    else throw new OptionError(`${where}: expected a state dict (a Map of names to tensors), got ${describeValue(sd)}`);
    const out = new Map<string, Tensor>();
    for (const [k, v] of entries) {
      if (typeof k !== 'string') throw new OptionError(`${where}: key ${String(k)} is ${describeValue(k)}, not a string`);
      if (!(v instanceof Tensor)) throw new OptionError(`${where}: '${k}' is ${describeValue(v)}, not a tensor`);
      out.set(k, v);
    }
    return out;
  }

  // ---- modes and placement ----
  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }
  eval(): this { return this.train(false); }

  /** Moves/casts every parameter and buffer (integer buffers keep their dtype, as in PyTorch). */
  to(target: string | DType): this {
    const isDtype = ['float32', 'float64', 'float16', 'bfloat16'].includes(target);
    for (const [, m] of this.namedModules()) {
      for (const map of [m._parameters, m._buffers]) {
        for (const [n, t] of map) {
          if (!t) continue;
          if (isDtype && !['float32', 'float64', 'float16', 'bfloat16'].includes(t.dtype)) continue;
          const moved = noGrad(() => t.to(target));
          if (map === m._parameters) moved.requiresGrad_(t.requiresGrad);
          keep(moved);
          map.set(n, moved);
          t.dispose();
        }
      }
    }
    return this;
  }

  /** Clears every parameter's .grad. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      const g = p.grad;
      if (g) { p.grad = null; g.dispose(); }
    }
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const [, m] of this.namedModules()) {
      for (const map of [m._parameters, m._buffers]) for (const t of map.values()) t?.dispose();
    }
  }

  /**
   * Replaces the tensors named in `values` (dotted names of parameters or buffers) for the duration of
   * fn, then restores the originals, also on error: torch.func.functional_call.
   */
  withTensors<T>(values: Map<string, Tensor>, fn: () => T): T {
    // names under a module that owns its tensors (a nested TorchScript module) are swapped by that module
    const delegated = new Map<Module, [string, Map<string, Tensor>]>();
    const direct = new Map<string, Tensor>();
    for (const [name, t] of values) {
      const parts = name.split('.');
      let m: Module = this;
      let i = 0;
      for (; i < parts.length - 1; i++) {
        const c = m._modules.get(parts[i]);
        if (!c) break;
        m = c;
        if (m.ownsTensors) break;
      }
      if (m !== this && m.ownsTensors && i < parts.length - 1) {
        const entry = delegated.get(m) ?? [parts.slice(0, i + 1).join('.'), new Map<string, Tensor>()];
        entry[1].set(parts.slice(i + 1).join('.'), t);
        delegated.set(m, entry);
      } else direct.set(name, t);
    }
    if (delegated.size) {
      const run = [...delegated].reduce<() => T>((inner, [m, [, vals]]) => () => m.withTensors(vals, inner), () => this.withTensors(direct, fn));
      return run();
    }
    const saved: [Map<string, Tensor | null>, string, Tensor | null][] = [];
    try {
      for (const [name, t] of direct) {
        const dot = name.lastIndexOf('.');
        const owner = dot < 0 ? this : this.getSubmodule(name.slice(0, dot));
        const leaf = name.slice(dot + 1);
        const map = owner._parameters.has(leaf) ? owner._parameters : owner._buffers.has(leaf) ? owner._buffers : null;
        if (!map) throw new OptionError(`${this.typeName} has no parameter or buffer '${name}'`);
        saved.push([map, leaf, map.get(leaf) ?? null]);
        map.set(leaf, t);
      }
      return fn();
    } finally {
      for (let i = saved.length - 1; i >= 0; i--) saved[i][0].set(saved[i][1], saved[i][2]);
    }
  }

  getSubmodule(path: string): Module {
    let m: Module = this;
    if (!path) return m;
    for (const part of path.split('.')) {
      const c = m._modules.get(part);
      if (!c) throw new OptionError(`${this.typeName} has no submodule '${path}' (missing '${part}')`);
      m = c;
    }
    return m;
  }
}

/** Calls `module` with some of its tensors replaced: torch.func.functional_call(module, params, inputs). */
export function functionalCall<T = Tensor>(module: Module, values: Map<string, Tensor>, ...inputs: unknown[]): T {
  return module.withTensors(values, () => module.call<T>(...inputs));
}
