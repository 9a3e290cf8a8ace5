// Distributed merging of models too large for one process: tensor i (in the first model's order) goes to
// rank i mod W, each rank merges its tensors with mergeModels (reading only those from the sources),
// and writes them as one shard of a Hugging Face-style sharded safetensors checkpoint:
//   OUT/model-0000r-of-0000W.safetensors  (rank r-1's tensors; a rank with none writes no file)
//   OUT/model.safetensors.index.json      ({ metadata: { total_size }, weight_map: { name: file } })
// which transformers' from_pretrained and shardedSource() read. Every rank writes into a hidden staging
// folder beside OUT; once every shard is in, rank 0 writes the index and renames the folder to OUT, so
// OUT appears complete or not at all (the ranks must share OUT's filesystem). Per-model normalisation
// needs each Fisher's global norm: every rank computes it over all of the Fisher's tensors.
import * as fs from 'fs';
import * as path from 'path';
import { mergeModels, MergeOptions, TensorSource } from '../apps/merge';
import { DistributedError, OptionError } from '../errors';
import { inspectSafetensors, loadSafetensors, saveSafetensors } from '../io/safetensors';
import { dispose, tensor } from '../tensor';
import { getProcessGroup, InitOptions, ProcessGroup } from './group';

export const INDEX_FILE = 'model.safetensors.index.json';

export interface DistributedMergeOptions extends MergeOptions, InitOptions {
  /** The group (default: the default group, else one joined from the environment and left after). */
  group?: ProcessGroup;
  /** The output folder (a sharded safetensors checkpoint). */
  out: string;
  /** Replace OUT if it exists. */
  overwrite?: boolean;
  /** Written into every shard's __metadata__. */
  metadata?: Record<string, string>;
}

export interface DistributedMergeResult {
  out: string;
  /** The tensors this rank merged and wrote. */
  mine: string[];
  averagedOnly: string[];
  copied: string[];
}

/** Tensor i goes to rank i mod W. */
export function assignByIndex(names: string[], rank: number, worldSize: number): string[] {
  return names.filter((_, i) => i % worldSize === rank);
}

export function shardFileName(rank: number, worldSize: number): string {
  const p = (n: number): string => String(n).padStart(5, '0');
  return `model-${p(rank + 1)}-of-${p(worldSize)}.safetensors`;
}

function only(src: TensorSource, names: string[]): TensorSource {
  return { label: src.label, names: () => names, get: (n) => src.get(n) };
}

/** A sharded safetensors checkpoint (an index json and its shard files) as a TensorSource. */
export function shardedSource(dir: string): TensorSource {
  const indexFile = path.join(dir, INDEX_FILE);
  let map: Record<string, string>;
  try {
    map = JSON.parse(fs.readFileSync(indexFile, 'utf8')).weight_map;
  } catch (e) {
    throw new OptionError(`${indexFile}: not a sharded safetensors index: ${(e as Error).message}`);
  }
  if (!map || typeof map !== 'object') throw new OptionError(`${indexFile}: no weight_map`);
  const names = Object.keys(map);
  for (const f of new Set(Object.values(map))) {
    if (path.basename(f) !== f) throw new OptionError(`${indexFile}: shard '${f}' is not a file name in the folder`);
    inspectSafetensors(path.join(dir, f));
  }
  return {
    label: dir,
    names: () => names,
    get: (n) => {
      const f = map[n];
      if (!f) throw new OptionError(`${dir}: no tensor '${n}'`);
      return loadSafetensors(path.join(dir, f), { keys: [n] }).get(n)!;
    },
  };
}

