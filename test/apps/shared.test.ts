// Tied tensors (two names, one storage, as torch.load gives GPT-2's lm_head.weight / transformer.wte.weight)
// in the applications' API: found by storageAliases, pruned and counted once, kept tied in copies, merged
// once; and prune's default set on a bare state_dict (no embeddings, no norms).
import { apps, randn, Tensor } from '../../lib';
import { load } from '../../lib/io';
import { fixture } from '../helpers/oracle';

const gpt2 = () => load(fixture('trainer_runs/gpt2/pytorch_model.bin')) as Map<string, Tensor>;

test('storageAliases finds the tied pair in a torch.save file and nothing in separate tensors', () => {
  expect([...apps.storageAliases(gpt2())]).toEqual([['lm_head.weight', 'transformer.wte.weight']]);
  const w = randn([3, 3]);
  expect(apps.storageAliases(new Map([['a', w], ['b', w.clone()]])).size).toBe(0);
  // a view of the same storage with another shape is not the same tensor
  expect(apps.storageAliases(new Map([['a', w], ['b', w.reshape([9])]])).size).toBe(0);
});

test('pruneMasks: a tied tensor named twice is scored and counted once; applyMasks copies stay one tensor', () => {
  const sd = gpt2();
  const wte = sd.get('transformer.wte.weight')!;
  const masks = apps.pruneMasks(sd, { sparsity: 0.25, method: 'magnitude', prunable: ['lm_head.weight', 'transformer.wte.weight'] });
  expect([...masks.keys()]).toEqual(['transformer.wte.weight']);
  const copy = apps.applyMasks(sd, masks, { inPlace: false });
  expect(copy.get('lm_head.weight')).toBe(copy.get('transformer.wte.weight'));
  expect(wte.countNonzero()).toBe(wte.numel);  // the input is left alone
  const r = apps.sparsityReport(copy, ['transformer.wte.weight', 'lm_head.weight']);
  expect(r.total).toBe(wte.numel);
  expect(r.zeros).toBe(Math.round(0.25 * wte.numel));
  expect(r.aliases).toEqual([['lm_head.weight', 'transformer.wte.weight']]);
  expect(apps.formatSparsity(r)).toMatch(/lm_head\.weight is transformer\.wte\.weight \(one storage, counted once\)/);
  // a Fisher that names the tensor by its other name is found
  const F = new Map([['lm_head.weight', wte.abs()]]);
  expect([...apps.pruneMasks(sd, { sparsity: 0.1, fisher: F, prunable: ['transformer.wte.weight'] }).keys()]).toEqual(['transformer.wte.weight']);
});

test("defaultPrunable on a bare state_dict: GPT-2's Conv1D weights, not wte/wpe, ln_*, nor the tied lm_head", () => {
  const names = apps.defaultPrunable(gpt2());
  expect(names.length).toBe(8);
  expect(names.every((n) => /^transformer\.h\.\d\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/.test(n))).toBe(true);
  for (const n of ['a.embed_tokens.weight', 'x.word_embeddings.weight', 'enc.layer_norm.weight', 'h.0.ln_1.weight', 'b.bn1.weight', 'model.shared.weight', 'vit.patch_embed.proj.weight']) {
    expect(apps.prunableByName(n, randn([4, 4]))).toBe(false);
  }
  for (const n of ['layer.0.attention.self.query.weight', 'classifier.weight', 'features.0.weight', 'lm_head.weight']) {
    expect(apps.prunableByName(n, randn([4, 4]))).toBe(true);
  }
  expect(apps.prunableByName('fc.bias', randn([4, 4]))).toBe(false);
  expect(apps.prunableByName('fc.weight', randn([4]))).toBe(false);
});

test('mergeModels: tied names merged once, the same Tensor under both names; progress is { done, total, phase, name }', async () => {
  const a = gpt2();
  const b = load(fixture('trainer_runs/gpt2/b.bin')) as Map<string, Tensor>;
  const seen: string[] = [];
  const r = await apps.mergeModels([a, b], null, { onProgress: (p) => seen.push(`${p.phase}:${p.done}/${p.total}`) });
  expect(r.aliases).toEqual([['lm_head.weight', 'transformer.wte.weight']]);
  expect(r.merged.get('lm_head.weight')).toBe(r.merged.get('transformer.wte.weight'));
  expect(seen.length).toBe(a.size);
  expect(seen[seen.length - 1]).toBe(`merge:${a.size}/${a.size}`);
  const expectWte = a.get('transformer.wte.weight')!.to('float64').mul(0.5).add(b.get('transformer.wte.weight')!.to('float64').mul(0.5)).to('float32');
  expect(r.merged.get('transformer.wte.weight')!.equal(expectWte)).toBe(true);
});
