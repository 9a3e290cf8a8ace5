// Checkpoints in and out: torch.save files, TorchScript archives' tensors, safetensors.
//
// load(file) -> the checkpoint as JS values (see values.ts: dicts are Maps so int keys and order
// survive, OrderedDict for state_dicts, Tuple for tuples, Tensor for tensors); save(file, value)
// writes a torch.save zip that torch.load(weights_only=True) reads; loadStateDict flattens to dotted names.
import { native } from '../native';
import { Tensor } from '../tensor';
import { WRITE_OPTIONS, WriteOptions } from './atomic';
import { INSPECT_OPTIONS, inspect as inspectFile, InspectOptions, InspectResult } from './inspect';
import { inspectSharded } from './inspect-sharded';
import { loadSafetensors, saveSafetensors } from './safetensors';
import { ShardedCheckpoint, resolveCheckpoint } from './sharded';
import { CheckpointError, Source, openSource } from './source';
import { AsyncLoadControl, LoadOptions as TorchLoadOptions, MapLocation, archiveLayout, loadTorch, loadTorchAsync, materialize, saveTorch, sniff } from './torchsave';
import { loadTorchScript, parseTorchScript } from './torchscript';
import { flattenTree } from './tree';
import { OrderedDict, PyValue } from './values';
import { ZipReader } from './zip';
import { checkOptions, optionKeys, pickOptions } from '../options';
import { throwIfAborted } from '../errors';

export { OrderedDict, Tuple, tuple, PyFloat, PyComplex, PyGlobal, TensorRef, StorageRef, ScriptObject } from './values';
export type { PyValue } from './values';
export { CheckpointError } from './source';
export type { MapLocation } from './torchsave';
export { ShardedCheckpoint, resolveCheckpoint, CHECKPOINT_NAMES } from './sharded';
export { BufferSource, FileSource, openSource } from './source';
export type { Source } from './source';

/** A checkpoint: a path (file, shard index or model folder), or its bytes in memory. */
export type CheckpointInput = string | Uint8Array;

export interface LoadOptions extends TorchLoadOptions {
  /** For bytes in memory: the name error messages give them (default '<buffer>'). */
  name?: string;
}
const LOAD_OPTIONS = optionKeys<LoadOptions>('load', { mapLocation: true, allowGlobals: true, name: true });
const SHARDED_OPEN = ['mapLocation', 'allowGlobals'];

/**
 * loadAsync's options: load()'s, and `signal` (stops the load between reads; a read under way is not
 * waited for, its bytes are freed when it ends) and `onProgress` ({ done, total, phase: 'load' }: storages
 * of a torch.save file, tensors of a sharded checkpoint).
 */
export interface LoadAsyncOptions extends LoadOptions, AsyncLoadControl {}
const LOAD_ASYNC_OPTIONS = optionKeys<LoadAsyncOptions>('loadAsync', { mapLocation: true, allowGlobals: true, name: true, signal: true, onProgress: true });

/** convert's options: the writer's overwrite, and the reader's allowGlobals. */
export interface ConvertOptions extends WriteOptions, Pick<LoadOptions, 'allowGlobals'> {}
const CONVERT_OPTIONS = optionKeys<ConvertOptions>('convert', { overwrite: true, allowGlobals: true });
export { saveStateDict } from './torchsave';
export type { AsyncLoadControl } from './torchsave';
export type { ShardedReadOptions, ShardedLoadAsyncOptions, ShardedLoadProgress } from './sharded';
export type { WriteOptions } from './atomic';
export { loadSafetensors, saveSafetensors, inspectSafetensors, TensorMap } from './safetensors';
export type { SafetensorsEntry, SafetensorsHeader, SafetensorsLoadOptions, SafetensorsSaveOptions } from './safetensors';
export { loadTorchScript, loadTorchScriptParameters } from './torchscript';
export type { InspectOptions, InspectResult, TensorEntry } from './inspect';
export { PyObject, NumpyArray, NumpyDType } from './inert';
export { flattenTree } from './tree';

type Format = 'torch' | 'torchscript' | 'safetensors' | 'legacy' | 'unknown';

function formatOf(src: Source): Format {
  const k = sniff(src);
  if (k !== 'zip') return k;
  return archiveLayout(new ZipReader(src)).torchscript ? 'torchscript' : 'torch';
}

