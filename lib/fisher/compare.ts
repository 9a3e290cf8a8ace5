// compareDiagonals: how alike two Fisher diagonals are (e.g. the Squisher against an exact Fisher):
// Pearson and Spearman correlation, relative L2 error after the best global scale, top-k overlap.
// Per tensor and over all shared entries together. b is the reference: scale = argmin_s ‖s·a - b‖.
import { noGrad } from '../autograd';
import { cat, Tensor } from '../tensor/tensor';
import { tidy } from '../tensor/scope';
import { callOp } from '../tensor/tensor';
import { tensor } from '../tensor/create';
import { OptionError, ShapeError } from '../errors';
import { checkOptions, optionKeys } from '../options';

export interface Similarity {
  n: number;
  pearson: number;
  spearman: number;
  /** ‖s·a - b‖ / ‖b‖ with s the best scale. */
  relL2: number;
  /** s = ⟨a, b⟩ / ⟨a, a⟩. */
  scale: number;
  /** Fraction of b's top k entries that are also in a's top k, for each fraction of entries (key: '1%', ...). */
  topk: Record<string, number>;
}
export interface Comparison { overall: Similarity; perTensor: Record<string, Similarity>; onlyInA: string[]; onlyInB: string[]; }

export interface CompareOptions { /** Fractions for top-k overlap (default 1%, 5%, 10%). */ topk?: number[]; }
const COMPARE_OPTIONS = optionKeys<CompareOptions>('compareDiagonals', { topk: true });

function pearson(x: Tensor, y: Tensor): number {
  const xc = x.sub(x.mean()), yc = y.sub(y.mean());
  const den = xc.norm().item() * yc.norm().item();
  return den > 0 ? xc.dot(yc).item() / den : NaN;
}

/** Ranks 1..n with ties given their average rank (as scipy.stats.rankdata). */
export function averageRanks(x: Tensor): Tensor {
  const { values, indices } = x.sort(0);
  const v = values.toArray() as Float64Array;
  const r = new Float64Array(v.length);
  for (let i = 0; i < v.length;) {
    let j = i;
    while (j + 1 < v.length && v[j + 1] === v[i]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[k] = avg;
    i = j + 1;
  }
  const ranks = x.mul(0);
  ranks.indexPut_([indices], tensor(r, { shape: [v.length], device: x.device }));
  return ranks;
}

function similarity(a: Tensor, b: Tensor, fracs: number[]): Similarity {
  return tidy(() => noGrad(() => {
    const x = a.flatten().to('float64'), y = b.flatten().to('float64');
    const n = x.numel;
    const aa = x.dot(x).item(), ab = x.dot(y).item();
    const scale = aa > 0 ? ab / aa : 0;
    const bn = y.norm().item();
    const relL2 = bn > 0 ? x.mul(scale).sub(y).norm().item() / bn : (x.norm().item() === 0 ? 0 : Infinity);
    const topk: Record<string, number> = {};
    for (const f of fracs) {
      const k = Math.max(1, Math.min(n, Math.round(f * n)));
      const ia = x.topk(k).indices, ib = y.topk(k).indices;
      const mask = callOp('aten::zeros', '', [n], 11 /* bool */, null, x.device, null) as Tensor;
      mask.indexPut_([ia], callOp('aten::ones', '', [k], 11, null, x.device, null));
      topk[`${+(f * 100).toFixed(4)}%`] = mask.index([ib]).countNonzero() / k;
    }
    return { n, pearson: pearson(x, y), spearman: pearson(averageRanks(x), averageRanks(y)), relL2, scale, topk };
  }));
}

export function compareDiagonals(a: Map<string, Tensor>, b: Map<string, Tensor>, o: CompareOptions = {}): Comparison {
  checkOptions('compareDiagonals', o, COMPARE_OPTIONS);
  const fracs = o.topk ?? [0.01, 0.05, 0.1];
  for (const f of fracs) if (!(f > 0 && f <= 1)) throw new OptionError(`compareDiagonals: top-k fractions must be in (0, 1], got ${f}`);
  const shared = [...a.keys()].filter((k) => b.has(k));
  if (!shared.length) {
    throw new OptionError(`compareDiagonals: the two diagonals share no tensor names (a: ${[...a.keys()].slice(0, 4).join(', ')}; b: ${[...b.keys()].slice(0, 4).join(', ')})`);
  }
  for (const k of shared) {
    const sa = a.get(k)!.shape, sb = b.get(k)!.shape;
    if (sa.join() !== sb.join()) throw new ShapeError(`compareDiagonals: '${k}' has shape [${sa}] in a but [${sb}] in b`);
  }
  const perTensor: Record<string, Similarity> = {};
  for (const k of shared) perTensor[k] = similarity(a.get(k)!, b.get(k)!, fracs);
  const overall = tidy(() => similarity(
    cat(shared.map((k) => a.get(k)!.flatten().to('float64').cpu())), cat(shared.map((k) => b.get(k)!.flatten().to('float64').cpu())), fracs));
  return { overall, perTensor, onlyInA: [...a.keys()].filter((k) => !b.has(k)), onlyInB: [...b.keys()].filter((k) => !a.has(k)) };
}
