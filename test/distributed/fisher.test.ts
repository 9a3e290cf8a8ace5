// The data-parallel Fisher (2 and 3 Gloo ranks on the loopback address, child processes) equals the
// single-process engine within 1e-6 relative for every variant, over in-memory data and over a folder of
// safetensors shards; mc equals the sum of single-process runs over each rank's share seeded seed + rank.
import * as fs from 'fs';
import * as path from 'path';
import { fisherDiagonal, FisherDiagonal } from '../../lib/fisher';
import { loadSafetensors } from '../../lib/io';
import { ScriptModule } from '../../lib/nn/script';
import { exampleIndices, safetensorsFolder } from '../../lib/distributed/shard';
import { arange } from '../../lib/tensor';
import { fixture, tmpDir } from '../helpers/oracle';
import { allText, runRanks } from './helpers';

const dir = (n: string): string => fixture(`dist/${n}`);

/** Worst elementwise |a-b| / |b| over every tensor (entries where b is 0 must be 0 in a too). */
function worstRel(a: FisherDiagonal, b: FisherDiagonal): number {
  expect([...a.keys()]).toEqual([...b.keys()]);
  let worst = 0;
  for (const [k, t] of b) {
    const x = a.get(k)!.toArray(), y = t.toArray();
    for (let i = 0; i < y.length; i++) {
      const d = Math.abs(Number(x[i]) - Number(y[i]));
      worst = Math.max(worst, y[i] === 0 ? (d === 0 ? 0 : Infinity) : d / Math.abs(Number(y[i])));
    }
  }
  return worst;
}

function shardOf(x: any, rank: number, W: number): any {
  const idx = arange(rank, x.shape[0], W, { dtype: 'int64' });
  expect(idx.shape[0]).toBe(exampleIndices(x.shape[0], { rank, worldSize: W }).length);
  return x.indexSelect(0, idx);
}

describe.each([2, 3])('distributed Fisher, %i Gloo ranks', (W) => {
  test('every variant equals the single-process engine (in-memory data and a folder of shards)', async () => {
    const out = tmpDir();
    const r = await runRanks(W, 'fisher.js', [path.dirname(dir('cnn.jit.pt')), out, fixture('real_tied.jit.pt'), fixture('real_tied_data.safetensors')]);
    if (!r.ok) throw new Error(allText(r));
    // Ranks without examples key their zeros as the engine does: a tied tensor once, under its first name.
    const tied = ScriptModule.load(fixture('real_tied.jit.pt'));
    const td = loadSafetensors(fixture('real_tied_data.safetensors'));
    const tref = await fisherDiagonal(tied, { x: td.get('x')!.narrow(0, 0, 1), y: td.get('y')!.narrow(0, 0, 1) });
    const tgot = FisherDiagonal.load(path.join(out, 'tied-one.safetensors'));
    expect([...tgot.keys()]).toEqual([...tref.keys()]);
    expect(worstRel(tgot, tref)).toBeLessThan(1e-6);
    tgot.dispose(); tref.dispose();
    const cnn = ScriptModule.load(dir('cnn.jit.pt'));
    const m = loadSafetensors(dir('cnn_data.safetensors'));
    const x = m.get('x')!, y = m.get('y')!;
    const folder = safetensorsFolder(dir('cnn_shards'));
    for (const variant of ['empirical', 'exact', 'batched'] as const) {
      const ref = await fisherDiagonal(cnn, { x, y }, { variant, batchSize: 16 });
      for (const src of ['mem', 'folder']) {
        const got = FisherDiagonal.load(path.join(out, `${variant}-${src}.safetensors`));
        expect(got.meta).toMatchObject({ variant, N: 90, worldSize: W, reduction: 'sum' });
        expect(worstRel(got, ref)).toBeLessThan(1e-6);
        got.dispose();
      }
      ref.dispose();
    }
    // mc: rank r samples its share with seed + r (the share batched as the engine would, or file by file).
    const parts: FisherDiagonal[] = [], fparts: FisherDiagonal[] = [];
    for (let rank = 0; rank < W; rank++) {
      parts.push(await fisherDiagonal(cnn, { x: shardOf(x, rank, W), y: shardOf(y, rank, W) }, { variant: 'mc', samples: 2, seed: 5 + rank, batchSize: 16 }));
      fparts.push(await fisherDiagonal(cnn, folder.examples(16, { rank, worldSize: W }), { variant: 'mc', samples: 2, seed: 5 + rank }));
    }
    for (const [src, ps] of [['mem', parts], ['folder', fparts]] as const) {
      const sum = new FisherDiagonal([...ps[0]].map(([k, t]) => [k, ps.slice(1).reduce((acc, p) => acc.add(p.get(k)!), t.clone())]));
      const got = FisherDiagonal.load(path.join(out, `mc-${src}.safetensors`));
      expect(got.meta).toMatchObject({ variant: 'mc', N: 90, seed: 5, samples: 2 });
      expect(worstRel(got, sum)).toBeLessThan(1e-6);
      got.dispose(); sum.dispose();
    }
    // regression, exact, mean over examples (vmap engine): divided by the global N, not each rank's.
    const rd = loadSafetensors(dir('reg_data.safetensors'));
    const reg = ScriptModule.load(dir('reg.jit.pt'));
    const ref = await fisherDiagonal(reg, { x: rd.get('x')!, y: rd.get('y')! }, { variant: 'exact', task: 'regression', reduction: 'mean', batchSize: 8, engine: 'vmap' });
    const got = FisherDiagonal.load(path.join(out, 'reg-exact-mean.safetensors'));
    expect(got.meta).toMatchObject({ N: 41, reduction: 'mean', task: 'regression' });
    expect(worstRel(got, ref)).toBeLessThan(1e-6);
    expect(fs.readdirSync(out).filter((f) => f.endsWith('.tmp') || f.startsWith('.'))).toEqual([]);
  });
});
