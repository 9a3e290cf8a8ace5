// Σ_n g_n² for Conv1d/Conv2d. The spatial positions share the weight, so each sample's gradient is
// summed over positions before squaring. The per-sample weight gradients of a chunk come from ONE
// grouped-convolution backward (the trick functorch's conv batching rule uses): fold the batch into
// channels, [1, n·C, ...] against [1, n·O, ...] with groups n·g, giving [n·O, C/g, k...] = every sample's
// gradient. libtorch's convolution kernels do this far faster than im2col + bmm.
import { callOp, Tensor } from '../../tensor/tensor';
import { zeros } from '../../tensor/create';
import { Acc, chunked } from './common';
import { LayerInfo } from './layer-info';

export function convSumSq(info: LayerInfo, x: Tensor, d: Tensor, weightShape: number[], acc: Acc, scale: number): void {
  const B = x.shape[0], O = weightShape[0], g = info.groups ?? 1;
  const w = acc.weight;
  if (w) {
    const per = weightShape.reduce((a, b) => a * b, 1);
    chunked(B, per * 4, (s, n) => {
      const xs = x.narrow(0, s, n), ds = d.narrow(0, s, n);
      const inp = xs.reshape([1, n * xs.shape[1], ...xs.shape.slice(2)]);
      const gout = ds.reshape([1, n * O, ...ds.shape.slice(2)]);
      // only the weight's shape is read: an expanded zero costs no memory
      const wShape = [n * O, ...weightShape.slice(1)];
      const wPlace = zeros([1, ...weightShape.slice(1)], { dtype: x.dtype, device: x.device }).expand(wShape);
      const [, gw] = callOp('aten::convolution_backward', '', gout, inp, wPlace, null, info.stride, info.padding, info.dilation,
        false, weightShape.slice(2).map(() => 0), n * g, [false, true, false]) as Tensor[];
      w.add_(gw.reshape([n, per]).square().sum(0).reshape(weightShape), scale);
    });
  }
  if (acc.bias) acc.bias.add_(d.flatten(2).sum(2).square().sum(0), scale);
}
