// The graph engine's term axis (issue 10): exact (one term per class, weighted by √p, or per regression
// output) and mc (one term per sampled label set) run ONE vmapped backward per batch and chunk of terms,
// whose output gradients are ∂loss/∂logits written out (native/fisher/loss.cpp termGrads). Checked three
// ways: meta.backwards counts the backwards, the result matches float64 torch.func, and it equals the
// one-plain-backward-per-term path (termsPerBackward: 1, autograd through the loss) on the same draws.
import { fisherDiagonal, Tensor } from '../../lib';
import { OptionError } from '../../lib/errors';
import { fixtureJson } from '../helpers/oracle';
import { data, ref, relErr, scriptModel, worstRelErr } from './_ref';
import { loadCase, worstOf } from './_models';

const real = fixtureJson('real_models.json');
const loadReal = (name: string) => loadCase('real', name);
const worst = (a: Map<string, Tensor>, b: (k: string) => Tensor, names: string[]): number => worstOf(a, b, names)[0];

// name, variant, terms per batch (classes, outputs or samples)
const REAL: [string, 'exact' | 'mc', number][] = [
  ['rescnn', 'exact', 4], ['rescnn', 'mc', real.k], ['resnet18', 'exact', 4], ['bert', 'exact', 3], ['bert', 'mc', real.k],
  ['gpt2', 'mc', real.k],  // sequence logits [N, T, C] after the causal shift, -100 labels in 3 of 8 rows
  ['tied', 'exact', 5], ['control', 'mc', real.k],  // tied weights; uses inside if and loop bodies
  ['unsupported', 'exact', 3],  // parameters on the per-parameter fallback (per term, from the loss vector)
];

describe.each(REAL)('%s %s: one vmapped backward per batch', (name, variant, terms) => {
  const c = real.cases[name];
  const { m, d, ref: r } = loadReal(name);
  const base = { variant, batchSize: real.batch, samples: real.k, seed: real.seed, output: c.output ?? undefined, shift: c.shift };
  const batches = Math.ceil(d.x.shape[0] / real.batch);
  expect(terms).toBeGreaterThan(1);

  test('meta counts one backward per batch; equals torch.func and the per-term path', async () => {
    const F = await fisherDiagonal(m, d, base);
    expect({ backwards: F.meta.backwards, termAxis: F.meta.termAxis }).toEqual({ backwards: batches, termAxis: 'vmapped' });
    expect(worst(F, (k) => r.get(`${variant}/${k}`)!, c.checked)).toBeLessThan(1e-4);
    const P = await fisherDiagonal(m, d, { ...base, termsPerBackward: 1 });
    expect({ backwards: P.meta.backwards, termAxis: P.meta.termAxis }).toEqual({ backwards: batches * terms, termAxis: 'per term (asked for)' });
    expect(worst(F, (k) => P.get(k)!, c.params)).toBeLessThan(1e-5);
    F.dispose(); P.dispose();
  });
});

test('terms in chunks: ceil(terms / termsPerBackward) backwards per batch, the same numbers', async () => {
  const m = scriptModel('mlp'), d = data('mlp');  // 4 classes
  const opts = { variant: 'exact' as const, batchSize: ref.batch };
  const batches = Math.ceil(d.x.shape[0] / ref.batch);
  const one = await fisherDiagonal(m, d, opts);
  expect(one.meta.backwards).toBe(batches);
  for (const [chunk, per] of [[3, 2], [2, 2], [4, 1], [9, 1]]) {
    const F = await fisherDiagonal(m, d, { ...opts, termsPerBackward: chunk });
    expect({ chunk, backwards: F.meta.backwards, termAxis: F.meta.termAxis }).toEqual({ chunk, backwards: batches * per, termAxis: 'vmapped' });
    expect(worstRelErr(F, ref.mlp.fisher.exact)).toBeLessThan(1e-4);
    for (const [k, t] of F) expect(relErr(t, one.get(k)!)).toBeLessThan(1e-6);
    F.dispose();
  }
});

test.each(['exact', 'mc'] as const)('regression %s: one backward per batch over the outputs / samples, equal to torch.func', async (variant) => {
  const m = scriptModel('reg'), d = data('reg');  // 2 outputs
  const opts = { variant, task: 'regression' as const, batchSize: ref.batch, samples: ref.k, seed: ref.seed };
  const batches = Math.ceil(d.x.shape[0] / ref.batch);
  const F = await fisherDiagonal(m, d, opts);
  expect({ backwards: F.meta.backwards, termAxis: F.meta.termAxis }).toEqual({ backwards: batches, termAxis: 'vmapped' });
  expect(worstRelErr(F, ref.reg.fisher[variant])).toBeLessThan(1e-4);
  const P = await fisherDiagonal(m, d, { ...opts, termsPerBackward: 1 });
  expect(P.meta.backwards).toBe(batches * (variant === 'exact' ? 2 : ref.k));
  for (const [k, t] of F) expect(relErr(t, P.get(k)!)).toBeLessThan(1e-6);
});

test('one term (empirical, mc with k = 1) is one plain backward per batch; termsPerBackward is checked', async () => {
  const m = scriptModel('cnn'), d = data('cnn');
  const batches = Math.ceil(d.x.shape[0] / ref.batch);
  for (const o of [{ variant: 'empirical' as const }, { variant: 'mc' as const, samples: 1 }]) {
    const F = await fisherDiagonal(m, d, { ...o, batchSize: ref.batch });
    expect(F.meta.backwards).toBe(batches);
    expect(F.meta.termAxis).toBeUndefined();
  }
  await expect(fisherDiagonal(m, d, { variant: 'exact', termsPerBackward: 0 })).rejects.toThrow(new OptionError('termsPerBackward must be a positive integer, got 0'));
});
