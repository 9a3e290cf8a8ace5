// Distributed pruning of checkpoints too large for one process: tensor i goes to rank i mod W, each rank
// scores its prunable tensors (saliency(), as pruneMasks does), and the ranks agree on what to remove:
//  - scope 'layer': each tensor on its own, exactly as pruneMasks (round(sparsity·n) lowest per tensor);
//  - scope 'global': the k = round(sparsity·N) lowest scores over all ranks, without gathering them: a
//    bisection over the scores' float32 bit patterns (order-preserving as integers) finds the k-th lowest
//    value v with one all-reduced count per step (32 steps); entries below v go, and of the entries equal
//    to v, the first ones in tensor order then position, as pruneMasks' topk breaks ties.
// Scores are compared as float32 (saliencies of float32 checkpoints are float32). Each rank writes its
// pruned tensors as its shard of a sharded safetensors folder (sharded.ts).
import { noGrad } from '../autograd';
import { TensorSource } from '../apps/merge';
import { pruneMasks, PruneMethod, PruneScope, saliency } from '../apps/prune';
import { checkFraction } from '../apps/named';
import { DistributedError, OptionError } from '../errors';
import { checkOptions, optionKeys } from '../options';
import { callOp, onesLike, tensor, tidy } from '../tensor';
import { manualSeed } from '../device';
import { Tensor } from '../tensor/tensor';
import { DTYPE_CODE } from '../tensor/dtype';
import { InitOptions, ProcessGroup, withGroup } from './group';
import { writeSharded } from './sharded';

export interface DistributedPruneOptions extends InitOptions {
  sparsity: number;
  method?: PruneMethod;
  scope?: PruneScope;
  /** Names to prune, or a pattern (default: every `*.weight` with 2 or more dimensions). */
  prunable?: string[] | RegExp;
  /** method 'random': rank r seeds seed + r (so not the single-process draw). */
  seed?: number;
  group?: ProcessGroup;
  /** The output folder (a sharded safetensors checkpoint of the pruned tensors, every tensor included). */
  out: string;
  overwrite?: boolean;
  metadata?: Record<string, string>;
}
const DISTRIBUTED_PRUNE_OPTIONS = optionKeys<DistributedPruneOptions>('distributedPrune', {
  sparsity: true, method: true, scope: true, prunable: true, seed: true, group: true, out: true, overwrite: true, metadata: true,
  backend: true, timeoutMs: true, rank: true, worldSize: true, localRank: true, masterAddr: true, masterPort: true,
});

export interface DistributedPruneResult { out: string; mine: string[]; removed: number; prunable: number; }

/** Float32 scores as int64 keys that order as the floats do (negative floats mirrored below zero). */
function keysOf(score: Tensor): Tensor {
  return tidy(() => {
    const bits = (callOp('aten::view', 'dtype', score.to('float32').contiguous().reshape([-1]), DTYPE_CODE.int32) as Tensor).to('int64');
    // b >= 0: b; b < 0 (a negative float, lower the larger its magnitude bits): -(b & 0x7fffffff) - 1
    const mirrored = (callOp('aten::bitwise_and', 'Scalar', bits, 0x7fffffff) as Tensor).neg().sub(1);
    return callOp('aten::where', 'self', bits.lt(0), mirrored, bits) as Tensor;
  });
}

