// Σ_n g_n² for Conv1d/Conv2d: unfold the input into patches (aten::im2col; Conv1d as a 1×L image), then
// per sample G_n = δ_n · patches_nᵀ (per group), squared and summed: the spatial positions share the
// weight, so each sample's gradient is summed over positions before squaring.
import { callOp, Tensor } from '../../tensor/tensor';
import { tidy } from '../../tensor/scope';
import { SumSq, chunked } from './common';
import { LayerInfo } from './layer-info';

export function convSumSq(info: LayerInfo, x: Tensor, d: Tensor, weightShape: number[], params: string[]): SumSq {
  const out: SumSq = {};
  const B = x.shape[0], O = d.shape[1], g = info.groups ?? 1;
  const d3 = d.flatten(2);  // [B, O, L]
  if (params.includes('weight')) {
    const one = info.kind === 'Conv1d';
    const img = one ? x.unsqueeze(2) : x;
    const k = one ? [1, info.kernel![0]] : info.kernel!;
    const dil = one ? [1, info.dilation![0]] : info.dilation!;
    const pad = one ? [0, info.padding![0]] : info.padding!;
    const str = one ? [1, info.stride![0]] : info.stride!;
    const ck = weightShape.slice(1).reduce((a, b) => a * b, 1);  // C/g · kernel
    out.weight = chunked(B, O * ck * 4 + ck * g * d3.shape[2] * 4, (s, n) => tidy(() => {
      const patches: Tensor = callOp('aten::im2col', '', img.narrow(0, s, n), k, dil, pad, str);  // [n, C·k, L]
      const L = patches.shape[2];
      const P = patches.view([n, g, ck, L]);
      const D = d3.narrow(0, s, n).reshape([n, g, O / g, L]);
      return D.matmul(P.transpose(2, 3)).square().sum(0).reshape(weightShape);  // [g, O/g, ck] -> weight
    }));
  }
  if (params.includes('bias')) out.bias = d3.sum(2).square().sum(0);
  return out;
}
