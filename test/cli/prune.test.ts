// `squisher prune` end to end: the pruned checkpoint is loaded by Python and compared with
// torch.nn.utils.prune given the same importance scores; errors for bad input and existing outputs.
import * as fs from 'fs';
import * as path from 'path';
import { runCliOut } from '../helpers/cli';
import { fixture, python, tmpDir } from '../helpers/oracle';

const run = runCliOut;

const model = () => fixture('apps_cli/m0.pt');
const fisher = () => fixture('apps_cli/f0.safetensors');

// Python: the same pruning with torch.nn.utils.prune on the model's Linear weights, compared to our output.
const CHECK = `import sys, json, torch
import torch.nn.utils.prune as prune
from safetensors.torch import load_file
model, fisher, out, method, scope, s = sys.argv[1:7]
s = float(s)
sd = torch.load(model, weights_only=True)
F = load_file(fisher)
got = load_file(out) if out.endswith('.safetensors') else torch.load(out, weights_only=True)
lin = [torch.nn.Linear(10, 12), torch.nn.Linear(12, 3)]
names = ['0.weight', '3.weight']
for l, n in zip(lin, names):
    l.weight.data.copy_(sd[n])
score = {(l, 'weight'): (0.5 * F[n] * sd[n] ** 2 if method == 'fisher' else sd[n].abs()) for l, n in zip(lin, names)}
if scope == 'global':
    prune.global_unstructured([(l, 'weight') for l in lin], pruning_method=prune.L1Unstructured, importance_scores=score, amount=s)
else:
    for l in lin: prune.l1_unstructured(l, 'weight', amount=s, importance_scores=score[(l, 'weight')])
ok_w = all(torch.equal(got[n], l.weight.detach()) for l, n in zip(lin, names))
ok_rest = all(torch.equal(got[k], v) for k, v in sd.items() if k not in names)
print(json.dumps({"weights": ok_w, "rest": ok_rest, "keys": list(got) == list(sd), "type": type(got).__name__}))`;

test.each([
  ['fisher', 'global', 'out.pt'], ['fisher', 'layer', 'out.safetensors'], ['magnitude', 'global', 'out.safetensors'],
])('prune --method %s --scope %s -> %s equals torch.nn.utils.prune; biases and BatchNorm untouched', async (method, scope, name) => {
  const out = path.join(tmpDir(), name);
  const text = await run('prune', '--model', model(), '--fisher', fisher(), '--sparsity', '0.7', '--method', method, '--scope', scope, '--out', out);
  expect(text).toMatch(/pruned 109 of 156 weights/);  // round(0.7·156) globally; round(0.7·120) + round(0.7·36) per layer
  expect(text).toMatch(/0\.weight/);
  expect(python(CHECK, [model(), fisher(), out, method, scope, '0.7'])).toEqual({
    weights: true, rest: true, keys: true, type: name.endsWith('.pt') ? 'OrderedDict' : 'dict',
  });
});

test('random pruning: exact count, --json report, reproducible by --seed', async () => {
  const d = tmpDir();
  const a = JSON.parse(await run('prune', '--model', model(), '--sparsity', '0.5', '--method', 'random', '--seed', '4', '--json', '--out', path.join(d, 'a.pt')));
  await run('prune', '--model', model(), '--sparsity', '0.5', '--method', 'random', '--seed', '4', '--out', path.join(d, 'b.pt'));
  expect(a.zeros).toBe(78);
  expect(a.layers.map((l: any) => l.name)).toEqual(['0.weight', '3.weight']);
  const r = python(`import sys, json, torch
a, b = (torch.load(f, weights_only=True) for f in sys.argv[1:3])
print(json.dumps([all(torch.equal(a[k], b[k]) for k in a), int((a['0.weight'] == 0).sum() + (a['3.weight'] == 0).sum())]))`,
  [path.join(d, 'a.pt'), path.join(d, 'b.pt')]);
  expect(r).toEqual([true, 78]);
});

