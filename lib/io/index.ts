// Checkpoints in and out: torch.save files, TorchScript archives' tensors, safetensors.
//
// load(file) -> the checkpoint as JS values (see values.ts: dicts are Maps so int keys and order
// survive, OrderedDict for state_dicts, Tuple for tuples, Tensor for tensors); save(file, value)
// writes a torch.save zip that torch.load(weights_only=True) reads; loadStateDict flattens to dotted names.
import { native } from '../native';
import { Tensor } from '../tensor';
import { WriteOptions } from './atomic';
import { loadSafetensors, saveSafetensors } from './safetensors';
import { CheckpointError, openSource } from './source';
import { LoadOptions, archiveLayout, loadTorch, loadTorchAsync, saveTorch, sniff } from './torchsave';
import { loadTorchScript } from './torchscript';
import { flattenTree } from './tree';
import { OrderedDict } from './values';
import { ZipReader } from './zip';

export { OrderedDict, Tuple, tuple, PyFloat, PyComplex, PyGlobal, TensorRef, StorageRef } from './values';
export { CheckpointError } from './source';
export type { LoadOptions, MapLocation } from './torchsave';
export { saveStateDict } from './torchsave';
export type { WriteOptions } from './atomic';
export { loadSafetensors, saveSafetensors, inspectSafetensors, TensorMap } from './safetensors';
export type { SafetensorsEntry, SafetensorsHeader, SafetensorsLoadOptions, SafetensorsSaveOptions } from './safetensors';
export { loadTorchScript, loadTorchScriptParameters } from './torchscript';
export { inspect } from './inspect';
export type { InspectOptions, InspectResult, TensorEntry } from './inspect';
export { PyObject, NumpyArray, NumpyDType } from './inert';
export { flattenTree } from './tree';

/** The format of a checkpoint file, from its bytes (not its name). */
export function checkpointFormat(file: string): 'torch' | 'torchscript' | 'safetensors' | 'legacy' | 'unknown' {
  const src = openSource(file);
  try {
    const k = sniff(src);
    if (k !== 'zip') return k;
    return archiveLayout(new ZipReader(src)).torchscript ? 'torchscript' : 'torch';
  } finally {
    src.close();
  }
}

/**
 * Loads a checkpoint: a torch.save file (any nesting of dicts, lists, tuples, tensors, numbers,
 * strings), a TorchScript archive (its parameters and buffers, as an OrderedDict), or a safetensors
 * file (a TensorMap). mapLocation: 'cpu' (default), 'cuda' / 'cuda:N', or 'keep'.
 */
export function load(file: string, opts: LoadOptions = {}): unknown {
  const fmt = checkpointFormat(file);
  if (fmt === 'torchscript') return loadTorchScript(file, { mapLocation: opts.mapLocation });
  if (fmt === 'safetensors') {
    const loc = opts.mapLocation ?? 'cpu';
    return loadSafetensors(file, { device: loc === 'keep' ? 'cpu' : loc });
  }
  return loadTorch(file, opts);
}

/**
 * load() with a torch.save file's tensor bytes read on worker threads, so a service's event loop keeps
 * running while a large checkpoint loads. Same result as load(); other formats load as load() does.
 */
export async function loadAsync(file: string, opts: LoadOptions = {}): Promise<unknown> {
  if (checkpointFormat(file) === 'torch') return loadTorchAsync(file, opts);
  return load(file, opts);
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
export function loadStateDict(file: string, opts: LoadOptions = {}): OrderedDict<string, Tensor> {
  const tree = load(file, opts);
  const flat = flattenTensors(tree);
  if (flat.size === 0 && !(tree instanceof Map && tree.size === 0)) {
    throw new CheckpointError(file, 'holds no tensors');
  }
  return flat;
}

/** Writes `value` as a torch.save zip (atomic; an existing file is replaced only with { overwrite: true }). */
export function save(file: string, value: unknown, opts: WriteOptions = {}): void {
  saveTorch(file, value, opts);
}

/** Converts between torch.save (.pt/.pth/.bin) and .safetensors, by the output's extension. */
export function convert(input: string, output: string, opts: WriteOptions & Pick<LoadOptions, 'allowGlobals'> = {}): { tensors: number; dropped: string[] } {
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
      saveSafetensors(output, flat, { ...opts, metadata });
    } else {
      // From safetensors (or a flat state_dict) to torch.save: an OrderedDict, as model.state_dict() is.
      saveTorch(output, tree instanceof Map && flattenTensors(tree).size === tree.size ? new OrderedDict(flat) : tree, opts);
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
