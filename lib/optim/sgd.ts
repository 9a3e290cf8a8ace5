// SGD with momentum, dampening, Nesterov and weight decay, as torch/optim/sgd.py's _single_tensor_sgd
// (the CPU default): for comparison runs against Adam, and exact against PyTorch like Adam.
import { Tensor } from '../tensor/tensor';
import { Optimizer, ParamGroupBase } from './optimizer';
import { ParamsSpec } from './params';
import { groupBool, groupNumber, stateTensor, StateEntry } from './state-dict';
import { OptionError, OptimizerStateError } from '../errors';
import { optionKeys } from '../options';

export interface SGDOptions { lr: number; momentum: number; dampening: number; weightDecay: number; nesterov: boolean; maximize: boolean; }
export interface SGDHyper { lr: number; momentum: number; dampening: number; weight_decay: number; nesterov: boolean; maximize: boolean; }
const SGD_OPTIONS = optionKeys<SGDOptions>('SGD', { lr: true, momentum: true, dampening: true, weightDecay: true, nesterov: true, maximize: true });
export type SGDGroup = SGDHyper & ParamGroupBase;
export interface SGDParamState { momentum_buffer: Tensor; }

export class SGD extends Optimizer<SGDHyper, SGDOptions, { momentum_buffer: Tensor }> {
  readonly kind = 'sgd' as const;

  /** Defaults as torch.optim.SGD: lr 1e-3, no momentum, no dampening, no weight decay. */
  constructor(params: ParamsSpec<SGDOptions>, options: Partial<SGDOptions> = {}) {
    super(params, options, 'SGD');
  }

  protected optionNames(): readonly string[] { return SGD_OPTIONS; }

  protected hyper(o: Partial<SGDOptions>): SGDHyper {
    const h: SGDHyper = {
      lr: o.lr ?? 1e-3, momentum: o.momentum ?? 0, dampening: o.dampening ?? 0,
      weight_decay: o.weightDecay ?? 0, nesterov: !!o.nesterov, maximize: !!o.maximize,
    };
    if (!(h.lr >= 0)) throw new OptionError(`SGD: invalid learning rate ${h.lr}`);
    if (!(h.momentum >= 0)) throw new OptionError(`SGD: invalid momentum value ${h.momentum}`);
    if (!(h.weight_decay >= 0)) throw new OptionError(`SGD: invalid weight_decay value ${h.weight_decay}`);
    if (h.nesterov && (h.momentum <= 0 || h.dampening !== 0)) throw new OptionError('SGD: Nesterov momentum requires a momentum and zero dampening');
    return h;
  }

  protected update(g: SGDGroup, name: string, param: Tensor, gradIn: Tensor): void {
    let grad = g.maximize ? gradIn.neg() : gradIn;
    if (g.weight_decay !== 0) grad = grad.add(param, g.weight_decay);
    if (g.momentum !== 0) {
      const s = this.perParam.get(name);
      let buf: Tensor;
      if (!s) buf = this.setState(name, { momentum_buffer: grad.detach().clone() }).momentum_buffer;
      else buf = s.momentum_buffer.mul_(g.momentum).add_(grad, 1 - g.dampening);
      grad = g.nesterov ? grad.add(buf, g.momentum) : buf;
    }
    param.add_(grad, -g.lr);
  }

  /** State by parameter name: { momentum_buffer } (live tensors; empty without momentum, as in PyTorch). */
  state(): Map<string, SGDParamState> {
    const out = new Map<string, SGDParamState>();
    for (const name of this.paramNames) {
      const s = this.perParam.get(name);
      if (s) out.set(name, { momentum_buffer: s.momentum_buffer });
    }
    return out;
  }

  protected exportHyper(g: SGDHyper): [string, unknown][] {
    return [['lr', g.lr], ['momentum', g.momentum], ['dampening', g.dampening], ['weight_decay', g.weight_decay],
      ['nesterov', g.nesterov], ['maximize', g.maximize], ['foreach', null], ['differentiable', false], ['fused', null]];
  }

  protected importHyper(g: Map<string, unknown>, i: number): SGDHyper {
    if (!g.has('momentum') || g.has('betas')) {
      throw new OptimizerStateError(`SGD.loadStateDict: param_groups[${i}] is not an SGD group (keys: ${[...g.keys()].filter((k) => k !== 'params').join(', ')})` +
        (g.has('betas') ? ': it is Adam\'s/AdamW\'s; use Adam/AdamW or optim.fromStateDict' : ''));
    }
    return this.hyper({
      lr: groupNumber(g, 'lr', i, 'SGD'), momentum: groupNumber(g, 'momentum', i, 'SGD'),
      dampening: groupNumber(g, 'dampening', i, 'SGD', 0), weightDecay: groupNumber(g, 'weight_decay', i, 'SGD', 0),
      nesterov: groupBool(g, 'nesterov', false), maximize: groupBool(g, 'maximize', false),
    });
  }

  protected importState(e: StateEntry, param: Tensor, _g: SGDHyper, where: string): { momentum_buffer: Tensor } {
    return { momentum_buffer: stateTensor(e, 'momentum_buffer', param, where, 'SGD') };
  }
}
