// transformers' Adafactor: for a parameter of 2 or more dims it keeps only the row and column means of
// its second moment, exp_avg_sq_row (shape[:-1]) and exp_avg_sq_col (shape[:-2] + shape[-1:]), each an
// average of ḡ² + eps[0] with a step-dependent decay β2_t = 1 - t^decay_rate (β2_1 = 0: no start-up bias,
// so no bias correction). It updates with _approx_sq_grad(row, col) = rsqrt of the rank-1 estimate
//   v̂ = (row / row.mean(-1, keepdim)).unsqueeze(-1) * col.unsqueeze(-2)
// which is rebuilt here with the same operations in the same order; 1-d parameters keep a full
// exp_avg_sq. Output: B·v̂ (N·B·v̂).
import { OptimizerStateError } from '../../../errors';
import { Tensor } from '../../../tensor/tensor';
import { AccumulatorRule, tensorOf, stepOf, times } from './types';

function estimate(row: Tensor, col: Tensor): Tensor {
  const mean = row.mean(-1, true);
  const r = row.div(mean);
  const ru = r.unsqueeze(-1);
  const cu = col.unsqueeze(-2);
  const v = ru.mul(cu);
  for (const t of [mean, r, ru, cu]) t.dispose();
  return v;
}

export const adafactor: AccumulatorRule = {
  kind: 'adafactor',
  accumulator: 'exp_avg_sq_row*exp_avg_sq_col',
  convention: "factored second moment: v = (row / row.mean(-1)) outer col, the estimate whose rsqrt transformers' _approx_sq_grad uses (1-d parameters: exp_avg_sq); output = B*v (N*B*v)",
  matches: (keys, groups) => keys.has('exp_avg_sq_row') || (keys.has('exp_avg_sq') && groups.some((g) => g.hyper.has('decay_rate'))),
  paramShape(e) {
    const row = tensorOf(e, 'exp_avg_sq_row');
    const col = tensorOf(e, 'exp_avg_sq_col');
    if (row && col) return [...row.shape, col.shape[col.shape.length - 1]];
    return tensorOf(e, 'exp_avg_sq')?.shape ?? null;
  },
  take(e, _g, name, ctx) {
    const row = tensorOf(e, 'exp_avg_sq_row');
    const col = tensorOf(e, 'exp_avg_sq_col');
    const factor = ctx.multiplier;
    if (row && col) {
      const v = estimate(row.detach(), col.detach());
      const out = times(v, factor);
      v.dispose();
      return { tensor: out, factor, step: stepOf(e) };
    }
    const full = tensorOf(e, 'exp_avg_sq');
    if (!full) throw new OptimizerStateError(`squisher: parameter '${name}' has neither exp_avg_sq_row/col nor exp_avg_sq (keys: ${[...e.keys()].join(', ')})`);
    return { tensor: times(full, factor), factor, step: stepOf(e) };
  },
};
