// Every application formula against PyTorch on the same tensors (scripts/fixtures/apps.py): EWC penalty
// and its gradient by autograd, masks by torch.nn.utils.prune, merges, FISH top-k, the Laplace marginal
// likelihood and its maximiser, probit, NLL, ECE, Task2Vec.
import { apps, loadSafetensors, Tensor, tensor, grad, nn } from '../../lib';
import { fixture, fixtureJson } from '../helpers/oracle';
import { maxDiff } from '../helpers/tensors';

const inp = loadSafetensors(fixture('apps_in.safetensors'));
const ref = loadSafetensors(fixture('apps_ref.safetensors'));
const js = fixtureJson('apps_ref.json');
const names = ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias'];
const get = (tag: string, m: Map<string, Tensor> = inp) => new Map(names.map((n) => [n, m.get(`${tag}/${n}`)!]));
const refOf = (tag: string) => get(tag, ref);
const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);

function expectMapsClose(a: Map<string, Tensor>, b: Map<string, Tensor>, tol: number): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [n, t] of a) expect([n, maxDiff(t, b.get(n)!) < tol]).toEqual([n, true]);
}

describe('EWC', () => {
  test('penalty (λ/2)ΣF(θ-θ*)² and its gradient equal PyTorch autograd', () => {
    const theta = new Map(names.map((n) => [n, inp.get(`theta/${n}`)!.clone().requiresGrad_(true)] as [string, Tensor]));
    const p = apps.ewcPenalty(theta, get('F1'), get('anchor'), js.ewc_lambda);
    expect(rel(p.item(), js.ewc_single)).toBeLessThan(1e-6);
    const g = grad(p, names.map((n) => theta.get(n)!));
    names.forEach((n, i) => expect(maxDiff(g[i]!, ref.get(`ewc_grad/${n}`)!)).toBeLessThan(1e-4));
  });
  test('multi-task sums one penalty per consolidated task; online decays F by γ at the latest θ*', () => {
    const theta = get('theta');
    const multi = new apps.EWC({ lambda: js.ewc_lambda });
    expect(multi.penalty(theta).item()).toBe(0);
    multi.consolidate(get('anchor'), get('F1'));
    multi.consolidate(get('anchor2'), get('F2'));
    expect(multi.tasks).toBe(2);
    expect(rel(multi.penalty(theta).item(), js.ewc_multi)).toBeLessThan(1e-6);
    const online = new apps.EWC({ lambda: js.ewc_lambda, mode: 'online', gamma: js.ewc_gamma });
    online.consolidate(get('anchor'), get('F1'));
    online.consolidate(get('anchor2'), get('F2'));
    expect(online.tasks).toBe(1);
    expect(rel(online.penalty(theta).item(), js.ewc_online)).toBeLessThan(1e-6);
    // consolidate copies: the caller's tensors may change afterwards without moving the anchor
    const a = new Map([...get('anchor')].map(([k, v]) => [k, v.clone()]));
    const e = new apps.EWC({ lambda: js.ewc_lambda });
    e.consolidate(a, get('F1'));
    for (const t of a.values()) t.fill_(0);
    expect(rel(e.penalty(theta).item(), js.ewc_single)).toBeLessThan(1e-6);
    e.dispose(); multi.dispose(); online.dispose();
  });
  test('errors name the parameter; squisherScale is B (mean Fisher) or N·B (summed)', () => {
    const bad = get('F1'); bad.set('fc1.bias', tensor([1, 2]));
    expect(() => apps.ewcPenalty(get('theta'), bad, get('anchor'), 1)).toThrow(/'fc1.bias' has shape \[2\] but the parameter has shape \[8\]/);
    const extra = get('F1'); extra.set('fc9.weight', tensor([1]));
    expect(() => apps.ewcPenalty(get('theta'), extra, get('anchor'), 1)).toThrow(/'fc9.weight'/);
    expect(() => new apps.EWC({ lambda: -1 })).toThrow(/lambda/);
    expect(apps.squisherScale({ batchSize: 128, to: 'mean' })).toBe(128);
    expect(apps.squisherScale({ batchSize: 128, datasetSize: 60000, to: 'sum' })).toBe(128 * 60000);
    expect(() => apps.squisherScale({ batchSize: 128, to: 'sum' })).toThrow(/datasetSize/);
  });
});

