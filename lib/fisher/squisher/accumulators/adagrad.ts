// Adagrad: sum = initial_accumulator_value + Σ_t ḡ_t², a SUM over the parameter's steps, not an average.
// Output: (sum - initial_accumulator_value) · (B / step) (·N): the mean of ḡ² over the steps, times B, so
// it is on the same scale as Adam's B·v. The initial value is taken off first (it is no gradient
// information). No bias correction applies (bias correction is refused). L2 weight_decay folds wd·θ into ḡ.
import { OptimizerStateError } from '../../../errors';
import { num } from '../optimizer-state';
import { AccumulatorRule, tensorOf, stepOf, times } from './types';

export const adagrad: AccumulatorRule = {
  kind: 'adagrad',
  accumulator: 'sum',
  convention: 'sum is initial_accumulator_value plus the SUM over steps of the squared batch-mean gradient; output = (sum - initial_accumulator_value) * (B/step) (*N)',
  matches: (keys) => keys.has('sum'),
  paramShape: (e) => tensorOf(e, 'sum')?.shape ?? null,
  take(e, g, name, ctx) {
    const t = tensorOf(e, 'sum');
    if (!t) throw new OptimizerStateError(`squisher: parameter '${name}' has no sum (keys: ${[...e.keys()].join(', ')})`);
    const step = stepOf(e);
    if (!(step > 0)) throw new OptimizerStateError(`squisher: parameter '${name}' has Adagrad step ${step}: no gradient was accumulated`);
    const init = num(g.hyper.get('initial_accumulator_value') ?? 0);
    const factor = ctx.multiplier / step;
    if (init === 0) return { tensor: times(t, factor), factor, step };
    const d = t.detach().sub(init);
    const out = times(d, factor);
    d.dispose();
    return { tensor: out, factor, step };
  },
};
