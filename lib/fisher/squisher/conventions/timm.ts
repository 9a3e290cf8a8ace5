// timm (timm/optim/_param_groups.py param_groups_weight_decay, used by create_optimizer_v2 with
// weight_decay > 0): [no decay, decay], each in named_parameters() order, empty groups left out. No decay
// for parameters with ndim <= 1 or a name ending in '.bias' (and for the model's no_weight_decay() list,
// which a state_dict does not record: a model that has one makes the sizes disagree, and the convention is
// rejected rather than guessed).
import { Convention } from './types';

export const timmConvention: Convention = {
  name: 'timm',
  source: 'timm.optim.create_optimizer_v2 / param_groups_weight_decay: [no decay (ndim <= 1 or .bias), decay]',
  partition(p, groups) {
    const noDecay = (n: string) => p.shapes.get(n)!.length <= 1 || n.endsWith('.bias');
    const out = [p.names.filter(noDecay), p.names.filter((n) => !noDecay(n))].filter((g) => g.length);
    return out.length === groups.length ? out : null;
  },
};
