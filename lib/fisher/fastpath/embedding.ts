// Σ_n g_n² for nn.Embedding: the gradient of row v for sample n is the sum of δ at the positions where
// sample n looks up v. With one index per sample that is δ itself (scatter δ² into rows); with several,
// sum per (sample, row) pair first: unique keys n·V + v, index_add, square, scatter by row. The padding
// row gets no gradient, as in PyTorch's embedding backward.
import { callOp, Tensor } from '../../tensor/tensor';
import { zeros } from '../../tensor/create';
import { Acc } from './common';
import { LayerInfo } from './layer-info';

export function embeddingSumSq(info: LayerInfo, idx: Tensor, d: Tensor, weightShape: number[], acc: Acc, scale: number): void {
  const w = acc.weight;
  if (!w) return;
  const [V, D] = weightShape;
  const B = idx.shape[0];
  const ix = idx.long().reshape([B, -1]);  // [B, S]
  let dd = d.reshape([B, -1, D]);          // [B, S, D]
  if (info.paddingIdx !== null && info.paddingIdx !== undefined) {
    const pad = info.paddingIdx < 0 ? info.paddingIdx + V : info.paddingIdx;
    dd = dd.mul(ix.ne(pad).unsqueeze(2).to(dd.dtype));
  }
  if (ix.shape[1] === 1) {
    callOp('aten::index_add_', '', w, 0, ix.flatten(), dd.flatten(0, 1).square(), scale);
    return;
  }
  const sampleIdx = callOp<Tensor>('aten::arange', '', B, 4, null, ix.device, null).unsqueeze(1).mul(V);
  const keys = ix.add(sampleIdx).flatten();
  const [uniq, inverse] = callOp('aten::_unique2', '', keys, true, true, false) as Tensor[];
  const sums = zeros([uniq.shape[0], D], { dtype: d.dtype, device: d.device });
  callOp('aten::index_add_', '', sums, 0, inverse.flatten(), dd.flatten(0, 1), 1);
  callOp('aten::index_add_', '', w, 0, uniq.remainder(V), sums.square(), scale);
}
