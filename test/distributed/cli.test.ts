// `squisher fisher --nproc-per-node N`: N local workers over a folder of safetensors shards write the
// same Fisher as one process over the same rows in one file; bad launcher options are refused up front.
import * as fs from 'fs';
import * as path from 'path';
import { FisherDiagonal } from '../../lib/fisher';
import { runCli } from '../helpers/cli';
import { fixture, tmpDir } from '../helpers/oracle';

const d = (n: string): string => fixture(`dist/${n}`);

test('fisher --nproc-per-node 2 over a shard folder equals one process over the file (batched)', async () => {
  const dir = tmpDir();
  const one = path.join(dir, 'one.safetensors'), two = path.join(dir, 'two.safetensors');
  const common = ['--model', d('cnn.jit.pt'), '--variant', 'batched', '--batch-size', '16', '--device', 'cpu'];
  await runCli('fisher', ...common, '--data', d('cnn_data.safetensors'), '--out', one);
  await runCli('fisher', ...common, '--data', d('cnn_shards'), '--nproc-per-node', '2', '--out', two);
  const a = FisherDiagonal.load(one), b = FisherDiagonal.load(two);
  expect(b.meta).toMatchObject({ variant: 'batched', N: 90, worldSize: 2, model: d('cnn.jit.pt') });
  for (const [k, t] of a) {
    const x = b.get(k)!.toArray() as Float32Array, y = t.toArray() as Float32Array;
    for (let i = 0; i < y.length; i++) expect(Math.abs(x[i] - y[i])).toBeLessThanOrEqual(1e-6 * Math.abs(y[i]));
  }
  a.dispose(); b.dispose();
  expect(fs.readdirSync(dir).sort()).toEqual(['one.safetensors', 'two.safetensors']);
});

test('fisher --nproc-per-node refuses a bad count and an existing output before starting workers', async () => {
  const dir = tmpDir();
  const base = ['fisher', '--model', d('cnn.jit.pt'), '--data', d('cnn_shards')];
  await expect(runCli(...base, '--nproc-per-node', '0', '--out', path.join(dir, 'a.safetensors'))).rejects.toThrow(/--nproc-per-node must be a positive integer, got '0'/);
  fs.writeFileSync(path.join(dir, 'b.safetensors'), 'keep');
  await expect(runCli(...base, '--nproc-per-node', '2', '--out', path.join(dir, 'b.safetensors'))).rejects.toThrow(/exists; pass --overwrite/);
  expect(fs.readFileSync(path.join(dir, 'b.safetensors'), 'utf8')).toBe('keep');
});
