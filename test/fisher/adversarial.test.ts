// Adversarial models for the graph-level Fisher engine (scripts/fixtures/fisher_adversarial.py): shapes that
// could fool its sample-dim logic (a learned query bank with Q = N, position ids [T] with T = N reached
// through unsqueeze/expand/a Linear, a loop over the samples x[i] with T = N, time-major activations, a last batch of 1), in-place writes to captured
// values in loops, `while` with break, nested loops, a list of captured outputs stacked, one weight used by
// aten::linear and aten::matmul in the two branches of an `if`, einsum/bmm, a sequence with no label, multi-dim
// regression, dropout saved in training mode, a timm ViT with as many tokens as samples. Every variant, both
// engines, against float64 torch.func: a wrong number that looks right is the failure this file hunts.
import { fisherDiagonal, Tensor } from '../../lib';
import { fixtureJson } from '../helpers/oracle';
import { loadCase, worstOf } from './_models';

const meta = fixtureJson('adv_models.json');
type Case = { params: string[]; task: 'classification' | 'regression'; variants: string[] };
const cases: Record<string, Case> = meta.cases;
const load = (name: string) => loadCase('adv', name);
const worst = (F: Map<string, Tensor>, ref: Map<string, Tensor>, variant: string, names: string[]) => worstOf(F, (k) => ref.get(`${variant}/${k}`)!, names);

const loaded = new Map<string, ReturnType<typeof load>>();
const get = (name: string) => { if (!loaded.has(name)) loaded.set(name, load(name)); return loaded.get(name)!; };

async function run(name: string, variant: string, engine: string) {
  const c = cases[name];
  const { m, d } = get(name);
  return fisherDiagonal(m, d, { variant: variant as any, engine: engine as any, task: c.task, batchSize: meta.batch, samples: meta.k, seed: meta.seed });
}

const runs = Object.entries(cases).flatMap(([name, c]) => c.variants.flatMap((v) =>
  (name === 'vit' ? ['auto'] : ['auto', 'vmap']).map((e): [string, string, string] => [name, v, e])));

describe('every variant, both engines, against torch.func (float64); batches of 4, 4 and 1', () => {
  test.each(runs)('%s %s (%s engine): rel. err <= 1e-4', async (name, variant, engine) => {
    const F = await run(name, variant, engine);
    expect([...F.keys()]).toEqual(cases[name].params);
    const [err, where] = worst(F, get(name).ref, variant, cases[name].params);
    expect({ err: err < 1e-4 ? 'ok' : err, where, how: F.meta.engineParams ?? F.meta.engine }).toEqual({ err: 'ok', where, how: F.meta.engineParams ?? F.meta.engine });
    if (engine === 'auto' && variant !== 'batched') expect(F.meta.engine).toMatch(/^graph/);
    F.dispose();
  });
});

async function perParameter(name: string): Promise<Record<string, string>> {
  const F = await run(name, 'empirical', 'auto');
  const p = F.meta.engineParams ? JSON.parse(String(F.meta.engineParams)) : Object.fromEntries(cases[name].params.map((k) => [k, String(F.meta.engine)]));
  F.dispose();
  return p;
}

test('what stays on the fast path: captured uses in loops, ifs and in-place rewrites; a broadcast position lookup whose T != N', async () => {
  const fast = async (name: string) => Object.entries(await perParameter(name)).filter(([, v]) => !v.startsWith('fast')).map(([k]) => k);
  for (const name of ['loop_inplace', 'while_break', 'seq_ignore', 'regress', 'dropout_train']) expect({ name, slow: await fast(name) }).toEqual({ name, slow: [] });
  expect(await perParameter('if_two_ways')).toMatchObject({ 'l.weight': 'fast (aten::linear, aten::matmul)', 'l.bias': 'fast (aten::linear)' });
  expect((await perParameter('pos_first'))['pos.weight']).toBe('fast (aten::embedding)');
  expect((await perParameter('loop_unsupported'))['cell.weight']).toMatch(/^fallback .*aten::sum/);
});

test('a value without samples whose first dim equals the batch size (learned queries, position rows with T = N) takes the fallback, and meta says why', async () => {
  const why = "aten::linear input is computed from parameters, buffers and constants alone, or from one sample of an input (x[i]), not from the model's input batch, so it holds no samples whatever its shape";
  const lq = await perParameter('learned_query');
  expect(lq).toMatchObject({ 'kproj.weight': `fallback (vmapped backward): ${why}`, 'vproj.bias': `fallback (vmapped backward): ${why}`, 'qproj.weight': 'fast (aten::linear)' });
  expect((await perParameter('pos_proj'))['proj.weight']).toBe(`fallback (vmapped backward): ${why}`);
  // a loop over the samples: x[i] is one sample's [T, C] with T = N
  expect((await perParameter('per_sample_loop'))['enc.weight']).toBe(`fallback (vmapped backward): ${why}`);
  // the queries expanded over the batch (q.expand(N, ...)) do have a sample per row, and a 1-D per-sample id is a sample
  expect(await perParameter('expanded_query')).toMatchObject({ 'kproj.weight': 'fast (aten::linear)', 'qproj.weight': 'fast (aten::linear)' });
  expect((await perParameter('class_cond'))['cond.weight']).toBe('fast (aten::embedding)');
  const consumers: Record<string, string> = { pos_expand: 'its consumer aten::expand_as', pos_proj: 'its consumer aten::linear', pos_twice_tn: 'its output has 2 consumers' };
  for (const [name, c] of Object.entries(consumers)) {
    const how = (await perParameter(name))['pos.weight'];
    expect({ name, how }).toEqual({ name, how: expect.stringMatching(new RegExp(`^fallback \\(vmapped backward\\): embedding indices have shape \\[4\\] but do not depend on the input's values .*, and they are not broadcast over the batch by one add/sub: ${c}`)) });
  }
  // pos(arange(T)).unsqueeze(0) + h is the broadcast form, but with T = N its [N, T, D] does not say where the samples are
  expect((await perParameter('pos_unsqueeze'))['pos.weight']).toMatch(/^fallback \(vmapped backward\): the add\/sub broadcasting the embedding over the batch has shape \[4, 4, 6\]: the batch size 4 is also the size of another leading dim/);
});
