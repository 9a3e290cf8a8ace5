// TorchScript models (torch.jit.save archives) as Modules: forward runs libtorch's interpreter; the
// parameters are libtorch's own tensors, so optimizers update the scripted model in place; functional
// calls set the owning submodule's attribute (Module::setattr), run forward, and restore.
import * as fs from 'fs';
import * as path from 'path';
import { Handle, native } from '../native';
import { DType, dtypeCode } from '../tensor/dtype';
import { JitValue, Tensor, wrap } from '../tensor/tensor';
import { keep } from '../tensor/scope';
import { Module } from './module';
import { CheckpointError, OptionError, throwIfAborted } from '../errors';
import { checkOptions, optionKeys, untilAborted } from '../options';

function toNative(v: unknown): unknown {
  if (v instanceof Tensor) return v.handle;
  if (Array.isArray(v)) return v.map(toNative);
  return v;
}

export interface ScriptLoadOptions { device?: string; }
const LOAD_OPTIONS = optionKeys<ScriptLoadOptions>('ScriptModule.load', { device: true });
export interface ScriptSaveOptions { overwrite?: boolean; }
const SAVE_OPTIONS = optionKeys<ScriptSaveOptions>('ScriptModule.save', { overwrite: true });

/** forwardAsync's options, given as a last argument after the inputs: `forwardAsync(x, { signal })`. */
export interface ForwardAsyncOptions { signal?: AbortSignal; }
const FORWARD_ASYNC_OPTIONS = optionKeys<ForwardAsyncOptions>('ScriptModule.forwardAsync', { signal: true });

/**
 * Splits forwardAsync's arguments into inputs and options: the last argument is the options when it is a
 * plain object with a `signal` key or holding an AbortSignal (a Dict[str, Tensor] input holds tensors), so
 * a mistyped key next to a signal ({ signl: s }) is an OptionError, not a strange dict input.
 */
function splitForwardArgs(args: unknown[]): [unknown[], ForwardAsyncOptions] {
  const last = args[args.length - 1];
  if (last === null || typeof last !== 'object' || Object.getPrototypeOf(last) !== Object.prototype) return [args, {}];
  if (!('signal' in last) && !Object.values(last).some((v) => v instanceof AbortSignal)) return [args, {}];
  checkOptions('ScriptModule.forwardAsync', last, FORWARD_ASYNC_OPTIONS);
  return [args.slice(0, -1), last as ForwardAsyncOptions];
}

/** Disposes every tensor of a forward's result (a result nobody waits for any more). */
function disposeAll(v: unknown): void {
  if (v instanceof Tensor) v.dispose();
  else if (Array.isArray(v)) v.forEach(disposeAll);
  else if (v instanceof Map) for (const [k, x] of v) { disposeAll(k); disposeAll(x); }
}

export class ScriptModule extends Module {
  /** @internal */ readonly native: Handle;
  private readonly qualifiedName: string;

  private constructor(h: Handle) {
    super();
    this.native = h;
    this.qualifiedName = native.jitTypeName(h);
    this.training = native.jitIsTraining(h);
  }

  /** Loads a torch.jit.save archive; errors name the file. */
  static load(file: string, o: ScriptLoadOptions = {}): ScriptModule {
    checkOptions('ScriptModule.load', o, LOAD_OPTIONS);
    if (!fs.existsSync(file)) throw new CheckpointError(file, 'no such file');
    return new ScriptModule(native.jitLoad(path.resolve(file), o.device ?? null));
  }

  get typeName(): string { return this.qualifiedName.split('.').pop() ?? this.qualifiedName; }

  forward<T extends JitValue = JitValue>(...inputs: unknown[]): T {
    return wrap(native.jitForward(this.native, inputs.map(toNative)));
  }
  /**
   * forward() on a worker thread. A last argument `{ signal }` (ForwardAsyncOptions) makes it abortable:
   * an aborted signal rejects before anything is scheduled; an abort while the forward runs rejects at once
   * with the signal's reason (an AbortError when the reason is not an Error). libtorch cannot stop a
   * forward half-way, so that forward still runs to its end on its worker: its result is then dropped (its
   * tensors disposed), and until then the module's parameters and the inputs stay in use by it (writing to
   * them is a BusyError, as during any pending forward).
   */
  async forwardAsync<T extends JitValue = JitValue>(...args: unknown[]): Promise<T> {
    const [inputs, o] = splitForwardArgs(args);
    const what = `${this.typeName}.forwardAsync`;
    throwIfAborted(o.signal, what);
    const work = native.jitForwardAsync(this.native, inputs.map(toNative)).then((r) => wrap<T>(r));
    return untilAborted(work, o.signal, what, disposeAll);
  }

  namedParameters(): [string, Tensor][] {
    return native.jitNamedParameters(this.native).map(([n, h]) => [n, keep(new Tensor(h))]);
  }
  namedBuffers(): [string, Tensor][] {
    return native.jitNamedBuffers(this.native).map(([n, h]) => [n, keep(new Tensor(h))]);
  }
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }
  /** Direct children as [name, scripted class name], e.g. ['0', 'Linear']. */
  children(): [string, string][] {
    return native.jitChildren(this.native).map(([n, t]) => [n, t]);
  }

  train(on = true): this {
    native.jitTrain(this.native, on);
    this.training = on;
    return this;
  }
  to(target: string | DType): this {
    const isDtype = ['float32', 'float64', 'float16', 'bfloat16'].includes(target);
    native.jitTo(this.native, isDtype ? null : target, isDtype ? dtypeCode(target as DType) : null);
    return this;
  }

  withTensors<T>(values: Map<string, Tensor>, fn: () => T): T {
    const originals: [string, Tensor][] = [];
    const current = new Map(this.stateDict());
    try {
      for (const [name, t] of values) {
        const orig = current.get(name);
        if (!orig) throw new OptionError(`TorchScript module ${this.typeName} has no parameter or buffer '${name}'`);
        originals.push([name, orig]);
        native.jitSetAttr(this.native, name, t.handle);
      }
      return fn();
    } finally {
      for (const [name, t] of originals) native.jitSetAttr(this.native, name, t.handle);
    }
  }

  /** Writes a TorchScript archive atomically (temp file, then rename); refuses to replace unless asked. */
  save(file: string, o: ScriptSaveOptions = {}): void {
    checkOptions('ScriptModule.save', o, SAVE_OPTIONS);
    if (fs.existsSync(file) && !o.overwrite) throw new OptionError(`${file} exists; pass { overwrite: true } to replace it`);
    const tmp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.tmp`);
    try {
      native.jitSave(this.native, tmp);
      fs.renameSync(tmp, file);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
  }

  dispose(): void { /* the archive's tensors are owned by libtorch's module; GC frees it */ }
}
