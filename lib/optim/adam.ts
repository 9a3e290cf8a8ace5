// Adam and AdamW exactly as torch.optim (2.13) computes them on the CPU: the op sequence of
// torch/optim/adam.py's _single_tensor_adam (the default for CPU tensors; foreach is CUDA-only), with
// the same Python-float scalar arithmetic (bias corrections through C pow, see libm.ts), and `step`
// kept as a float32 0-dim tensor. The result: parameters and exp_avg / exp_avg_sq equal PyTorch's bit
// for bit (test/optim/adam.test.ts trains both for 50 steps).
import { Tensor } from '../tensor/tensor';
import { full, zerosLike } from '../tensor/create';
import { pyPow } from './libm';
import { Optimizer, ParamGroupBase } from './optimizer';
import { ParamsSpec } from './params';
import { groupBool, groupNumber, stateTensor, StateEntry, stepTensor } from './state-dict';
import { OptionError, OptimizerStateError } from '../errors';
import { optionKeys } from '../options';

export interface AdamOptions {
  lr: number;
  betas: readonly [number, number];
  eps: number;
  /** Adam: L2 penalty folded into the gradient. AdamW: decoupled decay, param *= 1 - lr*wd. */
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
}

const ADAM_OPTIONS = optionKeys<AdamOptions>('Adam', { lr: true, betas: true, eps: true, weightDecay: true, amsgrad: true, maximize: true });

/** A parameter group's hyperparameters, under PyTorch's names. */
export interface AdamHyper {
  lr: number;
  betas: [number, number];
  eps: number;
  weight_decay: number;
  amsgrad: boolean;
  maximize: boolean;
  decoupled_weight_decay: boolean;
}
export type AdamGroup = AdamHyper & ParamGroupBase;

/** Adam's per-parameter state as state() returns it: live tensors (do not dispose), step as a number. */
export interface AdamParamState { step: number; exp_avg: Tensor; exp_avg_sq: Tensor; max_exp_avg_sq?: Tensor; }
type AdamTensors = { step: Tensor; exp_avg: Tensor; exp_avg_sq: Tensor; max_exp_avg_sq?: Tensor };

export class Adam extends Optimizer<AdamHyper, AdamOptions, AdamTensors> {
  readonly kind: 'adam' | 'adamw' = 'adam';
  /** float32 step values mirrored in JS so a step needs no item() call (exact: integers below 2^24 and fround after). */
  private readonly steps = new Map<string, number>();
  private biasCache = { key: '', bc1: 0, bc2Sqrt: 0 };

