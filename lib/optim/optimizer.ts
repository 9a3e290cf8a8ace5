// The optimizer base: parameter groups of named parameters, per-parameter state keyed by name, and
// PyTorch's state_dict layout in and out. Subclasses (Adam, AdamW, SGD) supply the update and say how
// their hyperparameters and state entries look in a PyTorch state_dict.
import { noGrad } from '../autograd';
import { Tensor } from '../tensor/tensor';
import { dispose, keep, tidy } from '../tensor/scope';
import { OptimizerStateError, ShapeError } from '../errors';
import { checkOptions } from '../options';
import { ParamsSpec, resolveGroups } from './params';
import { describeShape, parseStateDict, PyTorchOptimizerStateDict, StateEntry } from './state-dict';

export type OptimizerKind = 'adam' | 'adamw' | 'sgd';

/** What every parameter group holds: the live parameters, their names, and the learning rate. */
export interface ParamGroupBase {
  params: Tensor[];
  names: string[];
  lr: number;
  /** The lr the group started with (set by the first learning-rate schedule, as PyTorch's initial_lr). */
  initial_lr?: number;
}

export abstract class Optimizer<H extends { lr: number }, O, S extends Record<string, Tensor>> {
  abstract readonly kind: OptimizerKind;
  /** The groups, with hyperparameters under PyTorch's names (lr, betas, weight_decay, ...); editable. */
  readonly paramGroups: (H & ParamGroupBase)[];
  /** @internal State tensors by parameter name (live, owned by the optimizer). */
  protected readonly perParam = new Map<string, S>();

  protected constructor(params: ParamsSpec<O>, options: Partial<O>, protected readonly who: string) {
    // An unknown key (weight_decay for weightDecay) would otherwise be ignored silently.
    const name = this.constructor.name;
    checkOptions(name, options, this.optionNames());
    const groups = resolveGroups<O>(params, who);
    groups.forEach((g, i) => checkOptions(`${name}: param group ${i}`, g.overrides, this.optionNames()));
    this.paramGroups = groups.map(({ named, overrides }) => ({
      ...this.hyper({ ...options, ...overrides }),
      params: named.map(([, t]) => t),
      names: named.map(([n]) => n),
    }));
  }

  /** The option keys the constructor accepts (camelCase). */
  protected abstract optionNames(): readonly string[];
  /** Options (camelCase, user-facing) to validated hyperparameters under PyTorch's names. */
  protected abstract hyper(o: Partial<O>): H;
  /** Updates one parameter given its gradient (grad mode is off; temporaries are freed after the step). */
  protected abstract update(group: H & ParamGroupBase, name: string, param: Tensor, grad: Tensor): void;
  /** The hyperparameters of a PyTorch param_groups entry, in PyTorch's key order (without params). */
  protected abstract exportHyper(group: H): [string, unknown][];
  /** Hyperparameters from a PyTorch param_groups entry, validated; throws if it is another optimizer's. */
  protected abstract importHyper(group: Map<string, unknown>, index: number): H;
  /** One parameter's PyTorch state entry to this optimizer's state (copies), validated against the parameter. */
  protected abstract importState(entry: StateEntry, param: Tensor, group: H, where: string): S;

  /** Performs one optimisation step on every parameter that has a gradient (torch.optim's step()). */
  step(): void {
    tidy(() => noGrad(() => {
      for (const group of this.paramGroups) {
        for (let i = 0; i < group.params.length; i++) {
          const p = group.params[i];
          const g = p.grad;
          if (!g) continue;
          if (g.shape.join() !== p.shape.join()) throw new ShapeError(`${this.who}: the gradient of '${group.names[i]}' has shape [${g.shape}] but the parameter has [${p.shape}]`);
          this.update(group, group.names[i], p, g);
        }
      }
    }));
  }

