// Loads the compiled addon and types its surface. Everything in lib/ goes through this one object.
import * as fs from 'fs';
import * as path from 'path';
import * as errors from './errors';
import { SquisherError } from './errors';

/** An opaque handle to a native tensor, module or operator. */
export type Handle = { readonly __native: unique symbol };

export interface Native {
  torchVersion: string;
  /** Registers lib/errors' classes so native code throws them (once per JS environment). */
  setErrorClasses(classes: Record<string, Function>): void;
  fromBuffer(data: ArrayBufferView | ArrayBuffer, dtype: number, shape: number[]): Handle;
  toBuffer(h: Handle): ArrayBuffer;
  readFileBytes(fd: number, offset: number, nbytes: number): Handle;
  readFileBytesAsync(fd: number, offset: number, nbytes: number): Promise<Handle>;
  copyToBuffer(h: Handle, dst: ArrayBufferView | ArrayBuffer): void;
  copyFromBuffer(h: Handle, src: ArrayBufferView | ArrayBuffer): void;
  meta(h: Handle): [number, number[], string, boolean];
  strides(h: Handle): number[];
  storageInfo(h: Handle): [string, number, number];
  item(h: Handle): number | boolean;
  dispose(h: Handle): void;
  isDisposed(h: Handle): boolean;
  isTensor(h: unknown): boolean;
  toString(h: Handle): string;
  findOp(name: string, overload: string): Handle;
  opSchema(op: Handle): string;
  callOp(op: Handle, ...args: unknown[]): unknown;
  callOpAsync(op: Handle, ...args: unknown[]): Promise<unknown>;
  setGradEnabled(on: boolean): boolean;
  isGradEnabled(): boolean;
  setRequiresGrad(h: Handle, on: boolean): void;
  isLeaf(h: Handle): boolean;
  getGrad(h: Handle): Handle | null;
  setGrad(h: Handle, g: Handle | null): void;
  backward(ts: Handle[], grads: (Handle | null)[] | null, retainGraph?: boolean, createGraph?: boolean): void;
  grad(outs: Handle[], ins: Handle[], gradOuts: (Handle | null)[] | null, retainGraph?: boolean | null, createGraph?: boolean, allowUnused?: boolean): (Handle | null)[];
  vmapIncrementNesting(batchSize: number, randomness: string): number;
  gradIncrementNesting(): number;
  decrementNesting(): number;
  functorchDepth(): number;
  functorchResetDepth(depth: number): void;
  addBatchDim(h: Handle, dim: number, level: number): Handle;
  removeBatchDim(h: Handle, level: number, batchSize: number, outDim: number): Handle;
  wrapForGrad(h: Handle, level: number): Handle;
  unwrapForGrad(h: Handle, level: number): Handle;
  setInplaceRequiresGradAllowed(on: boolean): boolean;
  setVmapFallbackWarningEnabled(on: boolean): boolean;
  jitLoad(path: string, device: string | null): Handle;
  jitForward(m: Handle, inputs: unknown[]): unknown;
  jitForwardAsync(m: Handle, inputs: unknown[]): Promise<unknown>;
  jitNamedParameters(m: Handle): [string, Handle][];
  jitNamedBuffers(m: Handle): [string, Handle][];
  jitSetAttr(m: Handle, name: string, t: Handle): void;
  jitGetAttr(m: Handle, name: string): unknown;
  jitTrain(m: Handle, on: boolean): void;
  jitIsTraining(m: Handle): boolean;
  jitTo(m: Handle, device: string | null, dtype: number | null): void;
  jitSave(m: Handle, path: string): void;
  jitChildren(m: Handle): [string, string, Handle][];
  jitTypeName(m: Handle): string;
  jitSchema(m: Handle): string | null;
  // graph-level Fisher engine (native/fisher)
  fisherPlan(m: Handle, only: string[] | null): Handle;
  fisherPlanAsync(m: Handle, only: string[] | null): Promise<Handle>;
  fisherPlanInfo(plan: Handle): { name: string; aliases: string[]; fallback: boolean; why: string; how: string; uses: string[] }[];
  fisherPlanStats(plan: Handle): { backwards: number; vmapped: number; perTerm: number; perTermWhy: string };
  fisherStep(plan: Handle, inputs: unknown[], y: Handle, o: object): number;
  fisherStepAsync(plan: Handle, inputs: unknown[], y: Handle, o: object): Promise<number>;
  fisherSums(plan: Handle): [string, Handle][];
  cudaIsAvailable(): boolean;
  cudaDeviceCount(): number;
  cudaSynchronize(): void;
  cudaMemoryStats(device?: number): CudaMemoryStats;
  cudaResetPeakMemoryStats(device?: number): void;
  manualSeed(seed: number): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  /** Live tensor handles per device: [device, tensors, bytes of distinct storages, storages]. */
  liveTensors(): [string, number, number, number][];
}

export interface CudaMemoryStats {
  allocatedBytes: number;
  peakAllocatedBytes: number;
  reservedBytes: number;
  peakReservedBytes: number;
}

// The addon file that was loaded, and what the install recorded about libtorch (build/libtorch.json).
export let addonPath = '';
export interface LibtorchRecord { version?: string; root?: string; lib?: string; runpath?: string; cuda?: boolean; cudaVersion?: string | null; source?: string }
export function libtorchRecord(): LibtorchRecord | null {
  try { return JSON.parse(fs.readFileSync(path.join(path.dirname(addonPath), '..', 'libtorch.json'), 'utf8')) as LibtorchRecord; } catch { return null; }
}

function load(): Native {
  // lib/native.ts runs from lib/ (ts-jest) or dist/ (compiled); the addon sits in build/Release either way.
  const root = path.resolve(__dirname, '..');
  const candidates = [
    process.env.SQUISHER_ADDON,
    path.join(root, 'build', 'Release', 'squisher.node'),
    path.join(root, 'build', 'Debug', 'squisher.node'),
  ].filter((p): p is string => !!p);
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) {
    throw new SquisherError(`the native addon is not built (looked in ${candidates.join(', ')}). ` +
      'Run `npm install` (or `npm run build`) in the squisher package; it finds libtorch and compiles the addon.');
  }
  addonPath = found;
  let addon: Native;
  try {
    addon = require(found) as Native;
  } catch (e) {
    // The addon names libtorch by its RUNPATH: relative to itself when libtorch is inside the package,
    // else the folder the install found. When that folder is gone, say which one and how to fix it.
    const msg = (e as Error).message;
    if (!/lib(torch|c10)\w*\.(so|dylib)|cannot open shared object/.test(msg)) throw e;
    const rec = libtorchRecord();
    const where = rec ? `libtorch ${rec.version ?? ''} from ${rec.source ?? 'the install'}, at ${rec.lib ?? rec.root} (runpath ${rec.runpath ?? 'absolute'})` : 'libtorch';
    throw new SquisherError(`the native addon ${found} cannot load ${where}: ${msg.split('\n')[0]}. ` +
      'That libtorch was moved or removed after the install. Run `npm rebuild squisher` to find libtorch again ' +
      '(or set LIBTORCH=/path/to/libtorch first).', { cause: e });
  }
  // Native code throws these classes itself (per environment: each worker_thread registers its own).
  addon.setErrorClasses({ TorchError: errors.TorchError, DTypeError: errors.DTypeError, OptionError: errors.OptionError,
    BusyError: errors.BusyError });
  return addon;
}

export const native: Native = load();
