// Fisher information diagonals: per-sample gradients, every variant, fast paths, the Squisher, comparison.
export { perSampleGrads } from './persample';
export type { PerSampleOptions, LossSpec } from './persample';
export { fisherDiagonal } from './diagonal';
export type { FisherOptions } from './diagonal';
export { FisherDiagonal } from './result';
export type { FisherMeta, FisherVariant, Reduction as FisherReduction } from './result';
export type { Task } from './likelihood';
export type { Batch, FisherData } from './data';
export { planFastPath } from './fastpath';
/** torch.func: grad, gradAndValue, vmap on libtorch's functorch layers (namespaced: autograd has its own grad). */
export * as func from '../func';
export { squisher } from './squisher';
export { squisherFromTrainerDir, trainerCheckpoint } from './squisher/trainer-dir';
export type { SquisherOptions, SquisherSource, OptimizerLike, AdamParamState, ParamSource, ModelWeights } from './squisher';
export { compareDiagonals } from './compare';
export type { Comparison, Similarity, CompareOptions } from './compare';
