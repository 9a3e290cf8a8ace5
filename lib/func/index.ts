// Function transforms (torch.func): grad, vmap and their composition, on libtorch's functorch layers.
export { grad, gradAndValue } from './grad';
export type { GradTransformOptions } from './grad';
export { vmap, explainVmapError, setVmapFallbackWarning } from './vmap';
export type { VmapOptions, Randomness } from './vmap';
export { depth as functorchDepth } from './layers';
export { mapTree } from './tree';
export type { TensorTree } from './tree';