test('bad input: errors name the problem; outputs and inputs are never overwritten', async () => {
  const d = tmpDir();
  const out = path.join(d, 'o.pt');
  await expect(run('prune', '--model', model(), '--sparsity', '0.5', '--out', out)).rejects.toThrow(/--method fisher needs --fisher/);
  await expect(run('prune', '--model', model(), '--fisher', fisher(), '--sparsity', '2', '--out', out)).rejects.toThrow(/sparsity must be a number in \[0, 1\], got 2/);
  await expect(run('prune', '--model', model(), '--fisher', model(), '--sparsity', '0.5', '--out', out)).resolves.toMatch(/pruned/);  // a model is a valid (if odd) diagonal
  await expect(run('prune', '--model', model(), '--fisher', fisher(), '--sparsity', '0.5', '--out', out)).rejects.toThrow(/o\.pt: file exists/);
  await expect(run('prune', '--model', model(), '--fisher', fisher(), '--sparsity', '0.5', '--out', model(), '--overwrite')).rejects.toThrow(/is also an input/);
  await expect(run('prune', '--model', model(), '--fisher', fixture('apps_cli/f1.safetensors'), '--sparsity', '0.5', '--prunable', 'nothing', '--out', path.join(d, 'x.pt'))).rejects.toThrow(/matches no tensor/);
  await expect(run('prune', '--model', path.join(d, 'missing.pt'), '--fisher', fisher(), '--sparsity', '0.5', '--out', path.join(d, 'y.pt'))).rejects.toThrow(/missing\.pt/);
  const small = path.join(d, 'small.safetensors');
  python(`import sys, torch
from safetensors.torch import save_file
save_file({'0.weight': torch.ones(3, 3)}, sys.argv[1])
print(1)`, [small]);
  await expect(run('prune', '--model', model(), '--fisher', small, '--sparsity', '0.5', '--out', path.join(d, 'z.pt'))).rejects.toThrow(/'0\.weight' has shape \[3,3\] but the parameter has shape \[12,10\]/);
  expect(fs.readdirSync(d).filter((f) => f.endsWith('.tmp'))).toEqual([]);
});

// Real Hugging Face checkpoints: GPT-2 ties lm_head.weight to transformer.wte.weight (one storage in
// pytorch_model.bin), BERT has three embedding tables. Python rebuilds each model from its config and says
// which tensors are Linear/Conv1D weights (the default set), then checks the pruned file.
const SCRIPTS = path.resolve(__dirname, '..', '..', 'scripts', 'fixtures');
const HF_CHECK = `import sys, json, torch
sys.path.insert(0, ${JSON.stringify(SCRIPTS)})
from _hf import transformers
from transformers.pytorch_utils import Conv1D
kind, src, out, s = sys.argv[1:5]
orig = torch.load(src, weights_only=True)
got = torch.load(out, weights_only=True)
if kind == 'gpt2':
    m = transformers.GPT2LMHeadModel(transformers.GPT2Config(vocab_size=64, n_positions=16, n_embd=16, n_layer=2, n_head=2))
else:
    m = transformers.BertForSequenceClassification(transformers.BertConfig.from_pretrained(sys.argv[5]))
emb = {id(mod.weight) for mod in m.modules() if isinstance(mod, torch.nn.Embedding)}
linear = [n + '.weight' for n, mod in m.named_modules() if isinstance(mod, (torch.nn.Linear, Conv1D)) and id(mod.weight) not in emb]
pruned = sorted(k for k in orig if not torch.equal(orig[k], got[k]))
zeros = sum(int((got[k] == 0).sum()) for k in linear)
total = sum(got[k].numel() for k in linear)
tied = got['lm_head.weight'].untyped_storage().data_ptr() == got['transformer.wte.weight'].untyped_storage().data_ptr() if kind == 'gpt2' else None
print(json.dumps({"pruned_is_linear": pruned == sorted(linear), "zeros": zeros, "expect": round(float(s) * total), "tied": tied, "keys": list(got) == list(orig)}))`;