describe('pruning', () => {
  const weights = ['fc1.weight', 'fc2.weight'];
  test.each([['fisher', 'global'], ['fisher', 'layer'], ['magnitude', 'global'], ['magnitude', 'layer']] as const)(
    '%s / %s masks equal torch.nn.utils.prune with the same importance scores', (method, scope) => {
      const masks = apps.pruneMasks(get('theta'), { sparsity: js.prune_sparsity, method, scope, fisher: get('F1') });
      expect([...masks.keys()]).toEqual(weights);  // default: ≥2-d weights only, no biases
      for (const n of weights) {
        expect(masks.get(n)!.dtype).toBe('bool');
        expect(masks.get(n)!.to('uint8').equal(ref.get(`mask_${method}_${scope}/${n}`)!)).toBe(true);
      }
    });
  test('random pruning removes exactly round(s·n) entries, reproducibly by seed', () => {
    const a = apps.pruneMasks(get('theta'), { sparsity: 0.75, method: 'random', seed: 3 });
    const b = apps.pruneMasks(get('theta'), { sparsity: 0.75, method: 'random', seed: 3 });
    const off = [...a.values()].reduce((s, m) => s + m.numel - m.countNonzero(), 0);
    expect(off).toBe(Math.round(0.75 * (48 + 32)));
    for (const n of weights) expect(a.get(n)!.equal(b.get(n)!)).toBe(true);
    const c = apps.pruneMasks(get('theta'), { sparsity: 0.5, method: 'random', scope: 'layer', seed: 1 });
    expect(c.get('fc1.weight')!.countNonzero()).toBe(24);
    expect(c.get('fc2.weight')!.countNonzero()).toBe(16);
  });
  test('applyMasks in place or to a copy; sparsity report; gradients masked; default prunable of a Module', () => {
    const masks = apps.pruneMasks(get('theta'), { sparsity: 0.6, method: 'magnitude' });
    const src = get('theta');
    const copy = apps.applyMasks(src, masks, { inPlace: false });
    expect(src.get('fc1.weight')!.countNonzero()).toBe(48);  // input untouched
    const r = apps.sparsityReport(copy, weights);
    expect(r.zeros).toBe(48);
    expect(r.sparsity).toBeCloseTo(0.6, 10);
    expect(r.layers.map((l) => l.zeros).reduce((a, b) => a + b)).toBe(48);
    expect(maxDiff(copy.get('fc1.bias')!, src.get('fc1.bias')!)).toBe(0);
    const m = new nn.Sequential(new nn.Linear(6, 8), new nn.ReLU(), new nn.LayerNorm(8), new nn.Linear(8, 4));
    expect(apps.defaultPrunable(m)).toEqual(['0.weight', '3.weight']);
    const mm = apps.pruneMasks(m, { sparsity: 0.5, method: 'magnitude' });
    apps.applyMasks(m, mm);
    expect(apps.sparsityReport(m, ['0.weight', '3.weight']).sparsity).toBeCloseTo(0.5, 10);
    const out = m.call(inp.get('theta/fc1.weight')!) as Tensor;  // any [8, 6] input
    out.sum().backward();
    apps.maskGradients(m, mm);
    const g = m.namedParameters()[0][1].grad!;
    expect(g.mul(mm.get('0.weight')!.logicalNot()).abs().sum().item()).toBe(0);
    expect(g.abs().sum().item()).toBeGreaterThan(0);
    expect(() => apps.pruneMasks(get('theta'), { sparsity: 1.5 })).toThrow(/sparsity must be a number in \[0, 1\], got 1.5/);
    expect(() => apps.pruneMasks(get('theta'), { sparsity: 0.5 })).toThrow(/needs `fisher`/);
  });
});

describe('merging', () => {
  const models = [0, 1, 2].map((i) => get(`m${i}`));
  const fishers = [0, 1, 2].map((i) => get(`fm${i}`));
  test('Fisher merge with weights and floor, with and without normalisation; plain average', async () => {
    const o = { weights: js.merge_weights, floor: js.merge_floor };
    const f = await apps.mergeModels(models, fishers, o);
    expectMapsClose(f.merged, refOf('merge_fisher'), 1e-5);
    const fnorm = await apps.mergeModels(models, fishers, { ...o, normalize: true });
    expectMapsClose(fnorm.merged, refOf('merge_fisher_norm'), 1e-5);
    const avg = await apps.mergeModels(models, null, { weights: js.merge_weights });
    expectMapsClose(avg.merged, refOf('merge_avg'), 1e-6);
  });
  test('gradient matching θ0 + (δ+ΣF_i)⁻¹Σ(δ+F_i)(θ_i-θ0)', async () => {
    const gm = await apps.mergeModels(models, fishers, { method: 'gradient-matching', base: apps.mapSource(get('theta0')), baseFisher: js.merge_delta });
    expectMapsClose(gm.merged, refOf('merge_gm'), 1e-5);
  });
  test('mismatched models, shapes and Fishers are named; progress is reported', async () => {
    const short = get('m1'); short.delete('fc2.bias');
    await expect(apps.mergeModels([models[0], short], null)).rejects.toThrow(/model 2 does not have the same tensors as model 1; missing: fc2.bias/);
    const badF = get('fm1'); badF.set('fc1.weight', tensor([1, 2, 3]));
    await expect(apps.mergeModels(models.slice(0, 2), [fishers[0], badF])).rejects.toThrow(/Fisher 'fc1.weight' in fisher 2 has shape \[3\]/);
    await expect(apps.mergeModels(models, fishers.slice(0, 2))).rejects.toThrow(/2 Fisher diagonals for 3 models/);
    const ac = new AbortController();
    ac.abort();
    await expect(apps.mergeModels(models, fishers, { signal: ac.signal })).rejects.toThrow(/merge: aborted/);
    const seen: string[] = [];
    await apps.mergeModels(models, fishers, { onProgress: (p) => seen.push(`${p.done}/${p.total}:${p.name}:${p.phase}`) });
    expect(seen).toEqual(names.map((n, i) => `${i + 1}/4:${n}:merge`));
  });
});

