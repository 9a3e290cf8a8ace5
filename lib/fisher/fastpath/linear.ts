// Σ_n g_n² for nn.Linear from its input a and output gradient δ (BackPACK's sum_grad_squared/linear.py).
// Without shared dims: weight (δ∘δ)ᵀ(a∘a), bias Σ_n δ_n². With shared (sequence) dims the per-sample
// gradient δ_nᵀ a_n sums over positions before squaring, so it is formed per sample (bmm), in chunks.
import { Tensor } from '../../tensor/tensor';
import { tidy } from '../../tensor/scope';
import { SumSq, chunked } from './common';

export function linearSumSq(a: Tensor, d: Tensor, params: string[]): SumSq {
  const out: SumSq = {};
  if (a.ndim === 2) {
    const d2 = d.square();
    if (params.includes('weight')) out.weight = d2.t().mm(a.square());
    if (params.includes('bias')) out.bias = d2.sum(0);
    return out;
  }
  const a3 = a.flatten(1, -2), d3 = d.flatten(1, -2);  // [B, S, in], [B, S, out]
  if (params.includes('weight')) {
    const perSample = a3.shape[2] * d3.shape[2] * 4;
    out.weight = chunked(a3.shape[0], perSample, (s, n) => tidy(() =>
      d3.narrow(0, s, n).transpose(1, 2).bmm(a3.narrow(0, s, n)).square().sum(0)));
  }
  if (params.includes('bias')) out.bias = d3.sum(1).square().sum(0);
  return out;
}