export async function distributedMerge(models: TensorSource[], fishers: TensorSource[] | null, o: DistributedMergeOptions): Promise<DistributedMergeResult> {
  if (!o.out) throw new OptionError('distributedMerge: `out` (the output folder) is required');
  if (!models.length) throw new OptionError('distributedMerge: no models given');
  const owned = !o.group && !getProcessGroup();
  const g = o.group ?? getProcessGroup() ?? await ProcessGroup.init(o);
  const { rank, worldSize: W } = g;
  const out = path.resolve(o.out);
  let staging = '';
  let myFile = '';
  let failed: unknown = null;
  try {
    const names = models[0].names();
    for (const m of models.slice(1)) {
      const have = new Set(m.names());
      if (have.size !== names.length || names.some((n) => !have.has(n))) throw new OptionError(`merge: ${m.label} does not have the same tensors as ${models[0].label}`);
    }
    // Rank 0 checks OUT and makes the staging folder; its name reaches the others as a number.
    const token = Math.floor(Math.random() * 2 ** 31);
    let ready = 0;
    if (rank === 0) {
      try {
        if (fs.existsSync(out) && !o.overwrite) throw new OptionError(`${o.out} exists; pass overwrite to replace it`);
        fs.mkdirSync(path.join(path.dirname(out), `.${path.basename(out)}.partial-${token}`));
        ready = 1;
      } catch (e) { failed = e; }
    }
    const t = tensor([ready, token], { dtype: 'int64' });
    await g.broadcast(t, 0);
    const [ok, tok] = Array.from(t.toArray() as BigInt64Array, Number);
    t.dispose();
    if (failed) throw failed;
    if (!ok) throw new DistributedError(`rank 0 could not prepare ${o.out} (see its message)`, 0);
    staging = path.join(path.dirname(out), `.${path.basename(out)}.partial-${tok}`);

    // This rank's share, merged and written; success or failure, every rank reports (no one waits forever).
    const mine = assignByIndex(names, rank, W);
    let merged: Awaited<ReturnType<typeof mergeModels>> | null = null;
    let bytes = 0;
    try {
      merged = await mergeModels(models.map((m) => only(m, mine)), fishers, o);
      if (merged.merged.size) {
        myFile = path.join(staging, shardFileName(rank, W));
        saveSafetensors(myFile, merged.merged, { metadata: { format: 'pt', ...(o.metadata ?? {}) } });
        for (const x of merged.merged.values()) bytes += x.nbytes;
      }
    } catch (e) { failed = e; } finally { if (merged) dispose(merged.merged); }
    const status = tensor(Array.from({ length: 2 * W }, (_, i) => (i === rank ? (failed ? 1 : 0) : i === W + rank ? bytes : 0)), { dtype: 'float64' });
    await g.allReduce(status);
    const st = Array.from(status.toArray() as Float64Array);
    status.dispose();
    if (failed) throw failed;
    const bad = st.slice(0, W).findIndex((v) => v > 0);
    if (bad >= 0) throw new DistributedError(`rank ${bad} could not merge or write its tensors (see its message); nothing was written`, bad);

    // Rank 0 publishes: the index, then the folder under its final name; then everyone hears how it went.
    let done = 0;
    if (rank === 0) {
      try {
        const weightMap: Record<string, string> = {};
        names.forEach((n, i) => { weightMap[n] = shardFileName(i % W, W); });
        const total = st.slice(W).reduce((a, b) => a + b, 0);
        fs.writeFileSync(path.join(staging, INDEX_FILE), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
        publish(staging, out, !!o.overwrite, tok);
        done = 1;
      } catch (e) { failed = e; }
    }
    const pub = tensor([done], { dtype: 'int64' });
    await g.broadcast(pub, 0);
    const published = Number(pub.item());
    pub.dispose();
    if (failed) throw failed;
    if (published !== 1) throw new DistributedError(`rank 0 could not publish ${o.out} (see its message); nothing was written`, 0);
    staging = '';
    return { out, mine, averagedOnly: merged ? merged.averagedOnly : [], copied: merged ? merged.copied : [] };
  } catch (e) {
    // Nothing partial is left: each rank removes its own shard; rank 0 the staging folder.
    if (staging) {
      if (myFile) fs.rmSync(myFile, { force: true });
      if (rank === 0) fs.rmSync(staging, { recursive: true, force: true });
      else try { fs.rmdirSync(staging); } catch { /* not empty yet, or gone: rank 0's to remove */ }
    }
    if (owned) await g.destroy().catch(() => undefined);
    throw e;
  } finally {
    if (owned && !g.destroyed) await g.destroy();
  }
}

/** Renames the complete staging folder to OUT (an existing OUT, with overwrite, is moved aside first). */
function publish(staging: string, out: string, overwrite: boolean, token: number): void {
  if (!fs.existsSync(out)) { fs.renameSync(staging, out); return; }
  if (!overwrite) throw new OptionError(`${out} appeared while merging; pass overwrite to replace it`);
  const old = path.join(path.dirname(out), `.${path.basename(out)}.old-${token}`);
  fs.renameSync(out, old);
  fs.renameSync(staging, out);
  fs.rmSync(old, { recursive: true, force: true });
}
