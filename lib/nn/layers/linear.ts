import { callOp } from '../../tensor/tensor';
import { Tensor } from '../../tensor/tensor';
import { uniformFanIn } from '../init';
import { Module } from '../module';

/** y = x Wᵀ + b, weight [out, in] as in PyTorch. */
export class Linear extends Module {
  constructor(readonly inFeatures: number, readonly outFeatures: number, bias = true) {
    super();
    this.registerParameter('weight', uniformFanIn([outFeatures, inFeatures], inFeatures));
    this.registerParameter('bias', bias ? uniformFanIn([outFeatures], inFeatures) : null);
  }
  get weight(): Tensor { return this.param('weight'); }
  get bias(): Tensor | null { return this.maybeParam('bias'); }
  forward(x: Tensor): Tensor {
    return callOp('aten::linear', '', x, this.param('weight'), this.maybeParam('bias'));
  }
}

/** A lookup table: indices [*] -> rows of weight [num, dim]. */
export class Embedding extends Module {
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, readonly paddingIdx: number | null = null) {
    super();
    const w = callOp('aten::randn', '', [numEmbeddings, embeddingDim]) as Tensor;
    if (paddingIdx !== null) w.select(0, paddingIdx).zero_();
    this.registerParameter('weight', w);
  }
  get weight(): Tensor { return this.param('weight'); }
  forward(idx: Tensor): Tensor {
    return callOp('aten::embedding', '', this.param('weight'), idx, this.paddingIdx ?? -1, false, false);
  }
}
