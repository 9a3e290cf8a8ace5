// Loss functions with PyTorch's reductions: 'mean' (default), 'sum', 'none' (per-sample).
import { callOp, Tensor } from '../tensor/tensor';
import { OptionError } from '../errors';
import { checkOptions, optionKeys } from '../options';

export type Reduction = 'mean' | 'sum' | 'none';
const REDUCTION: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

function red(r: Reduction | undefined): number {
  const v = REDUCTION[r ?? 'mean'];
  if (v === undefined) throw new OptionError(`reduction must be 'mean', 'sum' or 'none', got '${r}'`);
  return v;
}

export interface CrossEntropyOptions { reduction?: Reduction; labelSmoothing?: number; weight?: Tensor; ignoreIndex?: number; }
const CE_OPTIONS = optionKeys<CrossEntropyOptions>('crossEntropy', { reduction: true, labelSmoothing: true, weight: true, ignoreIndex: true });
export interface NllLossOptions { reduction?: Reduction; weight?: Tensor; ignoreIndex?: number; }
const NLL_OPTIONS = optionKeys<NllLossOptions>('nllLoss', { reduction: true, weight: true, ignoreIndex: true });
export interface ReductionOptions { reduction?: Reduction; }
const REDUCTION_OPTIONS = optionKeys<ReductionOptions>('mseLoss', { reduction: true });

/** Cross-entropy of logits [N, C] against class indices [N] (int64), as F.cross_entropy. */
export function crossEntropy(logits: Tensor, target: Tensor, o: CrossEntropyOptions = {}): Tensor {
  checkOptions('crossEntropy', o, CE_OPTIONS);
  return callOp('aten::cross_entropy_loss', '', logits, target, o.weight ?? null, red(o.reduction), o.ignoreIndex ?? -100, o.labelSmoothing ?? 0);
}

/** Negative log-likelihood of log-probabilities [N, C] against class indices [N], as F.nll_loss. */
export function nllLoss(logProbs: Tensor, target: Tensor, o: NllLossOptions = {}): Tensor {
  checkOptions('nllLoss', o, NLL_OPTIONS);
  return callOp('aten::nll_loss_nd', '', logProbs, target, o.weight ?? null, red(o.reduction), o.ignoreIndex ?? -100);
}

/** Mean squared error, as F.mse_loss. */
export function mseLoss(input: Tensor, target: Tensor, o: ReductionOptions = {}): Tensor {
  checkOptions('mseLoss', o, REDUCTION_OPTIONS);
  return callOp('aten::mse_loss', '', input, target, red(o.reduction));
}

export type LossName = 'cross_entropy' | 'mse' | 'nll';

/** A loss by name, for APIs and CLIs that take one as a string. */
export function lossByName(name: LossName, o: ReductionOptions = {}): (out: Tensor, y: Tensor) => Tensor {
  checkOptions('lossByName', o, REDUCTION_OPTIONS);
  switch (name) {
    case 'cross_entropy': return (out, y) => crossEntropy(out, y, o);
    case 'nll': return (out, y) => nllLoss(out, y, o);
    case 'mse': return (out, y) => mseLoss(out, y, o);
    default: throw new OptionError(`unknown loss '${name}'; expected cross_entropy, nll or mse`);
  }
}
