// A training loop: epochs over a DataLoader, each step in its own tidy() (memory stays flat), the event
// loop served between batches (the process stays responsive; an AbortSignal can stop it), progress per
// batch, and per-epoch loss/accuracy on the training data (running, as seen during the epoch) and on
// evalData (after the epoch, in eval mode).
import { noGrad } from '../autograd';
import { Module } from '../nn/module';
import { crossEntropy } from '../nn/loss';
import { Tensor } from '../tensor/tensor';
import { tidy } from '../tensor/scope';
import { DataLoader, TensorData } from '../data/loader';
import { OptionError, ShapeError, SquisherError, throwIfAborted } from '../errors';
import { checkOptions, optionKeys, Progress } from '../options';

export type LossFn = (output: Tensor, target: Tensor) => Tensor;

/** What fit needs from an optimizer (lib/optim's Adam, AdamW, SGD). */
export interface StepOptimizer { zeroGrad(): void; step(): void; }
/** What fit needs from a learning-rate schedule (lib/optim's schedulers). */
export interface StepScheduler { step(): void; }

/** The common progress shape (done of total, in phase 'train'), plus where in which epoch. */
export interface FitProgress extends Progress {
  phase: 'train';
  total: number;
  epoch: number; epochs: number;
  batch: number; batches: number;
  /** This batch's loss. */
  loss: number;
  /** Samples seen so far in this epoch. */
  seen: number;
}

export interface EpochResult {
  epoch: number;
  /** Mean training loss over the epoch's samples (each batch's mean loss weighted by its size). */
  loss: number;
  /** Training accuracy over the epoch (classification: argmax of the output vs integer targets). */
  accuracy?: number;
  evalLoss?: number;
  evalAccuracy?: number;
  seconds: number;
}

export interface FitOptions {
  epochs?: number;
  /** Batch-mean loss (default cross-entropy). */
  lossFn?: LossFn;
  /** When trainData is tensors: the loader's options (batchSize default 32). */
  batchSize?: number; shuffle?: boolean; seed?: number; dropLast?: boolean;
  evalData?: TensorData | DataLoader;
  /** Stepped after every epoch (or every batch with schedulerStep: 'batch'). */
  scheduler?: StepScheduler;
  schedulerStep?: 'epoch' | 'batch';
  onProgress?: (p: FitProgress) => void;
  /** Called after each epoch with its result. */
  onEpoch?: (r: EpochResult) => void;
  signal?: AbortSignal;
}

const FIT_OPTIONS = optionKeys<FitOptions>('fit', {
  epochs: true, lossFn: true, batchSize: true, shuffle: true, seed: true, dropLast: true, evalData: true, scheduler: true,
  schedulerStep: true, onProgress: true, onEpoch: true, signal: true,
});

export interface EvalOptions { lossFn?: LossFn; batchSize?: number; }
const EVAL_OPTIONS = optionKeys<EvalOptions>('evaluate', { lossFn: true, batchSize: true });
export interface EvalResult { loss: number; accuracy?: number; n: number; }

const nextTick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Correct predictions in a batch when the output is [N, C] scores and the target integer classes; else null. */
function correct(out: Tensor, y: Tensor): number | null {
  if (out.ndim !== 2 || y.ndim !== 1 || !['int64', 'int32', 'uint8', 'int16', 'int8'].includes(y.dtype)) return null;
  return out.argmax(1).eq(y).sum().item();
}

