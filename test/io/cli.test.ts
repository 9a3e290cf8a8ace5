// The inspect and convert commands, run in-process through the real commander program.
import * as path from 'path';
import { runCliOut } from '../helpers/cli';
import { fixture, python, tmpDir } from '../helpers/oracle';

const run = runCliOut;

test('inspect --json lists name, dtype (PyTorch names) and shape of every tensor', async () => {
  const out = JSON.parse(await run('inspect', '--json', fixture('checkpoints/dtypes.pt')));
  expect(out.tensors).toContainEqual(expect.objectContaining({ name: 'bfloat16', dtype: 'bfloat16', shape: [3, 2], nbytes: 12 }));
  expect(out.tensors).toContainEqual(expect.objectContaining({ name: 'complex64', dtype: 'complex64', shape: [2, 2], nbytes: 32 }));
  expect(out.tensors.length).toBe(12);
  expect(out.format).toBe('torch');
});

test('inspect --json has every field the text shows: storage sizes, values, optimizer hyperparameters (as torch has them)', async () => {
  const f = fixture('checkpoints/optim_sgd.pt');
  const out = JSON.parse(await run('inspect', '--json', f));
  const py = python(`import sys, json, torch
sd = torch.load(sys.argv[1], weights_only=True)
g = {k: v for k, v in sd['param_groups'][0].items() if k != 'params'}
t = sd['state'][0]['momentum_buffer']
print(json.dumps({'group': g, 'nbytes': t.numel() * t.element_size(), 'storage': t.untyped_storage().nbytes()}))`, [f]);
  const mb = out.tensors.find((t: { name: string }) => t.name === 'state.0.momentum_buffer');
  expect(mb).toMatchObject({ dtype: 'float32', shape: [5, 6], nbytes: py.nbytes, storageBytes: py.storage });
  expect(out.totalStorageBytes).toBeGreaterThanOrEqual(py.storage);
  expect(out.hyperparameters).toEqual([{ name: 'param_groups.0', group: py.group }]);
  expect(out.values.length).toBeGreaterThan(0);
});

test('inspect (text) shows tensors, values and optimizer hyperparameters', async () => {
  const out = await run('inspect', fixture('checkpoints/optim_sgd.pt'));
  expect(out).toMatch(/state\.0\.momentum_buffer\s+float32\s+\[5, 6\]/);
  expect(out).toMatch(/hyperparameters param_groups\.0: lr=0\.1 momentum=0\.9 .*nesterov=true/);
});

test('convert .pt -> .safetensors -> .pt, read by Python', async () => {
  const d = tmpDir();
  const st = path.join(d, 'm.safetensors');
  const pt = path.join(d, 'm.pt');
  await run('convert', fixture('checkpoints/state_dict.pt'), st);
  await run('convert', st, pt);
  await expect(run('convert', st, pt)).rejects.toThrow(/m\.pt: file exists/);
  await run('convert', st, pt, '--overwrite');
  const r = python(`import sys, json, torch
from safetensors.torch import load_file
a = torch.load(sys.argv[1], weights_only=True); b = load_file(sys.argv[2]); c = torch.load(sys.argv[3], weights_only=True)
print(json.dumps([type(c).__name__, sorted(a) == sorted(b) == sorted(c), all(torch.equal(a[k], b[k]) and torch.equal(a[k], c[k]) for k in a)]))`,
  [fixture('checkpoints/state_dict.pt'), st, pt]);
  expect(r).toEqual(['OrderedDict', true, true]);
});