  /** Clears the gradients: to None (default, as PyTorch) or to zeros. */
  zeroGrad(setToNone = true): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        const g = p.grad;
        if (!g) continue;
        if (setToNone) p.grad = null;
        else noGrad(() => g.zero_());
        g.dispose();
      }
    }
  }

  /** Names of all parameters, in PyTorch's id order (through the groups). */
  get paramNames(): string[] { return this.paramGroups.flatMap((g) => g.names); }

  /** @internal Stores state created during a step so that the step's tidy() leaves it alone. */
  protected setState(name: string, s: S): S {
    for (const t of Object.values(s)) keep(t);
    this.perParam.set(name, s);
    return s;
  }

  /**
   * A PyTorch optimizer state_dict: { state: Map<id, Map<key, Tensor>>, param_groups: [Map<key, value>] }
   * with integer ids through the groups in order, as torch.optim numbers them. The state tensors are the
   * live ones (as in PyTorch); lib/io's save() writes it as a file Python's optimizer.load_state_dict accepts.
   */
  stateDict(): PyTorchOptimizerStateDict {
    const state = new Map<number, Map<string, Tensor>>();
    const param_groups: Map<string, unknown>[] = [];
    let id = 0;
    for (const g of this.paramGroups) {
      const ids: number[] = [];
      for (const name of g.names) {
        const s = this.perParam.get(name);
        if (s) state.set(id, new Map(Object.entries(s)));
        ids.push(id++);
      }
      const m = new Map<string, unknown>(this.exportHyper(g));
      if (g.initial_lr !== undefined) m.set('initial_lr', g.initial_lr);
      m.set('params', ids);
      param_groups.push(m);
    }
    return { state, param_groups };
  }

  /**
   * Loads a PyTorch optimizer state_dict (as lib/io's load() returns it, or as stateDict() gives it; a full
   * training checkpoint with an 'optimizer' entry also works). PyTorch's integer ids are matched to this
   * optimizer's parameters by position through the groups (i.e. model.parameters() order); counts and
   * shapes must agree, and errors name the parameter. Hyperparameters are taken from the state dict, as
   * torch's load_state_dict does. Nothing changes unless everything checks out.
   */
  loadStateDict(sd: unknown): this {
    const parsed = parseStateDict(sd, this.who);
    if (parsed.groups.length !== this.paramGroups.length) {
      throw new OptimizerStateError(`${this.who}.loadStateDict: the state dict has ${parsed.groups.length} parameter group(s), this optimizer ${this.paramGroups.length}`);
    }
    const newHyper: H[] = [];
    const newState = new Map<string, S>();
    const used = new Set<number>();
    try {
      parsed.groups.forEach((pg, gi) => {
        const ours = this.paramGroups[gi];
        if (pg.ids.length !== ours.params.length) {
          throw new OptimizerStateError(`${this.who}.loadStateDict: parameter group ${gi} has ${pg.ids.length} parameters in the state dict ` +
            `but ${ours.params.length} in this optimizer (${describeNames(ours.names)}): was it saved for another model?`);
        }
        newHyper.push(this.importHyper(pg.map, gi));
        pg.ids.forEach((id, k) => {
          used.add(id);
          const entry = parsed.state.get(id);
          if (!entry) return;  // no step taken for this parameter yet
          const where = `parameter '${ours.names[k]}' (id ${id}, shape ${describeShape(ours.params[k].shape)})`;
          newState.set(ours.names[k], noGrad(() => this.importState(entry, ours.params[k], newHyper[gi], where)));
        });
      });
      const stray = [...parsed.state.keys()].filter((id) => !used.has(id));
      if (stray.length) throw new OptimizerStateError(`${this.who}.loadStateDict: state for id(s) ${stray.join(', ')} that no parameter group lists`);
    } catch (e) {
      for (const s of newState.values()) dispose(s);
      throw e;
    }
    for (const s of this.perParam.values()) dispose(s);
    this.perParam.clear();
    for (const [n, s] of newState) this.setState(n, s);
    this.paramGroups.forEach((g, gi) => {
      const { params, names } = g;
      const initial = parsed.groups[gi].map.get('initial_lr');
      Object.assign(g, newHyper[gi], { params, names });
      if (typeof initial === 'number') g.initial_lr = initial;
    });
    return this;
  }

  /** Frees the optimizer's state tensors (the parameters belong to the model). */
  dispose(): void {
    for (const s of this.perParam.values()) dispose(s);
    this.perParam.clear();
  }
}

function describeNames(names: string[]): string {
  return names.length <= 6 ? names.join(', ') : `${names.slice(0, 5).join(', ')}, ... ${names[names.length - 1]}`;
}
