// Σ_n g_n² for the affine parameters of LayerNorm and (eval-mode) BatchNorm: y = γ·x̂ + β, so the
// per-sample gradients are Σ_positions δ·x̂ (γ) and Σ_positions δ (β), squared and summed over samples.
// x̂ is recomputed from the layer's input exactly as the layer normalises it.
import { Tensor } from '../../tensor/tensor';
import { Acc } from './common';
import { LayerInfo } from './layer-info';

export function layerNormSumSq(info: LayerInfo, x: Tensor, d: Tensor, acc: Acc, scale: number): void {
  const nd = info.normalizedShape!.length;
  const normDims = Array.from({ length: nd }, (_, i) => x.ndim - nd + i);
  const shared = Array.from({ length: x.ndim - nd - 1 }, (_, i) => i + 1);  // dims between batch and normalised
  const red = (t: Tensor): Tensor => (shared.length ? t.sum(shared) : t);
  if (acc.weight) {
    const mean = x.mean(normDims, true);
    const xhat = x.sub(mean).mul(x.var(normDims, true, 0).add(info.eps!).rsqrt());
    acc.weight.add_(red(d.mul(xhat)).square().sum(0), scale);
  }
  if (acc.bias) acc.bias.add_(red(d).square().sum(0), scale);
}

export function batchNormSumSq(info: LayerInfo, x: Tensor, d: Tensor, acc: Acc, scale: number): void {
  const C = x.shape[1];
  const bshape = [1, C, ...Array(x.ndim - 2).fill(1)];
  const spatial = Array.from({ length: x.ndim - 2 }, (_, i) => i + 2);
  const red = (t: Tensor): Tensor => (spatial.length ? t.sum(spatial) : t);
  if (acc.weight) {
    const xhat = x.sub(info.runningMean!.reshape(bshape)).mul(info.runningVar!.add(info.eps!).rsqrt().reshape(bshape));
    acc.weight.add_(red(d.mul(xhat)).square().sum(0), scale);
  }
  if (acc.bias) acc.bias.add_(red(d).square().sum(0), scale);
}
