// Σ_n g_n² for nn.Linear from its input a and output gradient δ (BackPACK's sum_grad_squared/linear.py).
// Without shared dims: weight (δ∘δ)ᵀ(a∘a) (one addmm into the sums), bias Σ_n δ_n². With shared
// (sequence) dims the per-sample gradient δ_nᵀ a_n sums over positions before squaring, so it is formed
// per sample (bmm), in chunks.
import { callOp, Tensor } from '../../tensor/tensor';
import { Acc, chunked } from './common';

export function linearSumSq(a: Tensor, d: Tensor, acc: Acc, scale: number): void {
  if (a.ndim === 2) {
    const d2 = d.square();
    if (acc.weight) callOp('aten::addmm_', '', acc.weight, d2.t(), a.square(), 1, scale);
    if (acc.bias) acc.bias.add_(d2.sum(0), scale);
    return;
  }
  const a3 = a.flatten(1, -2), d3 = d.flatten(1, -2);  // [B, S, in], [B, S, out]
  const w = acc.weight;
  if (w) {
    chunked(a3.shape[0], a3.shape[2] * d3.shape[2] * 4, (s, n) =>
      w.add_(d3.narrow(0, s, n).transpose(1, 2).bmm(a3.narrow(0, s, n)).square().sum(0), scale));
  }
  if (acc.bias) acc.bias.add_(d3.sum(1).square().sum(0), scale);
}