test('GPT-2 .bin with tied lm_head/wte: the default prunes Conv1D weights only, counts each storage once, and the output stays tied', async () => {
  const src = fixture('trainer_runs/gpt2/pytorch_model.bin');
  const out = path.join(tmpDir(), 'gpt2.bin');
  const r = JSON.parse(await run('prune', '--model', src, '--sparsity', '0.5', '--method', 'magnitude', '--json', '--out', out));
  expect(r.pruned.every((n: string) => /\.(c_attn|c_proj|c_fc)\.weight$/.test(n))).toBe(true);
  expect(r.tied).toEqual([['lm_head.weight', 'transformer.wte.weight']]);
  expect(r.aliases).toEqual([]);  // the tied tensor is an embedding: not pruned, not counted
  expect(r.sparsity).toBeCloseTo(0.5, 2);
  const c = python(HF_CHECK, ['gpt2', src, out, '0.5']);
  expect(c).toEqual({ pruned_is_linear: true, zeros: r.zeros, expect: r.zeros, tied: true, keys: true });
  // --prunable naming both tied names prunes the one storage once; the file keeps them tied
  const out2 = path.join(tmpDir(), 'gpt2b.bin');
  const r2 = JSON.parse(await run('prune', '--model', src, '--sparsity', '0.5', '--method', 'magnitude', '--prunable', '^(lm_head|transformer\\.wte)\\.weight$', '--json', '--out', out2));
  expect(r2.pruned).toEqual(['transformer.wte.weight']);
  expect(r2.aliases).toEqual([['lm_head.weight', 'transformer.wte.weight']]);
  expect(r2.total).toBe(64 * 16);
  expect(python(`import sys, json, torch
g = torch.load(sys.argv[1], weights_only=True)
a, b = g['lm_head.weight'], g['transformer.wte.weight']
print(json.dumps([a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr(), int((b == 0).sum())]))`, [out2])).toEqual([true, 512]);
});

test("BERT pytorch_model.bin: word/position/token-type embeddings and LayerNorms are left alone; exactly the Linear weights are pruned", async () => {
  const dir = fixture('trainer_runs/hf_bert/bin');
  const out = path.join(tmpDir(), 'bert.pt');
  const text = await run('prune', '--model', path.join(dir, 'pytorch_model.bin'), '--sparsity', '0.3', '--method', 'magnitude', '--out', out);
  expect(text).toMatch(/Linear\/Conv weights by the name rule/);
  expect(text).not.toMatch(/embeddings/);
  const c = python(HF_CHECK, ['bert', path.join(dir, 'pytorch_model.bin'), out, '0.3', dir]);
  expect(c).toMatchObject({ pruned_is_linear: true, keys: true });
  expect(c.zeros).toBe(c.expect);
});

test('a TorchScript model: the default prunes its Linear and Conv weights by layer type (read, not run), not an Embedding named "table"', async () => {
  const m = fixture('trainer_runs/typed.jit.pt');
  const out = path.join(tmpDir(), 'typed.pt');
  const r = JSON.parse(await run('prune', '--model', m, '--sparsity', '0.5', '--method', 'magnitude', '--json', '--out', out));
  expect(r.rule).toBe('Linear/Conv weights by layer type');
  expect(r.pruned).toEqual(JSON.parse(fs.readFileSync(fixture('trainer_runs/typed_linear_conv.json'), 'utf8')));
  expect(python(`import sys, json, torch
got = torch.load(sys.argv[1], weights_only=True)
ref = dict(torch.jit.load(sys.argv[2]).named_parameters())
print(json.dumps([torch.equal(got['table.weight'], ref['table.weight']), torch.equal(got['norm.weight'], ref['norm.weight']), int((got['proj.weight'] == 0).sum() + (got['conv.weight'] == 0).sum() + (got['head.weight'] == 0).sum())]))`, [out, m]))
    .toEqual([true, true, r.zeros]);
});
