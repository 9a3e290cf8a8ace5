// `squisher fisher | squisher | compare` end to end: outputs read back by Python (safetensors) and
// checked against the torch.func / Adam references; bad inputs and existing outputs refused.
import * as fs from 'fs';
import * as path from 'path';
import { runCliOut } from '../helpers/cli';
import { fixture, fixtureJson, python, tmpDir } from '../helpers/oracle';
import { ref } from './_ref';

const run = runCliOut;

// Python: worst relative error of every tensor in OUT against the JSON reference, and the metadata.
const CHECK = `import sys, json, torch
from safetensors import safe_open
out, refj, which = sys.argv[1:4]
ref = json.load(open(refj))
for k in which.split('/'): ref = ref[k]
with safe_open(out, 'pt') as f:
    err = max(float((f.get_tensor(k).double() - torch.tensor(v['data'], dtype=torch.float64).reshape(v['shape'])).norm() /
                    torch.tensor(v['data'], dtype=torch.float64).norm()) for k, v in ref.items())
    exact = all(torch.equal(f.get_tensor(k), torch.tensor(v['data'], dtype=torch.float32).reshape(v['shape'])) for k, v in ref.items())
    print(json.dumps({'err': err, 'exact': exact, 'keys': sorted(f.keys()) == sorted(ref.keys()), 'meta': f.metadata()}))`;

test('fisher: every variant written as safetensors that Python reads, equal to torch.func', async () => {
  const dir = tmpDir();
  for (const variant of ['empirical', 'mc', 'exact', 'batched']) {
    const out = path.join(dir, `${variant}.safetensors`);
    const summary = JSON.parse(await run('fisher', '--model', fixture('fisher_cnn.jit.pt'), '--data', fixture('fisher_cnn_data.pt'),
      '--variant', variant, '--samples', String(ref.k), '--seed', String(ref.seed), '--batch-size', String(ref.batch), '--device', 'cpu',
      '--out', out, '--json'));
    expect(summary).toMatchObject({ variant, N: 20, task: 'classification', reduction: 'sum' });
    const r = python(CHECK, [out, fixture('fisher_ref.json'), `cnn/fisher/${variant}`]);
    expect(r.keys).toBe(true);
    expect(r.err).toBeLessThan(1e-4);
    expect(r.meta).toMatchObject({ 'squisher.variant': variant, 'squisher.N': '20' });
  }
  // regression is inferred from float targets; --reduction mean is recorded
  const out = path.join(dir, 'reg.safetensors');
  await run('fisher', '--model', fixture('fisher_reg.jit.pt'), '--data', fixture('fisher_reg_data.safetensors'), '--variant', 'exact', '--reduction', 'mean', '--out', out);
  expect(python(CHECK, [out, fixture('fisher_ref.json'), 'reg/fisher/exact']).meta).toMatchObject({ 'squisher.task': 'regression', 'squisher.reduction': 'mean' });
});

test('fisher: refuses an existing output, a state_dict as model, data without x/y, unknown variant; writes nothing', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'f.safetensors');
  fs.writeFileSync(out, 'keep me');
  const base = ['fisher', '--model', fixture('fisher_mlp.jit.pt'), '--data', fixture('fisher_mlp_data.safetensors')];
  await expect(run(...base, '--out', out)).rejects.toThrow(/f.safetensors exists; pass --overwrite/);
  expect(fs.readFileSync(out, 'utf8')).toBe('keep me');
  const out2 = path.join(dir, 'g.safetensors');
  await expect(run('fisher', '--model', fixture('fisher_opt_adam_model_sd.pt'), '--data', fixture('fisher_mlp_data.pt'), '--out', out2))
    .rejects.toThrow(/must be a TorchScript archive .* this is a torch file/);
  await expect(run('fisher', '--model', fixture('fisher_mlp.jit.pt'), '--data', fixture('fisher_opt_adam.pt'), '--out', out2))
    .rejects.toThrow(/needs tensors 'x' \(inputs\) and 'y' \(targets\); found state.0.step/);
  await expect(run(...base, '--variant', 'kfac', '--out', out2)).rejects.toThrow(/unknown variant 'kfac'/);
  await expect(run(...base, '--out', path.join(dir, 'f.pt'))).rejects.toThrow(/must be a .safetensors file/);
  expect(fs.readdirSync(dir)).toEqual(['f.safetensors']);
});

test('squisher: B·v from a torch.save Adam state equals Python exp_avg_sq·B exactly (model as TorchScript or state_dict)', async () => {
  const dir = tmpDir();
  for (const model of ['fisher_opt_adam_model.jit.pt', 'fisher_opt_adam_model_sd.pt']) {
    const out = path.join(dir, `${model}.safetensors`);
    const s = JSON.parse(await run('squisher', '--optimizer', fixture('fisher_opt_adam.pt'), '--model', fixture(model), '--batch-size', '8', '--out', out, '--json'));
    expect(s).toMatchObject({ scale: 'B*v', factor: 8, optimizer: 'adam', step: fixtureJson('fisher_opt.json').adam.steps });
    const r = python(CHECK, [out, fixture('fisher_opt.json'), 'adam/scaled/batch']);
    expect(r.exact).toBe(true);
  }
  await expect(run('squisher', '--optimizer', fixture('fisher_opt_sgd.pt'), '--model', fixture('fisher_opt_sgd_model.jit.pt'), '--out', path.join(dir, 'x.safetensors')))
    .rejects.toThrow(/found momentum_buffer .* \(an SGD state\)/);
});

test('compare: JSON statistics, a table, and a log-log SVG plot', async () => {
  const dir = tmpDir();
  const a = path.join(dir, 'a.safetensors'), b = path.join(dir, 'b.safetensors');
  await run('squisher', '--optimizer', fixture('fisher_opt_adam.pt'), '--model', fixture('fisher_opt_adam_model.jit.pt'), '--batch-size', '8', '--out', a);
  await run('fisher', '--model', fixture('fisher_opt_adam_model.jit.pt'), '--data', fixture('fisher_mlp_data.safetensors'), '--variant', 'exact', '--out', b);
  const j = JSON.parse(await run('compare', a, b, '--json'));
  expect(Object.keys(j.perTensor)).toEqual(['0.weight', '0.bias', '2.weight', '2.bias', '4.weight', '4.bias']);
  expect(j.overall.n).toBe(432);
  for (const k of ['pearson', 'spearman']) expect(Math.abs(j.overall[k])).toBeLessThanOrEqual(1);
  const plot = path.join(dir, 'p.svg');
  const table = await run('compare', a, b, '--plot', plot);
  expect(table).toMatch(/\(overall\)\s+432/);
  expect(fs.readFileSync(plot, 'utf8')).toMatch(/^<svg/);
  await expect(run('compare', a, b, '--plot', plot)).rejects.toThrow(/p.svg exists/);
});
