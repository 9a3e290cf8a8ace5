// The worker_threads example for TS-built modules (examples/fisher-worker-threads, linked from the
// README): the Fisher computed in a Worker equals the one computed on the main thread, and progress
// arrives as { done, total, phase } messages. The example runs the compiled package (dist/), as a user's
// code would, so this test uses dist/ throughout (its Tensor class is not lib/'s under ts-jest).
import * as path from 'path';
import { tmpDir } from '../helpers/oracle';

const ROOT = path.resolve(__dirname, '..', '..');
const EX = path.join(ROOT, 'examples', 'fisher-worker-threads');
/* eslint-disable @typescript-eslint/no-var-requires */
const sq = require(path.join(ROOT, 'dist'));
const { fisherInWorker } = require(path.join(EX, 'fisher-in-worker.js'));
const { build } = require(path.join(EX, 'model.js'));
/* eslint-enable @typescript-eslint/no-var-requires */

test('a TS-built model\'s Fisher in a worker thread equals the main thread\'s', async () => {
  sq.manualSeed(3);
  const dir = tmpDir();
  const model = build();
  const x = sq.randn([20, 1, 8, 8]), y = sq.randint(0, 3, [20]);
  sq.saveSafetensors(path.join(dir, 'w.safetensors'), model.stateDict());
  sq.saveSafetensors(path.join(dir, 'd.safetensors'), new Map([['x', x], ['y', y]]));
  const progress: number[] = [];
  const meta = await fisherInWorker({
    model: path.join(EX, 'model.js'), weights: path.join(dir, 'w.safetensors'), data: path.join(dir, 'd.safetensors'),
    out: path.join(dir, 'F.safetensors'), options: { variant: 'exact', batchSize: 8 }, onProgress: (p: { done: number }) => progress.push(p.done),
  });
  expect(meta).toMatchObject({ variant: 'exact', N: 20, engine: 'fast' });
  expect(progress).toEqual([8, 16, 20]);
  const inWorker = sq.FisherDiagonal.load(path.join(dir, 'F.safetensors'));
  const here = await sq.fisherDiagonal(model, { x, y }, { variant: 'exact', batchSize: 8 });
  expect([...inWorker.keys()]).toEqual([...here.keys()]);
  for (const [k, t] of here) expect(inWorker.get(k).sub(t).abs().max().item()).toBeLessThanOrEqual(1e-6 * t.abs().max().item());
});
