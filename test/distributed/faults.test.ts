// Faults in a data-parallel Fisher: a rank killed mid-run makes the others fail with a DistributedError
// naming it and nothing is written; Ctrl-C on the launcher (squisher fisher --nproc-per-node) stops every
// worker and writes nothing.
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { saveSafetensors } from '../../lib/io';
import { manualSeed } from '../../lib/device';
import { randint, randn } from '../../lib/tensor';
import { fixture, tmpDir } from '../helpers/oracle';
import { runRanks } from './helpers';

const CLI = path.resolve(__dirname, '..', '..', 'dist', 'cli', 'main.js');

test('a rank killed mid-run: the others fail naming it, and no output is written', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'F.safetensors');
  const r = await runRanks(3, 'fisher-fault.js', [path.dirname(fixture('dist/cnn.jit.pt')), out]);
  expect(r.exits[2].signal).toBe('SIGKILL');
  for (const k of [0, 1]) {
    expect(r.results[k].error).toMatchObject({ name: 'DistributedError', rank: 2 });
    expect(r.results[k].error.message).toMatch(/rank 2 died/);
  }
  expect(fs.readdirSync(dir)).toEqual([]);
});

test('a rank that fails on its own data: the others stop at once (not at the 20 s timeout) with its message', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'F.safetensors');
  const r = await runRanks(2, 'fisher-fault.js', [path.dirname(fixture('dist/cnn.jit.pt')), out, 'throw']);
  expect(r.results[1].error.message).toMatch(/classification needs integer class labels/);
  expect(r.results[0].error).toMatchObject({ name: 'DistributedError', rank: 1 });
  expect(r.results[0].error.message).toMatch(/rank 1 failed: (fisherDiagonal: )?classification needs integer class labels/);
  expect(r.results[0].ms).toBeLessThan(15_000);
  expect(fs.readdirSync(dir)).toEqual([]);
});

test('Ctrl-C on the launcher stops every worker; nothing is written', async () => {
  const dir = tmpDir();
  manualSeed(3);
  const x = randn([6000, 1, 8, 8]), y = randint(0, 3, [6000]);
  saveSafetensors(path.join(dir, 'data.safetensors'), new Map([['x', x], ['y', y]]));
  x.dispose(); y.dispose();
  const out = path.join(dir, 'F.safetensors');
  const child = spawn(process.execPath, [CLI, 'fisher', '--model', fixture('dist/cnn.jit.pt'), '--data', path.join(dir, 'data.safetensors'),
    '--variant', 'exact', '--engine', 'vmap', '--batch-size', '8', '--nproc-per-node', '2', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  const started = new Promise<void>((resolve) => {
    child.stderr.on('data', (b) => { err += String(b); if (/\[rank 1\] fisher \(exact, rank 1\)/.test(err) && /\[rank 0\] fisher/.test(err)) resolve(); });
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await started;
  child.kill('SIGINT');
  const code = await exited;
  expect(code).toBe(1);
  expect(err).toMatch(/interrupted: every worker was stopped; nothing was written/);
  expect(fs.readdirSync(dir)).toEqual(['data.safetensors']);
});
