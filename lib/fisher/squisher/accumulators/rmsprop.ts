// RMSprop: square_avg = α·s + (1-α)·ḡ² (PyTorch's alpha, default 0.99), the same exponential average of
// ḡ² as Adam's exp_avg_sq with β2 = α, starting at 0. Output: B·square_avg (N·B·...), optionally divided
// by 1-α^t. `centered` keeps a separate grad_avg; square_avg is still the uncentred E[ḡ²]. L2
// weight_decay folds wd·θ into ḡ.
import { OptimizerStateError } from '../../../errors';
import { pyPow } from '../../../optim/libm';
import { Group, num } from '../optimizer-state';
import { AccumulatorRule, tensorOf, stepOf, times } from './types';

function alpha(groups: Group[]): number {
  const set = new Set(groups.map((g) => num(g.hyper.get('alpha') ?? NaN)));
  if (set.size !== 1 || set.has(NaN)) throw new OptimizerStateError(`squisher: the RMSprop parameter groups need one alpha; found ${[...set].join(', ')}`);
  return [...set][0];
}

export const rmsprop: AccumulatorRule = {
  kind: 'rmsprop',
  accumulator: 'square_avg',
  convention: 'square_avg is an EMA (alpha) of the squared batch-mean gradient; output = B*square_avg (N*B*...), optionally /(1-alpha^step)',
  matches: (keys) => keys.has('square_avg'),
  paramShape: (e) => tensorOf(e, 'square_avg')?.shape ?? null,
  decay: alpha,
  take(e, g, name, ctx) {
    const t = tensorOf(e, 'square_avg');
    if (!t) throw new OptimizerStateError(`squisher: parameter '${name}' has no square_avg (keys: ${[...e.keys()].join(', ')})`);
    let factor = ctx.multiplier;
    if (ctx.biasCorrection) factor = factor / (1 - pyPow(alpha([g]), ctx.step));
    return { tensor: times(t, factor), factor, step: stepOf(e) };
  },
};