describe('FISH mask, Laplace, Task2Vec', () => {
  test('FISH mask keeps the global top-k of F', () => {
    const m = apps.fishMask(get('F1'), { k: js.fish_k });
    for (const n of names) expect(m.get(n)!.to('uint8').equal(ref.get(`fish/${n}`)!)).toBe(true);
    const byFrac = apps.fishMask(get('F1'), { keep: js.fish_k / 92 });
    expect([...byFrac.values()].reduce((s, t) => s + t.countNonzero(), 0)).toBe(js.fish_k);
  });
  test('posterior variance, marginal likelihood and its maximiser', async () => {
    expectMapsClose(apps.posteriorVariance(get('F1'), 0.7), refOf('laplace_var'), 1e-6);
    const inpL = { fisher: get('F1'), params: get('theta'), logLikelihood: js.laplace_loglik };
    for (const [d, v] of Object.entries(js.laplace_marglik)) expect(rel(apps.logMarginalLikelihood(inpL, Number(d)), v as number)).toBeLessThan(1e-9);
    const best = await apps.optimizePriorPrecision(inpL);
    expect(rel(best.priorPrecision, js.laplace_best)).toBeLessThan(1e-6);
    const grid = await apps.optimizePriorPrecision(inpL, { method: 'grid', grid: [0.1, 0.3, 1, 3], evaluate: (d) => -apps.logMarginalLikelihood(inpL, d) });
    expect(grid.priorPrecision).toBe(0.3);
  });
  test('probit predictive, last-layer logit variance, NLL and ECE', () => {
    expect(maxDiff(apps.probitPredictive(inp.get('logits')!, inp.get('logit_var')!), ref.get('probit')!)).toBeLessThan(1e-6);
    expect(maxDiff(apps.lastLayerLogitVariance(inp.get('feats')!, inp.get('F1/fc2.weight')!, inp.get('F1/fc2.bias')!), ref.get('ll_var')!)).toBeLessThan(1e-5);
    const probs = inp.get('logits')!.softmax(-1);
    expect(rel(apps.nll(probs, inp.get('labels')!), js.nll)).toBeLessThan(1e-6);
    expect(Math.abs(apps.ece(probs, inp.get('labels')!) - js.ece)).toBeLessThan(1e-6);
  });
  test('sampling predictive: zero variance gives the model itself; a big one changes it', () => {
    const m = new nn.Linear(6, 3);
    const x = inp.get('feats')!.narrow(1, 0, 6);
    const v0 = new Map(m.namedParameters().map(([n, t]) => [n, t.mul(0)]));
    const p0 = apps.samplePredictive(m, v0, x, { samples: 3 });
    expect(maxDiff(p0, (m.call(x) as Tensor).softmax(-1).detach())).toBeLessThan(1e-6);
    const v1 = new Map(m.namedParameters().map(([n, t]) => [n, t.mul(0).add(4)]));
    expect(maxDiff(apps.samplePredictive(m, v1, x, { samples: 3, seed: 0 }), p0)).toBeGreaterThan(1e-2);
    expect(maxDiff(apps.samplePredictive(m, v1, x, { samples: 3, seed: 0 }), apps.samplePredictive(m, v1, x, { samples: 3, seed: 0 }))).toBe(0);
  });
  test('Task2Vec embedding (per-filter means) and normalised cosine distance', () => {
    const a = apps.task2vecEmbedding(get('F1'));
    expect(maxDiff(a, ref.get('t2v_a')!)).toBeLessThan(1e-6);
    const b = apps.task2vecEmbedding(get('F2'));
    expect(Math.abs(apps.task2vecDistance(a, b) - js.t2v_dist)).toBeLessThan(1e-9);
    expect(apps.task2vecDistance(a, a)).toBeCloseTo(0, 12);
    const d = apps.task2vecDistances([a, b]);
    expect(d[0][1]).toBe(d[1][0]);
  });
});
