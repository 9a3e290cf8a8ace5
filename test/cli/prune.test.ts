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
