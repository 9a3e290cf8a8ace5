// The data-parallel Fisher diagonal: every rank runs the ordinary engine (fisherDiagonal) over its share
// of the data (shard.ts) with reduction 'sum', then the per-rank sums and example counts are all-reduced,
// so every rank holds the Fisher of the whole data set; rank 0 writes it (atomically) when asked.
// mc: rank r seeds libtorch with seed + r (seed: the option, or when absent a random one drawn by rank 0
// and broadcast), so a run is reproducible from the seed recorded in the result's metadata. The result
// equals the single-process one up to float32 summation order for empirical, exact and batched; for mc
// it equals the sum of single-process runs over each rank's share with seed + r.
import { OptionError, DistributedError } from '../errors';
import { FISHER_OPTIONS, fisherDiagonal, FisherOptions } from '../fisher/diagonal';
import { Batch, FisherData } from '../fisher/data';
import { FisherDiagonal } from '../fisher/result';
import { uniqueParams } from '../fisher/params';
import { Module } from '../nn/module';
import { noGrad } from '../autograd';
import { tensor, zerosLike } from '../tensor';
import { Tensor } from '../tensor/tensor';
import { getProcessGroup, INIT_OPTIONS, InitOptions, ProcessGroup } from './group';
import { checkOptions, optionKeys, pickOptions } from '../options';
import { batchRanges, exampleIndices, SafetensorsFolder, shardData } from './shard';

export interface DistributedFisherOptions extends InitOptions {
  /** The group to use (default: the default group, else one joined from the environment and left after). */
  group?: ProcessGroup;
  /** Rank 0 writes the result here (safetensors, atomically) once every rank's sums are in. */
  out?: string;
  overwrite?: boolean;
}
const DISTRIBUTED_FISHER_OPTIONS = optionKeys<DistributedFisherOptions>('fisherDiagonal.distributed', {
  group: true, out: true, overwrite: true,
  backend: true, timeoutMs: true, rank: true, worldSize: true, localRank: true, masterAddr: true, masterPort: true,
});

function isBatch(d: unknown): d is Batch {
  return typeof d === 'object' && d !== null && (d as Batch).x instanceof Tensor && (d as Batch).y instanceof Tensor;
}

/** Examples (or, byBatch, batches) in this rank's share when known without reading the data. */
function shareSize(data: unknown, batchSize: number, rank: number, W: number, byBatch: boolean): number | null {
  const n = data instanceof SafetensorsFolder ? data.total : isBatch(data) ? data.x.shape[0] : null;
  if (n === null) return null;
  return byBatch ? batchRanges(n, batchSize, { rank, worldSize: W }).length : exampleIndices(n, { rank, worldSize: W }).length;
}

/** Counts the examples an iterable of batches yields (to tell an empty share from an empty data set). */
function counting(data: FisherData, seen: { n: number }): FisherData {
  return (async function* () {
    for await (const b of data as AsyncIterable<Batch>) { seen.n += b.x.shape[0]; yield b; }
  })();
}

async function randomSeed(g: ProcessGroup): Promise<number> {
  const t = tensor([g.rank === 0 ? Math.floor(Math.random() * 2 ** 31) : 0], { dtype: 'int64' });
  try {
    await g.broadcast(t, 0);
    return Number(t.item());
  } finally { t.dispose(); }
}

