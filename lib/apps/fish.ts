// FISH mask (Sung, Nair & Raffel 2021): fine-tune only the k parameters with the largest Fisher, chosen
// globally across all tensors; the others keep their pre-trained values because their gradients are
// zeroed before every optimizer step (maskGradients in prune.ts does that for any bool mask).
import { noGrad } from '../autograd';
import { Tensor, callOp, cat, keep, tidy, zerosLike } from '../tensor';
import { NamedTensors, checkFraction } from './named';
import { OptionError } from '../errors';
import { checkOptions, optionKeys } from '../options';

export interface FishMaskOptions {
  /** Fraction of all entries to keep trainable, in (0, 1] … */
  keep?: number;
  /** … or an exact count k. */
  k?: number;
  /** Only these names take part (default: every tensor of the Fisher). */
  names?: string[];
}
const FISH_OPTIONS = optionKeys<FishMaskOptions>('fishMask', { keep: true, k: true, names: true });

/** Bool masks (true = trainable) selecting the global top-k of the Fisher. */
export function fishMask(fisher: NamedTensors, o: FishMaskOptions): NamedTensors {
  checkOptions('fishMask', o, FISH_OPTIONS);
  const names = o.names ?? [...fisher.keys()];
  if (names.length === 0) throw new OptionError('fishMask: the Fisher holds no tensors');
  for (const n of names) if (!fisher.has(n)) throw new OptionError(`fishMask: the Fisher has no tensor '${n}'`);
  const total = names.reduce((a, n) => a + fisher.get(n)!.numel, 0);
  let k: number;
  if (o.k !== undefined) {
    if (!Number.isInteger(o.k) || o.k < 0 || o.k > total) throw new OptionError(`fishMask: k must be an integer in [0, ${total}], got ${o.k}`);
    k = o.k;
  } else if (o.keep !== undefined) {
    checkFraction('fishMask: keep', o.keep);
    k = Math.round(o.keep * total);
  } else throw new OptionError('fishMask: give `keep` (a fraction) or `k` (a count)');
  return noGrad(() => tidy(() => {
    const flat = cat(names.map((n) => fisher.get(n)!.reshape([-1]).to('float64')));
    const on = zerosLike(flat).bool();
    if (k > 0) callOp('aten::index_fill_', 'int_Scalar', on, 0, flat.topk(k, 0, true, false).indices, true);
    const out = new Map<string, Tensor>();
    let off = 0;
    for (const n of names) {
      const f = fisher.get(n)!;
      out.set(n, keep(on.slice(0, off, off + f.numel).reshape(f.shape).clone()));
      off += f.numel;
    }
    return out;
  }));
}
