// The demo's training and evaluation loops. Task-incremental training restricts the logits to the task's
// classes (a shared 10-way output, read through the task's columns), so the same loop serves the main run,
// split MNIST and fine-tuning on digit subsets; an extra loss term carries the EWC penalty.
import { noGrad } from '../autograd';
import { manualSeed } from '../device';
import { Module } from '../nn/module';
import { crossEntropy } from '../nn/loss';
import { Tensor, tensor, tidy, randperm, keep, full } from '../tensor';
import { AdamLike, Dataset } from './deps';
import { AbortError } from '../errors';

export interface TrainOptions {
  batchSize: number;
  epochs: number;
  seed: number;
  /** Task-incremental: only these classes' logits, labels renumbered 0..k-1 in this order. */
  classes?: number[];
  /** Added to every batch's loss (e.g. an EWC penalty). */
  extraLoss?: () => Tensor;
  onStep?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Logits restricted to `classes` and labels renumbered to match (or both as they are). */
export function restrict(out: Tensor, y: Tensor, classes?: number[]): { out: Tensor; y: Tensor } {
  if (!classes) return { out, y };
  const dev = out.device;
  const cols = tensor(BigInt64Array.from(classes.map(BigInt)), { device: dev });
  const remap = full([Math.max(...classes) + 1], -100, { dtype: 'int64', device: dev });
  remap.indexPut_([cols], tensor(BigInt64Array.from(classes.map((_, i) => BigInt(i))), { device: dev }));
  return { out: out.indexSelect(1, cols), y: remap.indexSelect(0, y) };
}

export async function train(model: Module, opt: AdamLike, data: Dataset, o: TrainOptions): Promise<{ lastLoss: number }> {
  const n = data.x.shape[0];
  const perEpoch = Math.ceil(n / o.batchSize);
  const total = perEpoch * o.epochs;
  let done = 0;
  let lastLoss = NaN;
  model.train();
  for (let e = 0; e < o.epochs; e++) {
    manualSeed(o.seed * 1000 + e);
    const perm = keep(randperm(n, { device: data.x.device }));
    try {
      for (let s = 0; s < n; s += o.batchSize) {
        if (o.signal?.aborted) throw new AbortError('demo: aborted');
        lastLoss = tidy(() => {
          const idx = perm.narrow(0, s, Math.min(o.batchSize, n - s));
          const r = restrict(model.call(data.x.indexSelect(0, idx)) as Tensor, data.y.indexSelect(0, idx), o.classes);
          let loss = crossEntropy(r.out, r.y);
          const ce = loss.item();
          if (o.extraLoss) loss = loss.add(o.extraLoss());
          opt.zeroGrad();
          loss.backward();
          opt.step();
          return ce;
        });
        done++;
        o.onStep?.(done, total);
        // Keep the event loop (progress output, signals) alive between steps.
        if (done % 20 === 0) await new Promise((r) => setImmediate(r));
      }
    } finally {
      perm.dispose();
    }
  }
  return { lastLoss };
}

/** Accuracy on `data` (restricted to `classes` when given: task-incremental evaluation). */
export function accuracy(model: Module, data: Dataset, classes?: number[]): number {
  model.eval();
  const n = data.x.shape[0];
  let correct = 0;
  noGrad(() => {
    for (let s = 0; s < n; s += 1000) {
      correct += tidy(() => {
        const len = Math.min(1000, n - s);
        const r = restrict(model.call(data.x.narrow(0, s, len)) as Tensor, data.y.narrow(0, s, len), classes);
        return r.out.argmax(1).eq(r.y).sum().item();
      });
    }
  });
  model.train();
  return correct / n;
}

/** The rows of `data` whose label is in `classes`. */
export function subset(data: Dataset, classes: number[], limit?: number): Dataset {
  return noGrad(() => tidy(() => {
    let mask = data.y.eq(classes[0]);
    for (const c of classes.slice(1)) mask = mask.logicalOr(data.y.eq(c));
    let idx = mask.nonzero().reshape([-1]);
    if (limit !== undefined && idx.shape[0] > limit) idx = idx.narrow(0, 0, limit);
    return { x: data.x.indexSelect(0, idx), y: data.y.indexSelect(0, idx) };
  }));
}

/** The first n rows. */
export function head(data: Dataset, n: number): Dataset {
  const m = Math.min(n, data.x.shape[0]);
  return { x: data.x.narrow(0, 0, m), y: data.y.narrow(0, 0, m) };
}
