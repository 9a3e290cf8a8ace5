// The main job: train the MLP with Adam, take the Squisher (free: Adam's exp_avg_sq), compute the exact
// Fisher, compare them, then prune at several sparsities by Squisher, Fisher, magnitude and random.
import { noGrad } from '../../autograd';
import { Module } from '../../nn/module';
import { Tensor, dispose } from '../../tensor';
import { applyMasks, pruneMasks, PruneMethod } from '../../apps';
import { Comparison } from '../deps';
import { accuracy, head, train } from '../loop';
import { mlp } from '../model';
import { Ctx, rescale } from './context';
import { laplace, LaplaceResult } from './laplace';

export interface MainResult {
  denseAccuracy: number;
  trainSeconds: number;
  squisherSeconds: number;
  fisherSeconds: number;
  comparison: Comparison;
  /** sparsity -> method -> test accuracy after pruning (no fine-tuning). */
  pruning: { sparsity: number; acc: Record<'squisher' | 'fisher' | 'magnitude' | 'random', number> }[];
  laplace: LaplaceResult;
}

export async function mainRun(ctx: Ctx, plotFile: string | null): Promise<MainResult> {
  const { cfg, deps } = ctx;
  const model = mlp(cfg.hidden, cfg.seed, ctx.device);
  const opt = deps.adam(model, cfg.lr);
  const data = head(ctx.train, cfg.trainN);
  const N = data.x.shape[0];
  let t = Date.now();
  await train(model, opt, data, { batchSize: cfg.batchSize, epochs: cfg.epochs, seed: cfg.seed, signal: ctx.signal,
    onStep: (d, n) => ctx.progress({ stage: 'train MLP with Adam', done: d, total: n }) });
  const trainSeconds = (Date.now() - t) / 1000;
  const denseAccuracy = accuracy(model, ctx.test);

  t = Date.now();
  const sq = deps.squisher(opt, { batchSize: cfg.batchSize, datasetSize: N, scale: 'sum' });
  const squisherSeconds = (Date.now() - t) / 1000;
  ctx.progress({ stage: 'exact Fisher', done: 0, total: 1 });
  t = Date.now();
  const fdata = head(data, cfg.fisherN);
  const fisher = rescale(await deps.fisher(model, fdata, { batchSize: 256, reduction: 'sum', signal: ctx.signal }), N / fdata.x.shape[0]);
  const fisherSeconds = (Date.now() - t) / 1000;
  ctx.progress({ stage: 'exact Fisher', done: 1, total: 1 });
  const comparison = deps.compare(sq, fisher);
  if (plotFile) deps.plot(fisher, sq, plotFile, { x: 'exact Fisher (sum over N)', y: 'Squisher N·B·v', title: `MNIST MLP ${cfg.hidden}-${cfg.hidden}: Squisher vs Fisher` });

  const methods: [keyof MainResult['pruning'][0]['acc'], PruneMethod, Map<string, Tensor> | undefined][] = [
    ['squisher', 'fisher', sq], ['fisher', 'fisher', fisher], ['magnitude', 'magnitude', undefined], ['random', 'random', undefined]];
  const pruning: MainResult['pruning'] = [];
  let step = 0;
  for (const s of cfg.sparsities) {
    const acc = {} as MainResult['pruning'][0]['acc'];
    for (const [label, method, f] of methods) {
      acc[label] = prunedAccuracy(model, ctx, { sparsity: s, method, fisher: f, seed: cfg.seed });
      ctx.progress({ stage: 'pruning', done: ++step, total: cfg.sparsities.length * methods.length });
    }
    pruning.push({ sparsity: s, acc });
  }
  ctx.progress({ stage: 'diagonal Laplace', done: 0, total: 1 });
  const lap = await laplace(model, data, ctx.test, { squisher: sq, fisher }, cfg.seed);
  ctx.progress({ stage: 'diagonal Laplace', done: 1, total: 1 });
  dispose(sq); dispose(fisher); model.dispose();
  return { denseAccuracy, trainSeconds, squisherSeconds, fisherSeconds, comparison, pruning, laplace: lap };
}

/** Test accuracy of a pruned copy (global scope over Linear weights; the model itself is untouched). */
function prunedAccuracy(model: Module, ctx: Ctx, o: { sparsity: number; method: PruneMethod; fisher?: Map<string, Tensor>; seed: number }): number {
  const masks = pruneMasks(model, { sparsity: o.sparsity, method: o.method, fisher: o.fisher, seed: o.seed, scope: 'global' });
  const pruned = noGrad(() => applyMasks(model, masks, { inPlace: false }));
  try {
    return model.withTensors(pruned, () => accuracy(model, ctx.test));
  } finally { dispose(masks); dispose(pruned); }
}
