// Writing one checkpoint from many ranks: each rank writes the tensors it owns as one shard of a Hugging
// Face-style sharded safetensors folder (OUT/model-0000r-of-0000W.safetensors + model.safetensors.index.json,
// the layout transformers' from_pretrained reads), into a hidden staging folder beside OUT; once every
// shard is in, rank 0 writes the index and renames the folder to OUT. OUT appears complete or not at all;
// a failure on any rank removes the staging folder. The ranks must share OUT's filesystem.
import * as fs from 'fs';
import * as path from 'path';
import { DistributedError, OptionError } from '../errors';
import { inspectSafetensors, loadSafetensors, saveSafetensors } from '../io/safetensors';
import { dispose, tensor } from '../tensor';
import { Tensor } from '../tensor/tensor';
import type { TensorSource } from '../apps/merge';
import { ProcessGroup } from './group';

export const INDEX_FILE = 'model.safetensors.index.json';

/** Tensor i goes to rank i mod W. */
export function assignByIndex(names: string[], rank: number, worldSize: number): string[] {
  return names.filter((_, i) => i % worldSize === rank);
}

export function shardFileName(rank: number, worldSize: number): string {
  const p = (n: number): string => String(n).padStart(5, '0');
  return `model-${p(rank + 1)}-of-${p(worldSize)}.safetensors`;
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

export interface ShardedWrite { out: string; overwrite?: boolean; metadata?: Record<string, string>; }

/**
 * Every rank calls this with the same `names` (the checkpoint's tensors, in order); `produce(mine)` makes
 * this rank's tensors (names i mod W), which are written and disposed. Resolves on every rank once OUT is
 * published; rejects on every rank if any rank failed, leaving nothing behind.
 */
export async function writeSharded(g: ProcessGroup, names: string[], o: ShardedWrite, produce: (mine: string[]) => Promise<Map<string, Tensor>>): Promise<void> {
  const { rank, worldSize: W } = g;
  const out = path.resolve(o.out);
  let staging = '';
  let myFile = '';
  let failed: unknown = null;
  try {
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

    // This rank's share, made and written; success or failure, every rank reports (no one waits forever).
    let bytes = 0;
    let mine: Map<string, Tensor> | null = null;
    try {
      mine = await produce(assignByIndex(names, rank, W));
      if (mine.size) {
        myFile = path.join(staging, shardFileName(rank, W));
        saveSafetensors(myFile, mine, { metadata: { format: 'pt', ...(o.metadata ?? {}) } });
        for (const x of mine.values()) bytes += x.nbytes;
      }
    } catch (e) { failed = e; } finally { if (mine) dispose(mine); }
    const status = tensor(Array.from({ length: 2 * W }, (_, i) => (i === rank ? (failed ? 1 : 0) : i === W + rank ? bytes : 0)), { dtype: 'float64' });
    await g.allReduce(status);
    const st = Array.from(status.toArray() as Float64Array);
    status.dispose();
    if (failed) throw failed;
    const bad = st.slice(0, W).findIndex((v) => v > 0);
    if (bad >= 0) throw new DistributedError(`rank ${bad} could not make or write its tensors (see its message); nothing was written`, bad);

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
  } catch (e) {
    // Nothing partial is left: each rank removes its own shard; rank 0 the staging folder.
    if (staging && fs.existsSync(staging)) {
      if (myFile) fs.rmSync(myFile, { force: true });
      if (rank === 0) fs.rmSync(staging, { recursive: true, force: true });
      else try { fs.rmdirSync(staging); } catch { /* not empty yet, or gone: rank 0's to remove */ }
    }
    throw e;
  }
}

/** Renames the complete staging folder to OUT (an existing OUT, with overwrite, is moved aside first). */
function publish(staging: string, out: string, overwrite: boolean, token: number): void {
  if (!fs.existsSync(out)) { fs.renameSync(staging, out); return; }
  if (!overwrite) throw new OptionError(`${out} appeared meanwhile; pass overwrite to replace it`);
  const old = path.join(path.dirname(out), `.${path.basename(out)}.old-${token}`);
  fs.renameSync(out, old);
  fs.renameSync(staging, out);
  fs.rmSync(old, { recursive: true, force: true });
}
