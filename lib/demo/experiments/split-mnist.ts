// Task-incremental split MNIST (5 tasks: digits 0/1, 2/3, 4/5, 6/7, 8/9, a shared network read through each
// task's two logits) trained in sequence with a fresh Adam per task, and EWC with the Squisher (that task's
// Adam v, per-example mean scale B·v), the exact Fisher (mean over the task's examples), or no penalty.
import { EWC } from '../../apps';
import { Tensor, dispose } from '../../tensor';
import { accuracy, subset, train } from '../loop';
import { TaskHead, mlp } from '../model';
import { Ctx } from './context';

export const TASKS = [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]];
export type EwcMode = 'none' | 'squisher' | 'fisher';

export interface SplitResult {
  /** mode -> mean accuracy over the 5 tasks after training on all of them, and per task. */
  runs: Record<EwcMode, { mean: number; perTask: number[] }>;
  lambda: number;
}

export async function splitMnist(ctx: Ctx): Promise<SplitResult> {
  const { cfg, deps } = ctx;
  const trainSets = TASKS.map((c) => subset(ctx.train, c, cfg.ewcPerTask));
  const testSets = TASKS.map((c) => subset(ctx.test, c));
  const modes: EwcMode[] = ['none', 'squisher', 'fisher'];
  const runs = {} as SplitResult['runs'];
  let stage = 0;
  for (const mode of modes) {
    const model = mlp(cfg.hidden, cfg.seed, ctx.device);
    const ewc = new EWC({ lambda: cfg.ewcLambda });
    for (let t = 0; t < TASKS.length; t++) {
      const opt = deps.adam(model, cfg.lr);
      await train(model, opt, trainSets[t], {
        batchSize: cfg.batchSize, epochs: cfg.ewcEpochs, seed: cfg.seed + t, classes: TASKS[t], signal: ctx.signal,
        extraLoss: mode === 'none' || ewc.tasks === 0 ? undefined : () => ewc.penalty(model),
      });
      if (mode !== 'none' && t < TASKS.length - 1) {
        let F: Map<string, Tensor>;
        const N = trainSets[t].x.shape[0];
        if (mode === 'squisher') F = deps.squisher(opt, { batchSize: cfg.batchSize, datasetSize: N, scale: 'mean' });
        else {
          const head = new TaskHead(model, TASKS[t]);
          const m = Math.min(cfg.fisherN, N);
          const data = { x: trainSets[t].x.narrow(0, 0, m), y: trainSets[t].y.narrow(0, 0, m).sub(TASKS[t][0]) };
          F = TaskHead.unprefix(await deps.fisher(head, data, { batchSize: 256, reduction: 'mean', signal: ctx.signal }));
        }
        ewc.consolidate(model, F);
        dispose(F);
      }
      ctx.progress({ stage: 'split MNIST + EWC', done: ++stage, total: modes.length * TASKS.length });
    }
    const perTask = TASKS.map((c, t) => accuracy(model, testSets[t], c));
    runs[mode] = { mean: perTask.reduce((a, b) => a + b, 0) / perTask.length, perTask };
    ewc.dispose();
    model.dispose();
  }
  dispose(trainSets); dispose(testSets);
  return { runs, lambda: cfg.ewcLambda };
}
