// inspect(): what a checkpoint holds (every tensor's dotted name, dtype, shape, storage size, the
// non-tensor values, an optimizer's hyperparameters) without reading any tensor data.
import { DType, DTYPE_SIZE } from '../tensor';
import { flattenTree } from './tree';
import { inspectSafetensors } from './safetensors';
import { CheckpointError, openSource } from './source';
import { archiveLayout, openArchive, sniff } from './torchsave';
import { parseTorchScript } from './torchscript';
import { TensorRef } from './values';
import { inertClassOf } from './inert';
import { ZipReader } from './zip';
import { optionKeys } from '../options';

export interface TensorEntry {
  name: string;
  dtype: DType;
  shape: number[];
  /** Bytes of the tensor's own elements. */
  nbytes: number;
  /** Bytes of the whole storage it views (shared storages are counted once in `totalStorageBytes`). */
  storageBytes: number;
  storageKey?: string;
  storageOffset?: number;
  strides?: number[];
  location?: string;
  /** The shard file that holds it (sharded checkpoints). */
  shard?: string;
}
export interface InspectResult {
  file: string;
  format: 'torch' | 'torchscript' | 'safetensors' | 'sharded';
  /** A sharded checkpoint's shard files (relative to its index), in the index's order. */
  shards?: string[];
  tensors: TensorEntry[];
  /** Non-tensor leaves by dotted path (numbers, strings, booleans, null, ...). */
  values: { name: string; value: unknown }[];
  /** For an optimizer state_dict (a `param_groups` list anywhere): each group's settings, params excluded. */
  hyperparameters: { name: string; group: Record<string, unknown> }[];
  totalStorageBytes: number;
  metadata?: Record<string, string>;
  /** Objects of allow-listed globals (InspectOptions.allowGlobals), by dotted path: read as data, never called. */
  objects?: { name: string; cls: string }[];
}

function refEntry(name: string, v: TensorRef): TensorEntry {
  return {
    name, dtype: v.dtype, shape: v.shape, nbytes: v.numel * DTYPE_SIZE[v.dtype],
    storageBytes: v.storage.numel * DTYPE_SIZE[v.dtype], storageKey: v.storage.key, storageOffset: v.offset,
    strides: v.strides, location: v.storage.location,
  };
}

export interface InspectOptions {
  /** Globals to read as inert data, as for load(): e.g. ['argparse.Namespace']. */
  allowGlobals?: readonly string[];
}
export const INSPECT_OPTIONS = optionKeys<InspectOptions>('inspect', { allowGlobals: true });

export function inspect(file: string, opts: InspectOptions = {}): InspectResult {
  const src = openSource(file);
  try {
    const kind = sniff(src);
    if (kind === 'safetensors') {
      src.close();
      const h = inspectSafetensors(file);
      const tensors = h.tensors.map((e) => ({ name: e.name, dtype: e.dtype, shape: e.shape, nbytes: e.nbytes, storageBytes: e.nbytes }));
      return { file, format: 'safetensors', tensors, values: [], hyperparameters: [], totalStorageBytes: tensors.reduce((a, t) => a + t.nbytes, 0), metadata: h.metadata };
    }
    if (kind === 'zip' && archiveLayout(new ZipReader(src)).torchscript) {
      // Parsed, not run: the same TensorRefs a torch.save file gives, so no tensor data is read either.
      const ts = parseTorchScript(src);
      const tensors = [...ts.parameters, ...ts.buffers].map(([name, v]) => refEntry(name, v));
      let total = 0;
      for (const s of ts.archive.storages.values()) total += s.numel * DTYPE_SIZE[s.dtype];
      return { file, format: 'torchscript', tensors, values: [], hyperparameters: [], totalStorageBytes: total };
    }
    const a = openArchive(src, opts);
    const objects: { name: string; cls: string }[] = [];
    const tensors: TensorEntry[] = [];
    const values: { name: string; value: unknown }[] = [];
    const hyperparameters: { name: string; group: Record<string, unknown> }[] = [];
    flattenTree(a.root, (name, v, parentKey) => {
      if (v instanceof TensorRef) {
        tensors.push(refEntry(name, v));
      } else {
        values.push({ name, value: v });
        const cls = inertClassOf(v);
        if (cls) objects.push({ name, cls });
      }
      void parentKey;
    });
    const visited = new Set<object>(); // each dict once: shared dicts cannot make this exponential
    const findGroups = (v: unknown, name: string, depth: number): void => {
      if (!(v instanceof Map) || depth > 8 || visited.has(v)) return;
      visited.add(v);
      const pg = v.get('param_groups');
      if (Array.isArray(pg)) {
        pg.forEach((g, i) => {
          if (!(g instanceof Map)) return;
          const group: Record<string, unknown> = {};
          for (const [k, x] of g) if (k !== 'params') group[String(k)] = x;
          hyperparameters.push({ name: `${name ? name + '.' : ''}param_groups.${i}`, group });
        });
      }
      for (const [k, x] of v) findGroups(x, name ? `${name}.${String(k)}` : String(k), depth + 1);
    };
    findGroups(a.root, '', 0);
    let total = 0;
    for (const s of a.storages.values()) total += s.numel * DTYPE_SIZE[s.dtype];
    return { file, format: 'torch', tensors, values, hyperparameters, totalStorageBytes: total, objects };
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(file, (e as Error).message);
  } finally {
    src.close();
  }
}