export async function distributedPrune(model: TensorSource, fisher: TensorSource | null, o: DistributedPruneOptions): Promise<DistributedPruneResult> {
  checkOptions('distributedPrune', o, DISTRIBUTED_PRUNE_OPTIONS);
  checkFraction('sparsity', o.sparsity);
  const method = o.method ?? 'fisher', scope = o.scope ?? 'global';
  if (scope !== 'global' && scope !== 'layer') throw new OptionError(`scope must be 'global' or 'layer', got '${scope}'`);
  if (method === 'fisher' && !fisher) throw new OptionError("distributedPrune: method 'fisher' needs a Fisher diagonal");
  if (!o.out) throw new OptionError('distributedPrune: `out` (the output folder) is required');
  // (A rank's own failure while making its shard is reported to every rank by writeSharded.)
  return withGroup(o, async (g) => {
    const res: DistributedPruneResult = { out: o.out, mine: [], removed: 0, prunable: 0 };
    const names = model.names();
    if (Array.isArray(o.prunable)) for (const n of o.prunable) if (!names.includes(n)) throw new OptionError(`distributedPrune: no tensor '${n}'`);
    if (o.seed !== undefined) manualSeed(o.seed + g.rank);
    await writeSharded(g, names, o, async (mine) => {
      res.mine = mine;
      const params = new Map<string, Tensor>();
      const fishers = new Map<string, Tensor>();
      const keys = new Map<string, Tensor>();
      try {
        // Reading and scoring can fail on one rank (a missing or misshapen Fisher): every rank says how it
        // went before the global threshold's collectives start, so no rank waits on collectives that differ.
        let err: unknown = null;
        let pr: string[] = [];
        try {
          for (const n of mine) params.set(n, model.get(n));
          const isPrunable = (n: string, t: Tensor): boolean =>
            Array.isArray(o.prunable) ? o.prunable.includes(n) : o.prunable ? o.prunable.test(n) : /(^|\.)weight$/.test(n) && t.ndim >= 2;
          pr = mine.filter((n) => isPrunable(n, params.get(n)!));
          if (method === 'fisher') for (const n of pr) fishers.set(n, fisher!.get(n));
          if (scope === 'global') {
            for (const n of pr) {
              const s = saliency(method, params.get(n)!, fishers.get(n));
              keys.set(n, noGrad(() => keysOf(s)));
              s.dispose();
            }
          }
        } catch (e) { err = e; }
        if (scope === 'global') {
          const flags = tensor(Array.from({ length: g.worldSize }, (_, i) => (i === g.rank && err ? 1 : 0)), { dtype: 'float64' });
          await g.allReduce(flags);
          const bad = Array.from(flags.toArray() as Float64Array).findIndex((v) => v > 0);
          flags.dispose();
          if (err) throw err;
          if (bad >= 0) throw new DistributedError(`rank ${bad} could not read or score its tensors (see its message); nothing was written`, bad);
        } else if (err) throw err;
        const masks = scope === 'layer'
          ? pr.length ? pruneMasks(params, { sparsity: o.sparsity, method, scope: 'layer', prunable: pr, fisher: fishers }) : new Map<string, Tensor>()
          : await globalMasks(g, names, keys, params, o.sparsity);
        const out = new Map<string, Tensor>();
        for (const [n, p] of params) {
          const m = masks.get(n);
          out.set(n, m ? noGrad(() => p.mul(m)) : p.clone());
          if (m) { res.removed += m.numel - m.countNonzero(); res.prunable += m.numel; m.dispose(); }
        }
        return out;
      } finally {
        for (const t of params.values()) t.dispose();
        for (const t of fishers.values()) t.dispose();
        for (const t of keys.values()) t.dispose();
      }
    });
    const c = tensor([res.removed, res.prunable], { dtype: 'float64' });
    await g.allReduce(c);
    [res.removed, res.prunable] = Array.from(c.toArray() as Float64Array);
    c.dispose();
    return res;
  });
}

/** Masks (true = keep) for this rank's prunable tensors so that the k lowest scores over all ranks go. */
async function globalMasks(g: ProcessGroup, names: string[], keys: Map<string, Tensor>, params: Map<string, Tensor>, sparsity: number): Promise<Map<string, Tensor>> {
  const sumAll = async (vals: number[]): Promise<number[]> => {
    const t = tensor(vals, { dtype: 'float64' });
    await g.allReduce(t);
    const v = Array.from(t.toArray() as Float64Array);
    t.dispose();
    return v;
  };
  const countLe = (mid: number): number => { let c = 0; for (const k of keys.values()) { const b = k.le(mid); c += b.countNonzero(); b.dispose(); } return c; };
  {
    const [total] = await sumAll([[...keys.values()].reduce((a, k) => a + k.numel, 0)]);
    const k = Math.round(sparsity * total);
    const masks = new Map<string, Tensor>();
    if (k === 0) { for (const [n] of keys) masks.set(n, noGrad(() => tidy(() => onesLike(params.get(n)!).bool()))); return masks; }
    // The smallest key K with count(key <= K) >= k, over every rank.
    let lo = -(2 ** 31) - 1, hi = 2 ** 31 - 1;  // count(<= lo) < k <= count(<= hi)
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      const [c] = await sumAll([countLe(mid)]);
      if (c >= k) hi = mid; else lo = mid;
    }
    const K = hi;
    // Ties at K: the first `need` of them in global (tensor, position) order go.
    const eq = names.map((n) => { const key = keys.get(n); if (!key) return 0; const b = key.eq(K); const c = b.countNonzero(); b.dispose(); return c; });
    const [below] = await sumAll([countLe(K - 1)]);
    const eqAll = await sumAll(eq);
    let need = k - below;
    for (let i = 0; i < names.length; i++) {
      const key = keys.get(names[i]);
      const take = Math.max(0, Math.min(eqAll[i], need));
      need -= eqAll[i];
      if (!key) continue;
      masks.set(names[i], noGrad(() => tidy(() => {
        const tie = key.eq(K);
        // the first `take` ties of this tensor: those whose running count of ties is <= take
        const first = (callOp('aten::cumsum', '', tie.to('int64'), 0, null) as Tensor).le(take).logicalAnd(tie);
        return key.lt(K).logicalOr(first).logicalNot().reshape(params.get(names[i])!.shape);
      })));
    }
    return masks;
  }
}
