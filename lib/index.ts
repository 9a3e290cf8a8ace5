// squisher: PyTorch models, checkpoints, Adam and Fisher diagonals for Node.js, over libtorch.
export * from './errors';
export { checkOptions, type Progress } from './options';
export * from './tensor';
export * from './autograd';
export * from './device';
export * as nn from './nn';
export { Module, ScriptModule, functionalCall, crossEntropy, mseLoss, nllLoss } from './nn';
export * from './io';
export * as apps from './apps';
export * as distributed from './distributed';
export { perSampleGrads, fisherDiagonal, FisherDiagonal, squisher, compareDiagonals, func, type FisherOptions, type FisherMeta, type PerSampleOptions, type SquisherOptions, type Comparison } from './fisher';
export * as optim from './optim';
export * as data from './data';
export * as train from './train';
