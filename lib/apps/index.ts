// Applications of a Fisher diagonal: each takes a plain Map<string, Tensor> by parameter name, so the
// Squisher, any exact Fisher variant, or a file all work (and Fisher-free baselines sit beside them).
export * from './named';
export * from './ewc';
export * from './prune';
export * from './merge';
export * from './fish';
export * from './laplace';
export * from './task2vec';
export * from './files';
