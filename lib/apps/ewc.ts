// Elastic weight consolidation (Kirkpatrick et al. 2017): after a task, remember θ* and a Fisher
// diagonal F; while training later tasks add (λ/2)·Σ F(θ-θ*)² to the loss. Multi-task keeps one
// (F, θ*) per finished task; online EWC (Schwarz et al. 2018) keeps one F ← γ·F_old + F_new anchored
// at the latest θ*. The Fisher may come from anywhere; its scale is folded into λ (see squisherScale).
import { noGrad } from '../autograd';
import { crossEntropy } from '../nn/loss';
import { Tensor, tensor, keep, dispose, tidy, stack } from '../tensor';
import { NamedTensors, ParamsLike, matching, namedTensors } from './named';
import { OptionError } from '../errors';
import { checkOptions, optionKeys } from '../options';

/** (λ/2)·Σ_names Σ F·(θ-θ*)², differentiable in θ. Names missing from `fisher` are an error. */
export function ewcPenalty(params: ParamsLike, fisher: NamedTensors, anchor: NamedTensors, lambda: number): Tensor {
  const ps = namedTensors(params);
  if (fisher.size === 0) throw new OptionError('ewcPenalty: the Fisher holds no tensors');
  // One scope: the intermediate handles go, the autograd graph keeps what backward needs.
  return tidy(() => {
    const terms: Tensor[] = [];
    for (const [name, f] of fisher) {
      const p = ps.get(name);
      if (!p) throw new OptionError(`ewcPenalty: the Fisher has '${name}' but the model has no such parameter`);
      matching('ewcPenalty: Fisher', fisher, name, p);
      const a = matching('ewcPenalty: anchor θ*', anchor, name, p);
      terms.push(f.mul(p.sub(a).square()).sum());
    }
    return stack(terms).sum().mul(lambda / 2);
  });
}

export interface EwcOptions {
  /** The penalty's strength λ (after any Fisher scaling: see squisherScale). */
  lambda: number;
  /** 'multi': one (F, θ*) per task; 'online': F ← γF + F_new at the latest θ*. Default 'multi'. */
  mode?: 'multi' | 'online';
  /** Online EWC's decay γ in [0, 1] (default 1). */
  gamma?: number;
}
const EWC_OPTIONS = optionKeys<EwcOptions>('EWC', { lambda: true, mode: true, gamma: true });

interface Anchor { fisher: NamedTensors; theta: NamedTensors; }

/**
 * EWC state across tasks. consolidate() after each task; penalty(model) while training the next one
 * (add it to the loss, or pass `ewc.regularizer` to a training loop's extra-loss hook).
 */
export class EWC {
  readonly lambda: number;
  readonly mode: 'multi' | 'online';
  readonly gamma: number;
  private anchors: Anchor[] = [];

  constructor(o: EwcOptions) {
    checkOptions('EWC', o, EWC_OPTIONS);
    if (!Number.isFinite(o.lambda) || o.lambda < 0) throw new OptionError(`EWC: lambda must be a finite number ≥ 0, got ${o.lambda}`);
    this.lambda = o.lambda;
    this.mode = o.mode ?? 'multi';
    if (this.mode !== 'multi' && this.mode !== 'online') throw new OptionError(`EWC: mode must be 'multi' or 'online', got '${this.mode}'`);
    this.gamma = o.gamma ?? 1;
    if (!(this.gamma >= 0 && this.gamma <= 1)) throw new OptionError(`EWC: gamma must be in [0, 1], got ${this.gamma}`);
  }

  /** Number of (F, θ*) pairs held (online mode: at most 1). */
  get tasks(): number { return this.anchors.length; }

