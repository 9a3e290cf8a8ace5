// The Fisher engine on models users actually have (scripts/fixtures/real_models.py): a traced residual
// CNN and timm resnet18, traced Hugging Face BERT (dict output) and GPT-2 (tuple output, tied
// lm_head/wte, causal shift, -100 labels), the tied-Linear Sequential, scripted `if`s and loops (an RNN-style
// loop with an `if` inside, a branch that never runs), F.linear
// with parameters, unsupported ops beside supported layers, Conv1d/GroupNorm/BatchNorm1d/x @ W/mm, strided
// grouped and dilated Conv2d with an in-place ReLU on a captured output, position embeddings broadcast over
// the batch by an add/sub (x - pos, x.add(pos, alpha=2), h += pos, pos.unsqueeze(0), a second consumer, += into a view, T = N), dilated grouped,
// depthwise and grouped 1-D/3-D convolutions reading in-place-ReLU'd activations, inputs of a Conv2d and a
// Linear written in place after they read them (graph engine only), a LayerNorm bias accumulated before its
// weight. Every variant, both engines, against float64
// torch.func references; one entry per parameter named as named_parameters() names it; meta.engine says
// which parameters took the fallback and why; bad input is a typed error.
import { fisherDiagonal, Module, ScriptModule, Tensor } from '../../lib';
import { OptionError, ShapeError } from '../../lib/errors';
import { fixture, fixtureJson } from '../helpers/oracle';
import { loadCase, worstOf } from './_models';

const meta = fixtureJson('real_models.json');
type Case = { params: string[]; checked: string[]; output: number | string | null; shift: boolean; variants: string[]; engines?: string[] };
const cases: Record<string, Case> = meta.cases;
const load = (name: string) => loadCase('real', name);
const worst = (F: Map<string, Tensor>, ref: Map<string, Tensor>, variant: string, names: string[]) => worstOf(F, (k) => ref.get(`${variant}/${k}`)!, names);

const runs = Object.entries(cases).flatMap(([name, c]) => c.variants.flatMap((v) =>
  (c.engines ?? (name === 'resnet18' ? ['auto'] : ['auto', 'vmap'])).map((e): [string, string, string] => [name, v, e])));

describe('every variant, both engines, against torch.func (float64)', () => {
  const loaded = new Map<string, ReturnType<typeof load>>();
  const get = (name: string) => { if (!loaded.has(name)) loaded.set(name, load(name)); return loaded.get(name)!; };
  test.each(runs)('%s %s (%s engine): one entry per parameter, rel. err <= 1e-4', async (name, variant, engine) => {
    const c = cases[name];
    const { m, d, ref } = get(name);
    const F = await fisherDiagonal(m, d, {
      variant: variant as any, engine: engine as any, batchSize: meta.batch, samples: meta.k, seed: meta.seed,
      output: c.output ?? undefined, shift: c.shift,
    });
    expect([...F.keys()]).toEqual(c.params);
    const [err, where] = worst(F, ref, variant, c.checked);
    expect({ err: err < 1e-4 ? 'ok' : err, where }).toEqual({ err: 'ok', where });
    if (engine === 'auto' && variant !== 'batched') expect(F.meta.engine).toMatch(/^graph/);
    F.dispose();
  });
});

function perParameter(name: string, o: object = {}): Promise<Record<string, string>> {
  const { m, d } = load(name);
  const c = cases[name];
  return fisherDiagonal(m, d, { output: c.output ?? undefined, shift: c.shift, ...o }).then((F) => JSON.parse(String(F.meta.engineParams)));
}

