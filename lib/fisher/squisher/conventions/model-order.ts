// Groups built from consecutive runs of the model's parameters ([{'params': model.body.parameters()},
// {'params': model.head.parameters()}], layer by layer): group i takes the next len(group i) names.
import { Convention } from './types';

export const modelOrderConvention: Convention = {
  name: 'model-order',
  source: "param groups made of consecutive parameters in named_parameters() order (e.g. [{'params': body.parameters()}, {'params': head.parameters()}])",
  partition(p, groups) {
    let off = 0;
    return groups.map((g) => p.names.slice(off, (off += g.ids.length)));
  },
};