  /**
   * Ends a task: copies θ* = the current parameters and the task's Fisher (copies, so the caller may
   * dispose theirs). Only parameters the Fisher names are anchored.
   */
  consolidate(params: ParamsLike, fisher: NamedTensors): void {
    const ps = namedTensors(params);
    if (fisher.size === 0) throw new OptionError('EWC.consolidate: the Fisher holds no tensors');
    const theta = new Map<string, Tensor>();
    const f = new Map<string, Tensor>();
    noGrad(() => {
      for (const [name, fi] of fisher) {
        const p = ps.get(name);
        if (!p) throw new OptionError(`EWC.consolidate: the Fisher has '${name}' but the model has no such parameter`);
        matching('EWC.consolidate: Fisher', fisher, name, p);
        theta.set(name, keep(p.detach().clone()));
        f.set(name, keep(fi.detach().to({ device: p.device, dtype: p.dtype, copy: true })));
      }
    });
    if (this.mode === 'multi' || this.anchors.length === 0) {
      this.anchors.push({ fisher: f, theta });
      return;
    }
    // Online: F ← γ·F_old + F_new (names present in only one of them keep that one's value).
    const old = this.anchors[0];
    noGrad(() => {
      for (const [name, fo] of old.fisher) {
        const fn = f.get(name);
        if (fn) { f.set(name, keep(fo.mul(this.gamma).add(fn))); fn.dispose(); } else f.set(name, keep(fo.mul(this.gamma)));
        if (!theta.has(name)) theta.set(name, keep(old.theta.get(name)!.clone()));
      }
    });
    dispose(old.fisher); dispose(old.theta);
    this.anchors = [{ fisher: f, theta }];
  }

  /** The penalty for the current parameters (0 before the first consolidate). Differentiable. */
  penalty(params: ParamsLike): Tensor {
    if (this.anchors.length === 0) return tensor([0]).sum();
    return tidy(() => stack(this.anchors.map((a) => ewcPenalty(params, a.fisher, a.theta, this.lambda))).sum());
  }

  /** penalty as a function, for training loops that take an extra loss term. */
  readonly regularizer = (params: ParamsLike): Tensor => this.penalty(params);

  /**
   * A loss with the penalty added, for loops that take (output, target) => loss, e.g. lib/train's
   * fit(model, opt, data, { lossFn: ewc.lossFn(model) }). base defaults to cross-entropy.
   */
  lossFn(params: ParamsLike, base: (out: Tensor, y: Tensor) => Tensor = (o, y) => crossEntropy(o, y)): (out: Tensor, y: Tensor) => Tensor {
    return (out, y) => {
      const l = base(out, y);
      return this.anchors.length ? l.add(this.penalty(params)) : l;
    };
  }

  /** The stored Fisher(s) and anchors (read-only views; do not dispose). */
  get state(): { fisher: NamedTensors; theta: NamedTensors }[] { return this.anchors.map((a) => ({ ...a })); }

  dispose(): void {
    for (const a of this.anchors) { dispose(a.fisher); dispose(a.theta); }
    this.anchors = [];
  }
}

export interface SquisherScaleOptions {
  /** The training batch size B. */
  batchSize: number;
  /** The training set's size N (needed for 'sum'). */
  datasetSize?: number;
  /** 'mean': the per-example mean Fisher (B·v); 'sum': the summed Fisher (N·B·v). */
  to: 'mean' | 'sum';
}
const SCALE_OPTIONS = optionKeys<SquisherScaleOptions>('squisherScale', { batchSize: true, datasetSize: true, to: true });

/**
 * The factor that turns Adam's raw v (the Squisher) into a Fisher of the given convention (DESIGN.md):
 * v ≈ E[ḡ²] with ḡ the batch-mean gradient, so B·v ≈ the per-example mean Fisher and N·B·v ≈ the summed
 * Fisher that EWC's λ is calibrated for. Multiply λ (or the diagonal) by this.
 */
export function squisherScale(o: SquisherScaleOptions): number {
  checkOptions('squisherScale', o, SCALE_OPTIONS);
  if (!(o.batchSize >= 1)) throw new OptionError(`squisherScale: batchSize must be ≥ 1, got ${o.batchSize}`);
  if (o.to === 'mean') return o.batchSize;
  if (!(o.datasetSize && o.datasetSize >= 1)) throw new OptionError(`squisherScale: datasetSize (N) is needed for a summed Fisher, got ${o.datasetSize}`);
  return o.batchSize * o.datasetSize;
}

/** Every tensor of a diagonal times one factor (new tensors). */
export function scaleDiagonal(d: NamedTensors, factor: number): NamedTensors {
  return noGrad(() => new Map([...d].map(([k, v]) => [k, v.mul(factor)])));
}