test('tied weights: one entry, both uses on the fast path (the issue: 8 keys, 0.85 rel. error)', async () => {
  const p = await perParameter('tied');
  expect(Object.keys(p)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias', '6.weight', '6.bias']);
  expect(p['2.weight']).toBe('fast (aten::linear ×2)');
  const g = await perParameter('gpt2');
  expect(g['m.transformer.wte.weight']).toBe('fast (aten::linear, aten::embedding)');
  expect(Object.keys(g)).not.toContain('m.lm_head.weight');
});

test('meta lists which parameters took the per-parameter fallback and why; the rest stay fast', async () => {
  // uses inside `if` and loop bodies are captured once per run of the body
  const c = await perParameter('control');
  expect(Object.entries(c).filter(([, v]) => !v.startsWith('fast'))).toEqual([]);
  expect(await perParameter('loops')).toMatchObject({ 'cell.weight': 'fast (aten::linear ×2)', 'skip.weight': 'fast (aten::linear)', 'never.bias': 'fast (aten::linear)' });
  const u = await perParameter('unsupported', { batchSize: meta.batch });  // 8 samples would be [8, 8]: ambiguous
  expect(u).toMatchObject({ scale: 'fast (aten::mul)', 'act.weight': 'fallback (vmapped backward): used by aten::prelu, which has no fast-path rule', 'l1.weight': 'fast (aten::linear)' });
  const g = await perParameter('gpt2');
  expect(g['m.transformer.h.0.attn.c_attn.weight']).toBe('fast (aten::addmm)');  // Conv1D: addmm on x.view(-1, nx)
  expect(await perParameter('misc')).toMatchObject({
    'c1.weight': 'fast (aten::conv1d)', 'gn.weight': 'fast (aten::group_norm)', 'bn.bias': 'fast (aten::batch_norm)',
    W: 'fast (aten::matmul)', 'ln.weight': 'fast (aten::layer_norm)', V: 'fast (aten::mm)',
  });
  for (const name of ['rescnn', 'resnet18', 'convs', 'grouped_convs', 'write_after_read', 'bias_first']) {
    const r = await perParameter(name, { variant: 'empirical' });
    expect(Object.entries(r).filter(([, v]) => !v.startsWith('fast'))).toEqual([]);
  }
});

test('position embeddings broadcast over the batch by one add/sub are on the fast path; a second consumer, a later in-place write of an add_ or read of the base of the view it wrote, T = N take the fallback (the numbers: every variant above)', async () => {
  // GPT-2: wpe(position_ids [1, T]).to(dtype) + inputs_embeds; BERT: embeddings + position_embeddings
  const g = await perParameter('gpt2');
  expect(g['m.transformer.wpe.weight']).toBe('fast (aten::embedding)');
  expect(g['m.transformer.wte.weight']).toBe('fast (aten::linear, aten::embedding)');
  const b = await perParameter('bert');
  expect(Object.entries(b).filter(([, v]) => !v.startsWith('fast'))).toEqual([]);
  const pos = (name: string) => perParameter(name, { batchSize: meta.batch }).then((p) => p['pos.weight']);
  expect(await pos('pos_sub')).toBe('fast (aten::embedding ×2)');  // the tokens' lookup and the positions' (subtracted)
  for (const name of ['pos_alpha', 'pos_inplace', 'pos_relu', 'pos_unsqueeze']) expect({ name, how: await pos(name) }).toEqual({ name, how: 'fast (aten::embedding)' });
  expect(await pos('pos_twice')).toBe('fallback (vmapped backward): embedding indices has shape [7], whose first dim is not the batch (4 samples), ' +
    'and it is not broadcast over the batch by one add/sub: its output has 2 consumers, not one elementwise aten::add/aten::sub');
  expect(await pos('pos_view')).toMatch(/^fallback \(vmapped backward\): .*the output of its consumer aten::add_ is read after it through another alias \(h\.1, input of aten::tanh\)$/);
  expect(await pos('pos_rewrite')).toMatch(/^fallback \(vmapped backward\): .*the output of its consumer aten::add_ is written in place again by aten::mul_$/);
  expect(await pos('pos_twice_tn')).toBe('fallback (vmapped backward): embedding indices have shape [4] but do not depend on the input\'s values (one lookup for the whole batch), ' +
    'so dim 0 is not known to be the batch, and they are not broadcast over the batch by one add/sub: its output has 2 consumers, not one elementwise aten::add/aten::sub');
  expect(await pos('pos_tn')).toMatch(/^fallback \(vmapped backward\): the add\/sub broadcasting the embedding over the batch has shape \[4, 4, 6\]: the batch size 4 is also the size of another leading dim/);
});

test('parameters used directly by elementwise add/sub/mul/div are on the fast path; one not shared by the samples takes the fallback', async () => {
  for (const name of ['elementwise', 'elementwise_traced']) {
    const p = await perParameter(name, { batchSize: meta.batch });
    expect({ name, p }).toEqual({ name, p: expect.objectContaining({
      cbias: 'fast (aten::add)', mean: 'fast (aten::sub)', pos: 'fast (aten::add)', gamma: 'fast (aten::mul)', gamma2: 'fast (aten::mul)',
      b: 'fast (aten::add)', num: 'fast (aten::div)',
    }) });
    expect(Object.entries(p).filter(([, v]) => !v.startsWith('fast'))).toEqual([]);
  }
  // rows [N, C] with N the batch size: row n is not shared by the samples, so not read as sample n's
  expect(await perParameter('per_sample_shaped', { batchSize: meta.batch })).toMatchObject({
    rows: "fallback (vmapped backward): elementwise add/sub: the parameter's shape [4, 5] varies along the samples dim of the output [4, 5]",
    scale: 'fast (aten::mul)', 'l1.bias': 'fast (aten::linear)',
  });
  await expect(fisherDiagonal(load('per_sample_shaped').m, load('per_sample_shaped').d, { engine: 'fast', batchSize: meta.batch }))
    .rejects.toThrow(/no fast path for parameter 'rows': elementwise add\/sub: the parameter's shape \[4, 5\] varies along the samples dim/);
  // timm ViT: x + pos_embed and LayerScale's x * gamma; cls_token (aten::expand) has no rule
  const v = await perParameter('vit', { variant: 'empirical', batchSize: meta.batch });
  expect(v).toMatchObject({ pos_embed: 'fast (aten::add)', 'blocks.0.ls1.gamma': 'fast (aten::mul)', 'blocks.0.ls2.gamma': 'fast (aten::mul)' });
  expect(v.cls_token).toMatch(/^fallback/);
});

test('bad input: typed errors naming the problem', async () => {
  const g = load('gpt2'), b = load('bert'), u = load('unsupported');
  await expect(fisherDiagonal(g.m, g.d, { output: 5, shift: true })).rejects.toThrow(new OptionError('fisherDiagonal: output 5 does not exist: the model returns a tuple of 2'));
  await expect(fisherDiagonal(b.m, b.d, { output: 'scores' })).rejects.toThrow(/output 'scores' does not exist: the model returns a dict with keys 'logits'/);
  await expect(fisherDiagonal(g.m, { x: g.d.x, y: g.d.y.select(1, 0) }, { shift: true })).rejects.toThrow(ShapeError);
  await expect(fisherDiagonal(g.m, { x: g.d.x, y: g.d.y.narrow(1, 0, 4) })).rejects.toThrow(/sequence logits \[N, T, C\] with targets \[N, T\]/);
  await expect(fisherDiagonal(g.m, g.d, { variant: 'exact', shift: true })).rejects.toThrow(/exact Fisher of sequence logits .* use variant 'mc'/);
  await expect(fisherDiagonal(b.m, b.d, { variant: 'exact', maxExactClasses: 2 })).rejects.toThrow(/C = 3 > maxExactClasses = 2; use variant 'mc'/);
  await expect(fisherDiagonal(b.m, b.d, { shift: true })).rejects.toThrow(/shift \(causal LM\) needs logits \[N, T, C\]/);
  let pulled = 0;  // engine 'fast' refuses from the plan, before any batch is read
  const batches = { *[Symbol.iterator]() { pulled++; yield u.d; } };
  await expect(fisherDiagonal(u.m, batches, { engine: 'fast' })).rejects.toThrow(/no fast path for parameter 'act.weight': used by aten::prelu/);
  expect(pulled).toBe(0);
  await expect(fisherDiagonal(u.m, u.d, { params: ['nope'] })).rejects.toThrow(/no trainable parameter\(s\) nope/);
});

test('a ScriptModule inside a TS module counts its parameters (and its Fisher is the scripted one)', async () => {
  class Outer extends Module {
    inner = this.registerModule('inner', ScriptModule.load(fixture('real_flinear.jit.pt')));
    forward(x: Tensor): Tensor { return this.inner.call(x); }
  }
  const outer = new Outer();
  expect(outer.namedParameters().map(([n]) => n)).toEqual(['inner.w1', 'inner.b1', 'inner.w2']);
  const { d, ref } = load('flinear');
  const F = await fisherDiagonal(outer, d, { batchSize: meta.batch });
  expect([...F.keys()]).toEqual(['inner.w1', 'inner.b1', 'inner.w2']);
  expect(F.meta.engine).toMatch(/^vmap \('inner' is a FunctionalLinear inside a TS module: its layers cannot be hooked\)/);
  const renamed = new Map([...F].map(([k, t]) => [k.slice('inner.'.length), t]));
  expect(worst(renamed, ref, 'empirical', ['w1', 'b1', 'w2'])[0]).toBeLessThan(1e-4);
});
