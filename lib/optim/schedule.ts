// Learning-rate schedules, as torch.optim.lr_scheduler computes them: the same recursive ("chainable")
// updates of each group's lr, so the values equal PyTorch's (cosines go through C cos, see libm.ts).
// Call step() after optimizer.step(), once per epoch or per batch, as in PyTorch.
import { pyCos } from './libm';
import { OptionError } from '../errors';

/** What a schedule needs from an optimizer: its groups' learning rates. */
export interface HasParamGroups { paramGroups: { lr: number; initial_lr?: number }[]; }

export abstract class LRScheduler {
  lastEpoch = -1;
  readonly baseLrs: number[];
  protected stepCount = 0;
  protected isInitial = false;
  private lastLr: number[] = [];

  constructor(readonly optimizer: HasParamGroups) {
    for (const g of optimizer.paramGroups) if (g.initial_lr === undefined) g.initial_lr = g.lr;
    this.baseLrs = optimizer.paramGroups.map((g) => g.initial_lr!);
  }

  /** PyTorch's _initial_step: sets the epoch-0 learning rates. Subclass constructors call it last. */
  protected initialStep(): void {
    this.stepCount = 0;
    this.isInitial = true;
    try { this.step(); } finally { this.isInitial = false; }
  }

  protected abstract getLr(): number[];

  /** Advances one epoch (or batch) and sets each group's lr. */
  step(): void {
    this.stepCount++;
    this.lastEpoch++;
    const values = this.getLr();
    this.optimizer.paramGroups.forEach((g, i) => { g.lr = values[i]; });
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The learning rates the last step() set (get_last_lr()). */
  getLastLr(): number[] { return [...this.lastLr]; }

  protected lrs(): number[] { return this.optimizer.paramGroups.map((g) => g.lr); }
}

/** Keeps the learning rate (times `factor` for the first `totalIters` steps; factor 1 = constant). */
export class ConstantLR extends LRScheduler {
  constructor(opt: HasParamGroups, readonly factor = 1 / 3, readonly totalIters = 5) {
    super(opt);
    if (factor > 1 || factor < 0) throw new OptionError('ConstantLR: factor must be between 0 and 1');
    this.initialStep();
  }
  protected getLr(): number[] {
    if (this.lastEpoch === 0) return this.lrs().map((lr) => lr * this.factor);
    if (this.lastEpoch !== this.totalIters) return this.lrs();
    return this.lrs().map((lr) => lr * (1.0 / this.factor));
  }
}

/** Multiplies the learning rate by gamma every stepSize steps. */
export class StepLR extends LRScheduler {
  constructor(opt: HasParamGroups, readonly stepSize: number, readonly gamma = 0.1) {
    super(opt);
    if (!(Number.isInteger(stepSize) && stepSize > 0)) throw new OptionError(`StepLR: stepSize must be a positive integer, got ${stepSize}`);
    this.initialStep();
  }
  protected getLr(): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return this.lrs();
    return this.lrs().map((lr) => lr * this.gamma);
  }
}

/** Linear warmup: scales the lr from startFactor to endFactor over totalIters steps. */
export class LinearLR extends LRScheduler {
  constructor(opt: HasParamGroups, readonly startFactor = 1 / 3, readonly endFactor = 1.0, readonly totalIters = 5) {
    super(opt);
    if (startFactor > 1 || startFactor <= 0) throw new OptionError('LinearLR: startFactor must be in (0, 1]');
    if (endFactor > 1 || endFactor < 0) throw new OptionError('LinearLR: endFactor must be in [0, 1]');
    this.initialStep();
  }
  protected getLr(): number[] {
    if (this.lastEpoch === 0) return this.lrs().map((lr) => lr * this.startFactor);
    if (this.isInitial || this.lastEpoch > this.totalIters) return this.lrs();
    const d = this.endFactor - this.startFactor;
    return this.lrs().map((lr) => lr * (1.0 + d / (this.totalIters * this.startFactor + (this.lastEpoch - 1) * d)));
  }
}

/** Cosine annealing from the base lr to etaMin over tMax steps (then back up, as PyTorch's does). */
export class CosineAnnealingLR extends LRScheduler {
  constructor(opt: HasParamGroups, readonly tMax: number, readonly etaMin = 0.0) {
    super(opt);
    if (!(tMax > 0)) throw new OptionError(`CosineAnnealingLR: tMax must be positive, got ${tMax}`);
    this.initialStep();
  }
  protected getLr(): number[] {
    const { lastEpoch: e, tMax: T, etaMin } = this;
    if (this.isInitial) return this.lrs();
    if (this.stepCount === 1 && e > 0) {
      return this.baseLrs.map((b) => etaMin + (b - etaMin) * (1 + pyCos(e * Math.PI / T)) / 2);
    }
    if (pyMod(e - 1 - T, 2 * T) === 0) {
      return this.lrs().map((lr, i) => lr + (this.baseLrs[i] - etaMin) * (1 - pyCos(Math.PI / T)) / 2);
    }
    const ratio = (1 + pyCos(Math.PI * e / T)) / (1 + pyCos(Math.PI * (e - 1) / T));
    return this.lrs().map((lr) => ratio * (lr - etaMin) + etaMin);
  }
}

/** Python's % (the result takes the divisor's sign). */
function pyMod(a: number, m: number): number { return ((a % m) + m) % m; }