  /**
   * new Adam(model | model.namedParameters() | [{params, ...overrides}], {lr, betas, eps, weightDecay, amsgrad, maximize}).
   * Defaults as torch.optim.Adam: lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0.
   */
  constructor(params: ParamsSpec<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, options, 'Adam');
  }

  protected optionNames(): readonly string[] { return ADAM_OPTIONS; }
  protected decoupled(): boolean { return false; }
  protected defaultWeightDecay(): number { return 0; }

  protected hyper(o: Partial<AdamOptions>): AdamHyper {
    const lr = o.lr ?? 1e-3, betas = o.betas ?? [0.9, 0.999], eps = o.eps ?? 1e-8;
    const wd = o.weightDecay ?? this.defaultWeightDecay();
    const name = this.constructor.name;
    if (!(lr >= 0)) throw new OptionError(`${name}: invalid learning rate ${lr}`);
    if (!(eps >= 0)) throw new OptionError(`${name}: invalid epsilon ${eps}`);
    if (!Array.isArray(betas) || betas.length !== 2) throw new OptionError(`${name}: betas must be a pair [beta1, beta2]`);
    if (!(betas[0] >= 0 && betas[0] < 1)) throw new OptionError(`${name}: invalid beta parameter at index 0: ${betas[0]}`);
    if (!(betas[1] >= 0 && betas[1] < 1)) throw new OptionError(`${name}: invalid beta parameter at index 1: ${betas[1]}`);
    if (!(wd >= 0)) throw new OptionError(`${name}: invalid weight_decay value ${wd}`);
    return { lr, betas: [betas[0], betas[1]], eps, weight_decay: wd, amsgrad: !!o.amsgrad, maximize: !!o.maximize, decoupled_weight_decay: this.decoupled() };
  }

  protected update(group: AdamGroup, name: string, param: Tensor, gradIn: Tensor): void {
    const { lr, eps, weight_decay: wd, amsgrad, maximize } = group;
    const [beta1, beta2] = group.betas;
    let s = this.perParam.get(name);
    if (!s) {
      s = this.setState(name, {
        step: full([], 0, { dtype: 'float32' }),
        exp_avg: zerosLike(param),
        exp_avg_sq: zerosLike(param),
        ...(amsgrad ? { max_exp_avg_sq: zerosLike(param) } : {}),
      });
      this.steps.set(name, 0);
    }
    if (amsgrad && !s.max_exp_avg_sq) throw new OptimizerStateError(`${this.constructor.name}: amsgrad was switched on after '${name}' took steps without it`);
    let grad = maximize ? gradIn.neg() : gradIn;
    s.step.add_(1);
    const step = Math.fround(this.steps.get(name)! + 1);
    this.steps.set(name, step);
    if (wd !== 0) {
      if (group.decoupled_weight_decay) param.mul_(1 - lr * wd);
      else grad = grad.add(param, wd);
    }
    s.exp_avg.lerp_(grad, 1 - beta1);
    s.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
    const { bc1, bc2Sqrt } = this.biasCorrections(beta1, beta2, step);
    const stepSize = lr / bc1;
    let denom: Tensor;
    if (amsgrad) {
      s.max_exp_avg_sq!.maximum_(s.exp_avg_sq);
      denom = s.max_exp_avg_sq!.sqrt();
    } else denom = s.exp_avg_sq.sqrt();
    denom.div_(bc2Sqrt).add_(eps);
    param.addcdiv_(s.exp_avg, denom, -stepSize);
  }

  /** 1 - beta1**step and (1 - beta2**step)**0.5 in Python float arithmetic; one pair per step, not per parameter. */
  private biasCorrections(beta1: number, beta2: number, step: number): { bc1: number; bc2Sqrt: number } {
    const key = `${beta1},${beta2},${step}`;
    if (this.biasCache.key !== key) {
      const bc1 = 1 - pyPow(beta1, step);
      const bc2 = 1 - pyPow(beta2, step);
      this.biasCache = { key, bc1, bc2Sqrt: pyPow(bc2, 0.5) };
    }
    return this.biasCache;
  }

  /** State by parameter name: { step, exp_avg, exp_avg_sq, max_exp_avg_sq? } (live tensors; do not dispose). */
  state(): Map<string, AdamParamState> {
    const out = new Map<string, AdamParamState>();
    for (const name of this.paramNames) {
      const s = this.perParam.get(name);
      if (!s) continue;
      out.set(name, { step: this.steps.get(name)!, exp_avg: s.exp_avg, exp_avg_sq: s.exp_avg_sq, ...(s.max_exp_avg_sq ? { max_exp_avg_sq: s.max_exp_avg_sq } : {}) });
    }
    return out;
  }

  protected exportHyper(g: AdamHyper): [string, unknown][] {
    return [['lr', g.lr], ['betas', [g.betas[0], g.betas[1]]], ['eps', g.eps], ['weight_decay', g.weight_decay],
      ['amsgrad', g.amsgrad], ['maximize', g.maximize], ['foreach', null], ['capturable', false],
      ['differentiable', false], ['fused', null], ['decoupled_weight_decay', g.decoupled_weight_decay]];
  }

  protected importHyper(g: Map<string, unknown>, i: number): AdamHyper {
    const who = this.constructor.name;
    if (!g.has('betas')) {
      const keys = [...g.keys()].filter((k) => k !== 'params').join(', ');
      throw new OptimizerStateError(`${who}.loadStateDict: param_groups[${i}] is not an Adam/AdamW group (keys: ${keys})${g.has('momentum') ? ': it is SGD\'s; use SGD.fromStateDict' : ''}`);
    }
    const dwd = g.get('decoupled_weight_decay');
    if (typeof dwd === 'boolean' && dwd !== this.decoupled()) {
      throw new OptimizerStateError(`${who}.loadStateDict: the state dict is ${dwd ? 'AdamW' : 'Adam'}'s (decoupled_weight_decay=${dwd ? 'True' : 'False'}); ` +
        `load it into ${dwd ? 'AdamW' : 'Adam'} (or use optim.fromStateDict)`);
    }
    const b = g.get('betas');
    if (!Array.isArray(b) || b.length !== 2) throw new OptimizerStateError(`${who}.loadStateDict: param_groups[${i}].betas is not a pair`);
    const betas = new Map([['0', b[0]], ['1', b[1]]]);
    return this.hyper({
      lr: groupNumber(g, 'lr', i, who), eps: groupNumber(g, 'eps', i, who, 1e-8),
      betas: [groupNumber(betas, '0', i, who), groupNumber(betas, '1', i, who)],
      weightDecay: groupNumber(g, 'weight_decay', i, who, 0),
      amsgrad: groupBool(g, 'amsgrad', false), maximize: groupBool(g, 'maximize', false),
    });
  }

  protected importState(e: StateEntry, param: Tensor, g: AdamHyper, where: string): AdamTensors {
    const who = this.constructor.name;
    const made: Tensor[] = [];
    try {
      const step = stepTensor(e, where, who); made.push(step);
      const exp_avg = stateTensor(e, 'exp_avg', param, where, who); made.push(exp_avg);
      const exp_avg_sq = stateTensor(e, 'exp_avg_sq', param, where, who); made.push(exp_avg_sq);
      const out: AdamTensors = { step, exp_avg, exp_avg_sq };
      if (g.amsgrad) out.max_exp_avg_sq = stateTensor(e, 'max_exp_avg_sq', param, where, who);
      return out;
    } catch (err) {
      for (const t of made) t.dispose();
      throw err;
    }
  }

  loadStateDict(sd: unknown): this {
    super.loadStateDict(sd);
    this.steps.clear();
    for (const [n, s] of this.perParam) this.steps.set(n, s.step.item());
    return this;
  }

  dispose(): void { super.dispose(); this.steps.clear(); }
}

/** AdamW: Adam with decoupled weight decay (torch.optim.AdamW; default weightDecay 1e-2). */
export class AdamW extends Adam {
  readonly kind = 'adamw' as const;
  constructor(params: ParamsSpec<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, options);
  }
  protected decoupled(): boolean { return true; }
  protected defaultWeightDecay(): number { return 1e-2; }
}
