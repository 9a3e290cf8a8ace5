import { noGrad } from '../../autograd';
import { ones, zeros, tensor } from '../../tensor/create';
import { callOp, Tensor } from '../../tensor/tensor';
import { Module } from '../module';
import { checkOptions, optionKeys } from '../../options';

export interface BatchNormOptions { eps?: number; momentum?: number; affine?: boolean; trackRunningStats?: boolean; }
const BN_OPTIONS = optionKeys<BatchNormOptions>('BatchNorm', { eps: true, momentum: true, affine: true, trackRunningStats: true });

/** BatchNorm1d/2d: batch statistics in training (updating running stats), running stats in eval. */
export class BatchNorm extends Module {
  readonly eps: number;
  readonly momentum: number;
  constructor(readonly numFeatures: number, o: BatchNormOptions = {}) {
    checkOptions(new.target.name, o, BN_OPTIONS);
    super();
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum ?? 0.1;
    const affine = o.affine ?? true;
    this.registerParameter('weight', affine ? ones([numFeatures]) : null);
    this.registerParameter('bias', affine ? zeros([numFeatures]) : null);
    if (o.trackRunningStats ?? true) {
      this.registerBuffer('running_mean', zeros([numFeatures]));
      this.registerBuffer('running_var', ones([numFeatures]));
      this.registerBuffer('num_batches_tracked', tensor(BigInt64Array.from([0n]), { shape: [] }));
    }
  }
  forward(x: Tensor): Tensor {
    const rm = this.buffer('running_mean'), rv = this.buffer('running_var');
    const useBatch = this.training || !rm;
    if (this.training && rm) noGrad(() => this.buffer('num_batches_tracked')!.add_(1));
    return callOp('aten::batch_norm', '', x, this.maybeParam('weight'), this.maybeParam('bias'), rm, rv, useBatch, this.momentum, this.eps, false);
  }
}
export class BatchNorm1d extends BatchNorm {}
export class BatchNorm2d extends BatchNorm {}

/** LayerNorm over the last dims given by normalizedShape. */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  constructor(normalizedShape: number | number[], readonly eps = 1e-5, elementwiseAffine = true) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
    this.registerParameter('weight', elementwiseAffine ? ones(this.normalizedShape) : null);
    this.registerParameter('bias', elementwiseAffine ? zeros(this.normalizedShape) : null);
  }
  forward(x: Tensor): Tensor {
    return callOp('aten::layer_norm', '', x, this.normalizedShape, this.maybeParam('weight'), this.maybeParam('bias'), this.eps, false);
  }
}
