// Distributed pruning: 3 Gloo ranks split a checkpoint's tensors by name and agree on a global threshold
// without gathering the scores; the pruned checkpoint equals single-process pruneMasks + applyMasks
// exactly, per layer too. Where many scores tie at the threshold (a Fisher with half its entries zero),
// the same number of tied entries go, but which ones may differ: torch.topk (which pruneMasks and
// torch.nn.utils.prune use) picks among ties in no documented order; the distributed rule takes them by
// position. Every entry the two disagree on must then be such a tie.
import * as path from 'path';
import { applyMasks, pruneMasks, saliency } from '../../lib/apps';
import { shardedSource } from '../../lib/distributed/sharded';
import { loadSafetensors, saveSafetensors } from '../../lib/io';
import { manualSeed } from '../../lib/device';
import { rand } from '../../lib/tensor';
import { fixture, tmpDir } from '../helpers/oracle';
import { allText, runRanks } from './helpers';

test('3 ranks: global (with tied scores) and per-layer pruning equal the single-process masks', async () => {
  const dir = tmpDir();
  const model = fixture('apps_cli/m0.safetensors');
  // A Fisher with about half its entries exactly 0: the global threshold falls among ties.
  manualSeed(4);
  const F = loadSafetensors(fixture('apps_cli/f0.safetensors'));
  for (const [k, t] of F) { const r = rand(t.shape); const z = t.mul(r.gt(0.5)); F.set(k, z); r.dispose(); t.dispose(); }
  const fisher = path.join(dir, 'F.safetensors');
  saveSafetensors(fisher, F);
  const r = await runRanks(3, 'prune.js', [model, fisher, dir]);
  if (!r.ok) throw new Error(allText(r));
  const params = loadSafetensors(model);
  const cases: [string, any][] = [['global-fisher', { method: 'fisher', scope: 'global', sparsity: 0.3 }],
    ['global-magnitude', { method: 'magnitude', scope: 'global', sparsity: 0.6 }], ['layer-fisher', { method: 'fisher', scope: 'layer', sparsity: 0.5 }]];
  for (const [name, o] of cases) {
    const masks = pruneMasks(params, { ...o, fisher: F });
    const want = applyMasks(params, masks, { inPlace: false });
    const got = shardedSource(path.join(dir, name));
    expect(got.names()).toEqual([...params.keys()]);
    let removed = 0, prunable = 0;
    for (const m of masks.values()) { removed += m.numel - m.countNonzero(); prunable += m.numel; }
    expect(r.results[0][name]).toEqual({ removed, prunable });
    // The threshold: the largest score removed (single process).
    let v = -Infinity;
    const scores = new Map([...masks.keys()].map((k) => [k, Array.from(saliency(o.method, params.get(k)!, F.get(k)).toArray() as Float32Array)]));
    for (const [k, m] of masks) { const mk = m.toArray(); scores.get(k)!.forEach((s, i) => { if (!mk[i]) v = Math.max(v, s); }); }
    let differ = 0;
    for (const [k, t] of want) {
      const a = Array.from(got.get(k).toArray() as Float32Array), b = Array.from(t.toArray() as Float32Array);
      a.forEach((x, i) => {
        if (Object.is(x, b[i])) return;
        differ++;
        expect(name).toBe('global-fisher');            // only the tie case may differ ...
        expect(scores.get(k)![i]).toBe(v);                 // ... and only on entries tied at the threshold
      });
    }
    if (name === 'global-fisher') expect(v).toBe(0);   // the case does exercise ties
    else expect(differ).toBe(0);
  }
});