/**
 * The format of a checkpoint, from its bytes (not its name): 'sharded' for a shard index or a folder whose
 * checkpoint is one (a folder holding a single model.safetensors / pytorch_model.bin is that file's format).
 */
export function checkpointFormat(file: CheckpointInput, name?: string): Format | 'sharded' {
  let src: Source;
  if (typeof file === 'string') {
    const r = resolveCheckpoint(file);
    if (r.kind === 'index') return 'sharded';
    src = openSource(r.file);
  } else {
    src = openSource(file, name);
  }
  try {
    return formatOf(src);
  } finally {
    src.close();
  }
}

/** Loads a checkpoint held in memory (load() with bytes instead of a path). */
function loadBytes(bytes: Uint8Array, opts: LoadOptions): PyValue {
  const name = opts.name ?? '<buffer>';
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const src = openSource(buf, name);
  let fmt: Format;
  try { fmt = formatOf(src); } finally { src.close(); }
  const loc = opts.mapLocation ?? 'cpu';
  if (fmt === 'safetensors') return loadSafetensors(buf, { device: loc === 'keep' ? 'cpu' : loc, name });
  if (fmt === 'torchscript') {
    const s = openSource(buf, name);
    try {
      const t = parseTorchScript(s);
      return materialize({ ...t.archive, root: new OrderedDict<string, unknown>([...t.parameters, ...t.buffers]) }, loc as MapLocation);
    } finally {
      s.close();
    }
  }
  return loadTorch(buf, opts, name);
}

/**
 * Loads a checkpoint: a torch.save file (any nesting of dicts, lists, tuples, tensors, numbers,
 * strings), a TorchScript archive (its parameters and buffers, as an OrderedDict), a safetensors
 * file (a TensorMap), or a sharded checkpoint (an index .json or a model folder: one OrderedDict of every
 * listed tensor; see ShardedCheckpoint to read tensors one at a time). `file` may also be the bytes of a
 * checkpoint (Buffer / Uint8Array; opts.name names them in errors). mapLocation: 'cpu' (default),
 * 'cuda' / 'cuda:N', or 'keep'; allowGlobals: see LoadOptions.
 */
export function load(input: CheckpointInput, opts: LoadOptions = {}): PyValue {
  checkOptions('load', opts, LOAD_OPTIONS);
  if (typeof input !== 'string') return loadBytes(input, opts);
  const r = resolveCheckpoint(input);
  if (r.kind === 'index') {
    const ck = ShardedCheckpoint.open(r.file, pickOptions(opts, SHARDED_OPEN));
    try { return ck.loadAll(); } finally { ck.close(); }
  }
  const file = r.file;
  const fmt = checkpointFormat(file);
  if (fmt === 'torchscript') return loadTorchScript(file, { mapLocation: opts.mapLocation });
  if (fmt === 'safetensors') {
    const loc = opts.mapLocation ?? 'cpu';
    return loadSafetensors(file, { device: loc === 'keep' ? 'cpu' : loc });
  }
  return loadTorch(file, opts);
}

/**
 * load() with a torch.save file's (or a sharded checkpoint's) tensor bytes read on worker threads, so a
 * service's event loop keeps running while a large checkpoint loads. Same result as load(); other formats
 * load as load() does (at once: `signal` is checked before, onProgress is not called).
 * `signal` rejects the promise with its reason (an AbortError when the reason is not an Error) before any
 * work when already aborted, else as soon as it aborts: a storage read under way on a worker thread cannot
 * be interrupted, so it is dropped (its memory freed) when it ends; nothing loaded so far is kept.
 */
export async function loadAsync(file: CheckpointInput, opts: LoadAsyncOptions = {}): Promise<PyValue> {
  checkOptions('loadAsync', opts, LOAD_ASYNC_OPTIONS);
  const what = `loading ${typeof file === 'string' ? file : opts.name ?? '<buffer>'}`;
  throwIfAborted(opts.signal, what);
  if (typeof file === 'string') {
    const r = resolveCheckpoint(file);
    if (r.kind === 'index') {
      const ck = ShardedCheckpoint.open(r.file, pickOptions(opts, SHARDED_OPEN));
      try {
        return await ck.loadAllAsync({ signal: opts.signal, onProgress: opts.onProgress });
      } finally { ck.close(); }
    }
    if (checkpointFormat(r.file) === 'torch') return loadTorchAsync(r.file, opts);
  }
  return load(file, pickOptions(opts, LOAD_OPTIONS));
}

