// Adam / AdamW (and amsgrad's max_exp_avg_sq): v = β2·v + (1-β2)·ḡ², an exponential average of ḡ² that
// starts at 0, hence the optional bias correction 1/(1-β2^t). Output: factor·v with factor = B (·N)
// (/(1-β2^t)). Plain Adam's L2 weight_decay folds wd·θ into ḡ, hence into v; AdamW's does not.
import { OptimizerStateError } from '../../../errors';
import { pyPow } from '../../../optim/libm';
import { Group, num } from '../optimizer-state';
import { AccumulatorRule, tensorOf, stepOf, times } from './types';

export const adam: AccumulatorRule = {
  kind: 'adam',
  accumulator: 'exp_avg_sq',
  convention: 'exp_avg_sq is an EMA (beta2) of the squared batch-mean gradient; output = B*v (N*B*v), optionally /(1-beta2^step)',
  matches: (keys) => keys.has('exp_avg_sq'),
  paramShape: (e, useMax) => tensorOf(e, useMax ? 'max_exp_avg_sq' : 'exp_avg_sq')?.shape ?? null,
  decay: (groups) => betas2(groups),
  take(e, g, name, ctx) {
    const t = tensorOf(e, ctx.useMax ? 'max_exp_avg_sq' : 'exp_avg_sq');
    if (!t) {
      throw new OptimizerStateError(ctx.useMax ? `squisher: parameter '${name}' has no max_exp_avg_sq (the optimizer did not use amsgrad)`
        : `squisher: parameter '${name}' has no exp_avg_sq (keys: ${[...e.keys()].join(', ')})`);
    }
    let factor = ctx.multiplier;
    // Python's float ** (C's pow), not V8's Math.pow, which differs by an ulp on many (beta2, step) pairs
    if (ctx.biasCorrection) factor = factor / (1 - pyPow(betas2([g]), ctx.step));
    return { tensor: times(t, factor), factor, step: stepOf(e) };
  },
};

/** The one beta2 of all groups (bias correction and the metadata need a single value). */
export function betas2(groups: Group[]): number {
  const set = new Set(groups.map((g) => { const b = g.hyper.get('betas'); return Array.isArray(b) ? num(b[1]) : NaN; }));
  if (set.size !== 1 || set.has(NaN)) throw new OptimizerStateError(`squisher: the optimizer's parameter groups need one beta2; found ${[...set].join(', ')}`);
  return [...set][0];
}
