// Plain PyTorch: torch.optim.X(model.parameters()): one group, ids in named_parameters() order.
import { Convention } from './types';

export const torchConvention: Convention = {
  name: 'torch',
  source: 'torch.optim.<Optimizer>(model.parameters())',
  partition: (p, groups) => (groups.length === 1 ? [p.names] : null),
};
