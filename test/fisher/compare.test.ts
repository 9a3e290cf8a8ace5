// compareDiagonals against numpy (Pearson, Spearman with average ranks for ties, best scale, relative
// L2, top-k overlap), and the scatter plots.
import { PNG } from 'pngjs';
import { compareDiagonals, tensor, Tensor } from '../../lib';
import { scatterPng, scatterSvg } from '../../lib/plot';
import { python } from '../helpers/oracle';

function lcg(seed: number) { let s = seed; return () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648); }

test('per-tensor and overall statistics equal a numpy computation, ties included', () => {
  const r = lcg(3);
  const a1 = Array.from({ length: 200 }, () => r() ** 3), b1 = a1.map((v) => v * 2.5 + 0.1 * r());
  // many ties (rounded values) in the second tensor
  const a2 = Array.from({ length: 60 }, () => Math.round(r() * 5) / 5), b2 = a2.map((v, i) => (i % 7 === 0 ? 0 : v + r() * 0.3));
  const ref = python(`import json, numpy as np, sys
d = json.loads(sys.argv[1])
def ranks(x):  # average ranks by definition: #smaller + (#equal + 1)/2
    x = np.asarray(x); return np.array([(x < v).sum() + ((x == v).sum() + 1) / 2 for v in x])
def stats(a, b):
    a = np.asarray(a, dtype=np.float64); b = np.asarray(b, dtype=np.float64)
    s = float(np.linalg.lstsq(a[:, None], b, rcond=None)[0][0])
    out = {'pearson': float(np.corrcoef(a, b)[0, 1]), 'spearman': float(np.corrcoef(ranks(a), ranks(b))[0, 1]),
           'scale': s, 'relL2': float(np.linalg.norm(s * a - b) / np.linalg.norm(b))}
    k = max(1, round(0.1 * len(a)))
    out['top10'] = len(set(np.argsort(-a, kind='stable')[:k]) & set(np.argsort(-b, kind='stable')[:k])) / k
    return out
print(json.dumps({'t1': stats(d['a1'], d['b1']), 't2': stats(d['a2'], d['b2']), 'all': stats(d['a1'] + d['a2'], d['b1'] + d['b2'])}))`,
  [JSON.stringify({ a1, b1, a2, b2 })]);
  const f32 = (x: number[]) => tensor(Float64Array.from(x));
  const c = compareDiagonals(new Map([['t1', f32(a1)], ['t2', f32(a2)], ['extra', f32([1])]]), new Map([['t1', f32(b1)], ['t2', f32(b2)]]));
  expect(c.onlyInA).toEqual(['extra']);
  for (const [got, exp] of [[c.perTensor.t1, ref.t1], [c.perTensor.t2, ref.t2], [c.overall, ref.all]] as const) {
    expect(got.pearson).toBeCloseTo(exp.pearson, 10);
    expect(got.spearman).toBeCloseTo(exp.spearman, 10);
    expect(got.scale).toBeCloseTo(exp.scale, 10);
    expect(got.relL2).toBeCloseTo(exp.relL2, 10);
  }
  // t1 has no ties, so its top-k sets are well defined
  expect(c.perTensor.t1.topk['10%']).toBeCloseTo(ref.t1.top10, 12);
  expect(Object.keys(c.overall.topk)).toEqual(['1%', '5%', '10%']);
});

test('identical diagonals up to a factor: correlation 1, error 0, the factor found, full overlap', () => {
  const a = tensor([1e-6, 3e-4, 2, 5, 0.25, 7, 1e-3, 4]);
  const c = compareDiagonals(new Map([['w', a]]), new Map([['w', a.mul(192)]]), { topk: [0.25, 0.5] });
  expect(c.overall.pearson).toBeCloseTo(1, 6);
  expect(c.overall.spearman).toBe(1);
  expect(c.overall.scale).toBeCloseTo(192, 3);
  expect(c.overall.relL2).toBeLessThan(1e-6);
  expect(c.overall.topk).toEqual({ '25%': 1, '50%': 1 });
});

test('errors name the tensor and the shapes', () => {
  const m = (k: string, t: Tensor) => new Map([[k, t]]);
  expect(() => compareDiagonals(m('a', tensor([1, 2])), m('b', tensor([1, 2])))).toThrow(/share no tensor names/);
  expect(() => compareDiagonals(m('w', tensor([1, 2])), m('w', tensor([1, 2, 3])))).toThrow(/'w' has shape \[2\] in a but \[3\] in b/);
  expect(() => compareDiagonals(m('w', tensor([1, 2])), m('w', tensor([1, 2])), { topk: [2] })).toThrow(/fractions must be in \(0, 1\]/);
});

test('scatter plots: an SVG with one mark per positive point, and a PNG that decodes', () => {
  const x = [1e-4, 1e-2, 1, 10, 0, -1], y = [2e-4, 3e-2, 1, 20, 1, 1];
  const svg = scatterSvg(x, y, { title: 'squisher vs exact', xLabel: 'squisher', yLabel: 'exact' });
  expect(svg.startsWith('<svg')).toBe(true);
  expect((svg.match(/M[\d.]+ [\d.]+h0/g) ?? []).length).toBe(4);
  expect(svg).toContain('2 non-positive point(s) not shown');
  const png = PNG.sync.read(scatterPng(x, y, { width: 300, height: 200 }));
  expect([png.width, png.height]).toEqual([300, 200]);
  expect(() => scatterSvg([0], [1])).toThrow(/no point has both values positive/);
});