export async function distributedFisher(model: Module, data: FisherData | SafetensorsFolder,
  o: FisherOptions & { distributed?: boolean | DistributedFisherOptions }): Promise<FisherDiagonal> {
  checkOptions('distributedFisher', o, FISHER_OPTIONS);
  const d: DistributedFisherOptions = typeof o.distributed === 'object' ? o.distributed : {};
  checkOptions('fisherDiagonal: distributed', d, DISTRIBUTED_FISHER_OPTIONS);
  const owned = !d.group && !getProcessGroup();
  const g = d.group ?? getProcessGroup() ?? await ProcessGroup.init(pickOptions(d, INIT_OPTIONS));
  const { rank, worldSize: W } = g;
  const variant = o.variant ?? 'empirical', batchSize = o.batchSize ?? 64, byBatch = variant === 'batched';
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new OptionError(`batchSize must be a positive integer, got ${batchSize}`);
  let F: FisherDiagonal | null = null;
  try {
    const seed = variant === 'mc' ? (o.seed ?? await randomSeed(g)) : o.seed;
    const local: FisherOptions = { ...o, distributed: false, reduction: 'sum', seed: variant === 'mc' ? seed! + rank : o.seed, batchSize } as FisherOptions;
    const known = shareSize(data, batchSize, rank, W, byBatch);
    const seen = { n: 0 };
    const shard = shardData(data, batchSize, { rank, worldSize: W }, byBatch);
    const input = known === null ? counting(shard, seen) : shard;
    try {
      if (known !== 0) F = await fisherDiagonal(model, input, local);
    } catch (e) {
      // An iterable whose share turned out empty: this rank contributes zeros, as an empty known share does.
      if (!(known === null && seen.n === 0 && /held no examples/.test((e as Error).message))) throw e;
    } finally {
      if (isBatch(shard) && shard !== data) { shard.x.dispose(); shard.y.dispose(); }
    }
    if (!F) {
      // Keyed exactly as the engine keys its result on the other ranks: one entry per tensor, tied names once.
      const named = uniqueParams(model, o.params);
      F = new FisherDiagonal(named.map(({ name, tensor: t }) => [name, noGrad(() => zerosLike(t))]), { source: 'fisher', variant, N: 0, batchSize });
    }
    // The sums: one all-reduce per tensor, in the model's parameter order (the same on every rank).
    const N = tensor([F.meta.N ?? 0], { dtype: 'float64' });
    await g.allReduce(N);
    const total = Number(N.item());
    N.dispose();
    if (total === 0) throw new DistributedError('fisherDiagonal: the data held no examples (on any rank)', undefined);
    for (const t of F.values()) await g.allReduce(t);
    const reduction = o.reduction ?? 'sum';
    if (reduction === 'mean') for (const t of F.values()) t.div_(total);
    F.meta = {
      ...F.meta, N: total, reduction, worldSize: W, backend: g.backend,
      sharding: byBatch ? `batches b -> rank b mod ${W}` : `examples i -> rank i mod ${W}`,
      ...(variant === 'mc' ? { seed, seedRule: 'rank r draws with seed + r' } : {}),
    };
    if (d.out !== undefined) await writeOnRankZero(g, F, d.out, !!d.overwrite);
    return F;
  } catch (e) {
    F?.dispose();
    // Leaving the group closes this rank's connections, so the others fail now rather than at their timeout.
    // A failure of this rank's own (not a collective's): tell the others why and leave, so they stop now.
    if (!(e instanceof DistributedError)) await g.abort((e as Error)?.message ?? String(e)).catch(() => undefined);
    else if (owned) await g.destroy().catch(() => undefined);
    throw e;
  } finally {
    if (owned && !g.destroyed) await g.destroy();
  }
}

/** Rank 0 saves; then it tells the others whether the file is there, so a failed write fails every rank. */
async function writeOnRankZero(g: ProcessGroup, F: FisherDiagonal, out: string, overwrite: boolean): Promise<void> {
  let err: unknown = null;
  if (g.rank === 0) {
    try { F.save(out, { overwrite }); } catch (e) { err = e; }
  }
  const ok = tensor([err ? 0 : 1], { dtype: 'int64' });
  try {
    await g.broadcast(ok, 0);
    if (err) throw err;
    if (Number(ok.item()) !== 1) throw new DistributedError(`rank 0 could not write ${out}; nothing was written`, 0);
  } finally { ok.dispose(); }
}