/** Mean loss (and accuracy for classification) of `model` on `data`, in eval mode and without gradients. */
export function evaluate(model: Module, data: TensorData | DataLoader, o: EvalOptions = {}): EvalResult {
  checkOptions('evaluate', o, EVAL_OPTIONS);
  const lossFn = o.lossFn ?? ((a: Tensor, b: Tensor) => crossEntropy(a, b));
  const loader = data instanceof DataLoader ? data : new DataLoader(data, { batchSize: o.batchSize ?? 1000 });
  const wasTraining = model.training;
  model.eval();
  try {
    let lossSum = 0, hits = 0, n = 0, classify = true;
    for (const b of loader.batches(0)) {
      tidy(() => noGrad(() => {
        const out: Tensor = model.call(b.x);
        const len = b.x.shape[0];
        lossSum += lossFn(out, b.y).item() * len;
        const c = classify ? correct(out, b.y) : null;
        if (c === null) classify = false; else hits += c;
        n += len;
        b.x.dispose(); b.y.dispose();
      }));
    }
    if (n === 0) throw new OptionError('evaluate: the data has no samples');
    return { loss: lossSum / n, ...(classify ? { accuracy: hits / n } : {}), n };
  } finally {
    model.train(wasTraining);
  }
}

/**
 * Trains `model` with `optimizer` for `epochs` over trainData (a DataLoader, or {x, y} tensors batched
 * with batchSize/shuffle/seed/dropLast). Resolves to one EpochResult per epoch; rejects on abort.
 */
export async function fit(model: Module, optimizer: StepOptimizer, trainData: TensorData | DataLoader, o: FitOptions = {}): Promise<EpochResult[]> {
  checkOptions('fit', o, FIT_OPTIONS);
  const epochs = o.epochs ?? 1;
  if (!(Number.isInteger(epochs) && epochs >= 0)) throw new OptionError(`fit: epochs must be a non-negative integer, got ${epochs}`);
  const lossFn = o.lossFn ?? ((a: Tensor, b: Tensor) => crossEntropy(a, b));
  const loader = trainData instanceof DataLoader ? trainData
    : new DataLoader(trainData, { batchSize: o.batchSize ?? 32, shuffle: o.shuffle, seed: o.seed, dropLast: o.dropLast });
  const results: EpochResult[] = [];
  for (let epoch = 0; epoch < epochs; epoch++) {
    const t0 = process.hrtime.bigint();
    model.train();
    let lossSum = 0, hits = 0, seen = 0, classify = true;
    const batches = loader.length;
    const it = loader[Symbol.iterator]();
    try {
      for (let r = it.next(); !r.done; r = it.next()) {
        const b = r.value;
        if (o.signal?.aborted) { b.x.dispose(); b.y.dispose(); throwIfAborted(o.signal, 'fit'); }
        const len = b.x.shape[0];
        const loss = tidy(() => {
          optimizer.zeroGrad();
          const out: Tensor = model.call(b.x);
          const l = lossFn(out, b.y);
          if (l.numel !== 1) throw new ShapeError(`fit: the loss must be a scalar (batch mean), got shape [${l.shape}]`);
          l.backward();
          optimizer.step();
          const c = classify ? noGrad(() => correct(out, b.y)) : null;
          if (c === null) classify = false; else hits += c;
          b.x.dispose(); b.y.dispose();
          return l.item();
        });
        if (!Number.isFinite(loss)) throw new SquisherError(`fit: the loss became ${loss} at epoch ${epoch}, batch ${b.index} (learning rate too high?)`);
        lossSum += loss * len;
        seen += len;
        if (o.scheduler && o.schedulerStep === 'batch') o.scheduler.step();
        o.onProgress?.({ done: epoch * batches + b.index + 1, total: epochs * batches, phase: 'train', epoch, epochs, batch: b.index, batches, loss, seen });
        await nextTick();
      }
    } finally {
      it.return?.();
    }
    if (o.scheduler && o.schedulerStep !== 'batch') o.scheduler.step();
    const res: EpochResult = { epoch, loss: lossSum / seen, ...(classify ? { accuracy: hits / seen } : {}), seconds: 0 };
    if (o.evalData) {
      const e = evaluate(model, o.evalData, { lossFn });
      res.evalLoss = e.loss;
      if (e.accuracy !== undefined) res.evalAccuracy = e.accuracy;
      model.train();
    }
    res.seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    results.push(res);
    o.onEpoch?.(res);
  }
  return results;
}
