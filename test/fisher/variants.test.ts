// Every Fisher variant, on both engines, against torch.func references (scripts/fixtures/fisher.py,
// float64): empirical, mc (seeded: the same draws as Python), exact, batched; classification and
// regression; sum and mean; metadata, saving, progress, cancellation and errors.
import * as fs from 'fs';
import * as path from 'path';
import { fisherDiagonal, FisherDiagonal, tensor, randn } from '../../lib';
import { python, tmpDir } from '../helpers/oracle';
import { CASES, data, ref, scriptModel, tsModel, worstRelErr } from './_ref';

const VARIANTS = ['empirical', 'mc', 'exact', 'batched'] as const;

describe.each(CASES)('%s (TorchScript)', (name) => {
  const m = scriptModel(name);
  const d = data(name);
  const opts = { task: ref[name].task, batchSize: ref.batch, samples: ref.k, seed: ref.seed };
  test.each(VARIANTS.flatMap((v): [string, string][] => (v === 'batched' ? [[v, 'auto']] : [[v, 'fast'], [v, 'vmap']])))(
    '%s on the %s engine: rel. err <= 1e-4 against torch.func', async (variant, engine) => {
      const F = await fisherDiagonal(m, d, { ...opts, variant: variant as any, engine: engine as any });
      expect(worstRelErr(F, ref[name].fisher[variant])).toBeLessThan(1e-4);
      expect(F.meta).toMatchObject({ source: 'fisher', variant, task: ref[name].task, N: d.x.shape[0], reduction: 'sum' });
      if (variant === 'mc') expect(F.meta).toMatchObject({ samples: ref.k, seed: ref.seed });
      if (variant !== 'batched') expect(F.meta.engine).toBe(engine === 'fast' ? 'graph' : engine);  // TorchScript: the graph-level fast path
      F.dispose();
    });
});

test("reduction 'mean' is the sum divided by N; a TS-built model gives the same numbers as the scripted one", async () => {
  const d = data('cnn');
  const F = await fisherDiagonal(tsModel('cnn'), d, { variant: 'exact', reduction: 'mean', batchSize: 7 });
  const N = d.x.shape[0];
  const scaled = Object.fromEntries(Object.entries<any>(ref.cnn.fisher.exact).map(([k, v]) => [k, { ...v, data: v.data.map((e: number) => e / N) }]));
  expect(worstRelErr(F, scaled)).toBeLessThan(1e-4);
  expect(F.meta.reduction).toBe('mean');
});

test('saved as safetensors with the metadata in __metadata__, readable by Python; refuses to overwrite', async () => {
  const F = await fisherDiagonal(scriptModel('mlp'), data('mlp'), { variant: 'mc', samples: 2, seed: 3 });
  const dir = tmpDir();
  const file = path.join(dir, 'f.safetensors');
  F.save(file);
  expect(() => F.save(file)).toThrow(/exists/);
  const py = python(`import json,sys
from safetensors import safe_open
with safe_open(sys.argv[1],'pt') as f:
  print(json.dumps({'meta': f.metadata(), 'sum': {k: f.get_tensor(k).double().sum().item() for k in f.keys()}}))`, [file]);
  expect(py.meta).toMatchObject({ 'squisher.variant': 'mc', 'squisher.N': '24', 'squisher.samples': '2', 'squisher.reduction': 'sum', 'squisher.seed': '3' });
  for (const [k, t] of F) expect(py.sum[k]).toBeCloseTo(t.sum(undefined, false, 'float64').item(), 4);
  const back = FisherDiagonal.load(file);
  expect(back.meta).toMatchObject({ variant: 'mc', N: 24, samples: 2, source: 'fisher' });
  expect([...back.keys()]).toEqual([...F.keys()]);
  expect(fs.readdirSync(dir)).toEqual(['f.safetensors']);
});

test('progress is reported per batch; an AbortSignal cancels; async iterables of batches work', async () => {
  const m = scriptModel('mlp');
  const { x, y } = data('mlp');
  const seen: [number, number | null][] = [];
  await fisherDiagonal(m, { x, y }, { batchSize: 10, onProgress: (p) => seen.push([p.done, p.total]) });
  expect(seen).toEqual([[10, 24], [20, 24], [24, 24]]);
  const ac = new AbortController();
  const run = fisherDiagonal(m, { x, y }, { batchSize: 5, onProgress: (p) => { if (p.done === 10) ac.abort(new Error('stop now')); }, signal: ac.signal });
  await expect(run).rejects.toThrow('stop now');
  async function* gen() { yield { x: x.narrow(0, 0, 8), y: y.narrow(0, 0, 8) }; yield { x: x.narrow(0, 8, 16), y: y.narrow(0, 8, 16) }; }
  const F = await fisherDiagonal(m, gen(), { batchSize: 8 });
  expect(worstRelErr(F, ref.mlp.fisher.empirical)).toBeLessThan(1e-4);
});

test('clear errors: label dtype, target rows, unknown variant, no CUDA, empty data; model mode restored', async () => {
  const m = scriptModel('mlp');
  const { x, y } = data('mlp');
  await expect(fisherDiagonal(m, { x, y: y.float() })).rejects.toThrow(/classification needs integer class labels y .* got dtype float32/);
  await expect(fisherDiagonal(m, { x, y: y.narrow(0, 0, 3) })).rejects.toThrow(/x has 24 rows but y has 3/);
  await expect(fisherDiagonal(m, { x, y }, { variant: 'kfac' as any })).rejects.toThrow(/unknown variant 'kfac'/);
  await expect(fisherDiagonal(m, { x, y }, { device: 'cuda' })).rejects.toThrow(/device 'cuda' requested but parameter '0.weight' is on cpu/);
  await expect(fisherDiagonal(m, [])).rejects.toThrow(/held no examples/);
  await expect(fisherDiagonal(tsModel('reg'), { x: randn([4, 6]), y: tensor([[1, 2, 3]]).repeat([4, 1]) }, { task: 'regression' }))
    .rejects.toThrow(/output has shape \[4,2\] but the targets have \[4,3\]/);
  m.train();
  await fisherDiagonal(m, { x, y });
  expect(m.training).toBe(true);
});
