// squisher: PyTorch models, checkpoints, Adam and Fisher diagonals for Node.js, over libtorch.
export * from './tensor';
export * from './autograd';
export * from './device';
