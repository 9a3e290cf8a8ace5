// Optimizers exactly as torch.optim (Adam, AdamW, SGD), state by parameter name, PyTorch state_dicts in
// and out, and learning-rate schedules.
import { Adam, AdamW } from './adam';
import { SGD } from './sgd';
import { HasNamedParameters } from './params';
import { parseStateDict } from './state-dict';
import { OptimizerStateError } from '../errors';

export { Optimizer } from './optimizer';
export type { OptimizerKind, ParamGroupBase } from './optimizer';
export { Adam, AdamW } from './adam';
export type { AdamOptions, AdamHyper, AdamGroup, AdamParamState } from './adam';
export { SGD } from './sgd';
export type { SGDOptions, SGDHyper, SGDGroup, SGDParamState } from './sgd';
export type { NamedParams, ParamsSpec, GroupSpec, HasNamedParameters } from './params';
export type { PyTorchOptimizerStateDict } from './state-dict';
export { LRScheduler, ConstantLR, StepLR, LinearLR, CosineAnnealingLR } from './schedule';
export type { HasParamGroups } from './schedule';
export { pyPow, pyCos } from './libm';

/** Which torch.optim class wrote a state_dict, from its param_groups' keys. */
export function stateDictKind(sd: unknown): 'adam' | 'adamw' | 'sgd' {
  const { groups } = parseStateDict(sd, 'optim.stateDictKind');
  if (groups.length === 0) throw new OptimizerStateError('optim.stateDictKind: the state dict has no parameter groups');
  const g = groups[0].map;
  if (g.has('betas')) {
    const d = g.get('decoupled_weight_decay');
    if (d === undefined) {
      throw new OptimizerStateError('optim.stateDictKind: an Adam-family state dict without decoupled_weight_decay (saved by torch < 2.6?): ' +
        'it cannot tell Adam from AdamW; construct the one you used and call loadStateDict');
    }
    return d ? 'adamw' : 'adam';
  }
  if (g.has('momentum')) return 'sgd';
  throw new OptimizerStateError(`optim.stateDictKind: param_groups hold ${[...g.keys()].join(', ')}: not Adam, AdamW or SGD`);
}

/**
 * An optimizer for `model` rebuilt from a PyTorch optimizer state_dict (e.g. lib/io load('optim.pt')):
 * the class from the state dict, one group per saved group with the model's parameters split in order
 * by the saved groups' sizes, then loadStateDict. Ids map to names by model.namedParameters() order.
 */
export function fromStateDict(sd: unknown, model: HasNamedParameters): Adam | AdamW | SGD {
  const kind = stateDictKind(sd);
  const { groups } = parseStateDict(sd, 'optim.fromStateDict');
  const named = model.namedParameters();
  const total = groups.reduce((a, g) => a + g.ids.length, 0);
  if (total !== named.length) {
    throw new OptimizerStateError(`optim.fromStateDict: the state dict's groups list ${total} parameters, the model has ${named.length} ` +
      `(${named.map(([n]) => n).join(', ')})`);
  }
  let k = 0;
  const spec = groups.map((g) => ({ params: named.slice(k, (k += g.ids.length)) }));
  const opt = kind === 'sgd' ? new SGD(spec, { momentum: 0 }) : kind === 'adamw' ? new AdamW(spec) : new Adam(spec);
  return opt.loadStateDict(sd);
}