/** Every tensor of a tree by dotted name, in order (others are skipped). */
export function flattenTensors(tree: unknown): OrderedDict<string, Tensor> {
  const out = new OrderedDict<string, Tensor>();
  flattenTree(tree, (name, v) => { if (v instanceof Tensor) out.set(name, v); });
  return out;
}

/**
 * A checkpoint's tensors as a flat Map of dotted names: a state_dict as is, a nested training
 * checkpoint as 'model.fc.weight', 'optimizer.state.0.exp_avg', ...; non-tensor values are dropped.
 */
export function loadStateDict(file: CheckpointInput, opts: LoadOptions = {}): OrderedDict<string, Tensor> {
  checkOptions('loadStateDict', opts, LOAD_OPTIONS);
  const tree = load(file, opts);
  const flat = flattenTensors(tree);
  if (flat.size === 0 && !(tree instanceof Map && tree.size === 0)) {
    throw new CheckpointError(typeof file === 'string' ? file : opts.name ?? '<buffer>', 'holds no tensors');
  }
  return flat;
}

/**
 * What a checkpoint holds, without reading tensor data: a file, or a sharded checkpoint (index or folder:
 * every tensor with its shard).
 */
export function inspect(file: string, opts: InspectOptions = {}): InspectResult {
  checkOptions('inspect', opts, INSPECT_OPTIONS);
  const r = resolveCheckpoint(file);
  return r.kind === 'index' ? inspectSharded(r.file, opts) : inspectFile(r.file, opts);
}

/** Writes `value` as a torch.save zip (atomic; an existing file is replaced only with { overwrite: true }). */
export function save(file: string, value: unknown, opts: WriteOptions = {}): void {
  checkOptions('save', opts, WRITE_OPTIONS);
  saveTorch(file, value, opts);
}

/** Converts between torch.save (.pt/.pth/.bin) and .safetensors, by the output's extension. */
export function convert(input: string, output: string, opts: ConvertOptions = {}): { tensors: number; dropped: string[] } {
  checkOptions('convert', opts, CONVERT_OPTIONS);
  const toSafetensors = /\.safetensors$/i.test(output);
  if (!toSafetensors && !/\.(pt|pth|bin|ckpt)$/i.test(output)) {
    throw new Error(`${output}: unknown output format (use .safetensors, or .pt/.pth/.bin for torch.save)`);
  }
  const tree = load(input, { allowGlobals: opts.allowGlobals });
  const flat = flattenTensors(tree);
  const dropped: string[] = [];
  try {
    if (toSafetensors) {
      // safetensors stores each tensor's elements contiguously. A view whose elements overlap (stride 0,
      // expand()) would be materialised far beyond the bytes the file holds: refused, as the safetensors
      // library refuses non-contiguous tensors; a .pt output keeps the storage as is.
      for (const [name, t] of flat) {
        const storageBytes = native.storageInfo(t.handle)[1];
        if (t.nbytes > storageBytes) {
          throw new CheckpointError(input, `tensor '${name}' of shape [${t.shape}] is an expanded view of a ${storageBytes}-byte ` +
            `storage; written to safetensors it would take ${t.nbytes} bytes. Convert to .pt to keep it as a view`);
        }
      }
      flattenTree(tree, (name, v) => { if (!(v instanceof Tensor)) dropped.push(name); });
      const metadata = tree instanceof Map && (tree as any).metadata ? (tree as any).metadata : { format: 'pt' };
      saveSafetensors(output, flat, { overwrite: opts.overwrite, metadata });
    } else {
      // From safetensors (or a flat state_dict) to torch.save: an OrderedDict, as model.state_dict() is,
      // keeping a state_dict's _metadata (its attrs), as torch.save(torch.load(x)) does.
      let out: unknown = tree;
      if (tree instanceof Map && flat.size === tree.size) {
        const od = new OrderedDict(flat);
        if (tree instanceof OrderedDict && tree.attrs) od.attrs = tree.attrs;
        out = od;
      }
      saveTorch(output, out, { overwrite: opts.overwrite });
    }
  } catch (e) {
    // The writers refuse values with a TypeError (too deep, a global outside their table): those values
    // came from the input, so the error names it.
    if (e instanceof TypeError) throw new CheckpointError(input, `cannot convert: ${e.message}`, { cause: e });
    throw e;
  } finally {
    for (const t of flat.values()) t.dispose();
  }
  return { tensors: flat.size, dropped };
}
