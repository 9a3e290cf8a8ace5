// Fisher merging: one MLP pre-trained briefly on all digits, fine-tuned into two copies on digits 0-4 and
// 5-9 (fresh Adam each), merged by plain averaging, by the Squisher of each fine-tuning run (N·B·v), and by
// the exact Fisher of each model on its own digits (summed, rescaled to N); 10-digit test accuracy.
import { mergeModels } from '../../apps';
import { Module } from '../../nn/module';
import { Tensor, dispose } from '../../tensor';
import { accuracy, head, subset, train } from '../loop';
import { cloneModel, mlp } from '../model';
import { Ctx, rescale } from './context';

export interface MergeResult {
  base: number; modelA: number; modelB: number;
  average: number; squisher: number; fisher: number;
}

export async function merging(ctx: Ctx): Promise<MergeResult> {
  const { cfg, deps } = ctx;
  const base = mlp(cfg.hidden, cfg.seed, ctx.device);
  const progress = (done: number) => ctx.progress({ stage: 'merging', done, total: 6 });
  await train(base, deps.adam(base, cfg.lr), head(ctx.train, cfg.mergeBaseN), { batchSize: cfg.batchSize, epochs: cfg.mergeEpochs, seed: cfg.seed, signal: ctx.signal });
  progress(1);
  const halves = [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]];
  const models: Module[] = [];
  const squishers: Map<string, Tensor>[] = [];
  const fishers: Map<string, Tensor>[] = [];
  for (let i = 0; i < 2; i++) {
    const m = cloneModel(base, cfg.hidden, ctx.device);
    const data = subset(ctx.train, halves[i], cfg.mergeFinetuneN);
    const N = data.x.shape[0];
    const opt = deps.adam(m, cfg.mergeLr);
    await train(m, opt, data, { batchSize: cfg.batchSize, epochs: cfg.mergeEpochs, seed: cfg.seed + 1 + i, signal: ctx.signal });
    squishers.push(deps.squisher(opt, { batchSize: cfg.batchSize, datasetSize: N, scale: 'sum' }));
    const M = Math.min(cfg.fisherN, N);
    fishers.push(rescale(await deps.fisher(m, head(data, M), { batchSize: 256, reduction: 'sum', signal: ctx.signal }), N / M));
    models.push(m);
    dispose(data);
    progress(2 + i);
  }
  const params = models.map((m) => new Map(m.namedParameters()));
  const evalMerged = async (fs: Map<string, Tensor>[] | null): Promise<number> => {
    const r = await mergeModels(params, fs, { floor: 1e-6 });
    const probe = cloneModel(base, cfg.hidden, ctx.device);
    probe.loadStateDict(r.merged);
    dispose(r.merged);
    const acc = accuracy(probe, ctx.test);
    probe.dispose();
    return acc;
  };
  const result: MergeResult = {
    base: accuracy(base, ctx.test), modelA: accuracy(models[0], ctx.test), modelB: accuracy(models[1], ctx.test),
    average: await evalMerged(null), squisher: 0, fisher: 0,
  };
  progress(4);
  result.squisher = await evalMerged(squishers);
  progress(5);
  result.fisher = await evalMerged(fishers);
  progress(6);
  for (const d of [...squishers, ...fishers]) dispose(d);
  for (const m of [...models, base]) m.dispose();
  return result;
}
