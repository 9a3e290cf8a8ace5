// `squisher merge` end to end: Python loads the merged checkpoint and recomputes the merge from the same
// files (Fisher-weighted with floor and normalisation, plain average, gradient matching).
import * as fs from 'fs';
import * as path from 'path';
import { runCli } from '../helpers/cli';
import { fixture, python, tmpDir } from '../helpers/oracle';

const run = runCli;
const f = (n: string) => fixture(`apps_cli/${n}`);

const CHECK = `import sys, json, torch
from safetensors.torch import load_file
def ld(p): return load_file(p) if p.endswith('.safetensors') else torch.load(p, weights_only=True)
out, mode, w, floor, norm = sys.argv[1:6]
w = json.loads(w); floor = float(floor)
m = [ld(sys.argv[6]), ld(sys.argv[7])]
F = [ld(sys.argv[8]), ld(sys.argv[9])]
base = ld(sys.argv[10])
got = ld(out)
if norm == '1':
    F = [{k: v.double() / torch.sqrt(sum((u.double() ** 2).sum() for u in f.values())) for k, v in f.items()} for f in F]
err = 0.0
for k in m[0]:
    a, b = m[0][k], m[1][k]
    if not a.is_floating_point():
        exp = a
    elif mode == 'average' or k not in F[0]:
        exp = (w[0] * a.double() + w[1] * b.double()) / sum(w)
    elif mode == 'fisher':
        f0, f1 = (w[i] * F[i][k].double().clamp(min=floor) for i in range(2))
        exp = (f0 * a.double() + f1 * b.double()) / (f0 + f1)
    else:  # gradient matching with scalar prior precision 0.5
        t0 = base[k].double(); d = 0.5
        H = F[0][k].double() + F[1][k].double() + d
        exp = t0 + ((d + F[0][k].double()) * (a.double() - t0) + (d + F[1][k].double()) * (b.double() - t0)) / H
    assert got[k].dtype == a.dtype, k
    err = max(err, (got[k].double() - exp.double()).abs().max().item())
print(json.dumps({"err": err, "keys": list(got) == list(m[0])}))`;

test.each([
  ['fisher', ['1', '1'], '1e-6', false, 'merged.safetensors'],
  ['fisher', ['1', '3'], '0.02', true, 'merged.pt'],
  ['average', ['2', '1'], '1e-6', false, 'avg.pt'],
  ['gradient-matching', ['1', '1'], '1e-6', false, 'gm.safetensors'],
] as const)('merge --method %s --weights %j --floor %s --normalize=%s -> %s matches Python', async (method, w, floor, norm, name) => {
  const out = path.join(tmpDir(), name);
  const args = ['merge', f('m0.safetensors'), f('m1.pt'), '--weights', ...w, '--floor', floor, '--method', method, '--out', out];
  if (method !== 'average') args.push('--fisher', f('f0.safetensors'), f('f1.safetensors'));
  if (norm) args.push('--normalize');
  if (method === 'gradient-matching') args.push('--base', f('base.pt'), '--prior-precision', '0.5');
  const r = await run(...args);
  expect(r.out).toMatch(new RegExp(`merged 9 tensors from 2 models \\(${method}\\)`));
  if (method !== 'average') {
    expect(r.err).toMatch(/2 tensors had no Fisher in every model and were averaged: 1\.running_mean, 1\.running_var/);
    expect(r.err).toMatch(/1 integer tensors copied from the first model: 1\.num_batches_tracked/);
  }
  const c = python(CHECK, [out, method, JSON.stringify(w.map(Number)), floor, norm ? '1' : '0',
    f('m0.safetensors'), f('m1.pt'), f('f0.safetensors'), f('f1.safetensors'), f('base.pt')]);
  expect(c.keys).toBe(true);
  expect(c.err).toBeLessThan(1e-6);
});

test('bad input is named: count mismatch, missing Fisher, existing output, input as output', async () => {
  const d = tmpDir();
  const out = path.join(d, 'o.safetensors');
  await expect(run('merge', f('m0.pt'), f('m1.pt'), '--fisher', f('f0.safetensors'), '--out', out)).rejects.toThrow(/1 Fisher diagonals for 2 models/);
  await expect(run('merge', f('m0.pt'), '--out', out)).rejects.toThrow(/at least two models/);
  await expect(run('merge', f('m0.pt'), f('base.pt'), '--method', 'fisher', '--out', out)).rejects.toThrow(/needs --fisher/);
  await expect(run('merge', f('m0.pt'), f('m1.pt'), '--weights', '1', 'x', '--out', out)).rejects.toThrow(/'x' is not a number/);
  await expect(run('merge', f('m0.pt'), f('m1.pt'), '--weights', '1', '2', '3', '--out', out)).rejects.toThrow(/3 weights for 2 models/);
  await expect(run('merge', f('m0.pt'), f('m1.pt'), '--out', f('m1.pt'), '--overwrite')).rejects.toThrow(/is also an input/);
  await run('merge', f('m0.pt'), f('m1.pt'), '--out', out);
  await expect(run('merge', f('m0.pt'), f('m1.pt'), '--out', out)).rejects.toThrow(/file exists/);
  await expect(run('merge', f('m0.pt'), f('f0.safetensors'), '--out', path.join(d, 'p.pt'))).rejects.toThrow(/does not have the same tensors/);
});

test("GPT-2 .bin files with tied lm_head/wte: merged once, reported, and one storage in the output (Python checks)", async () => {
  const g = (n: string) => fixture(`trainer_runs/gpt2/${n}`);
  const d = tmpDir();
  const out = path.join(d, 'tied.bin');
  const r = await run('merge', g('pytorch_model.bin'), g('b.bin'), '--out', out);
  expect(r.err).toMatch(/tied names merged once: lm_head\.weight = transformer\.wte\.weight/);
  const CHECK_TIED = `import sys, json, torch
a, b, got = (torch.load(f, weights_only=True) for f in sys.argv[1:4])
tied = got['lm_head.weight'].untyped_storage().data_ptr() == got['transformer.wte.weight'].untyped_storage().data_ptr()
err = max(((got[k].double() - (a[k].double() + b[k].double()) / 2).abs().max().item() for k in a if a[k].is_floating_point()), default=0)
print(json.dumps({"tied": tied, "err": err, "keys": list(got) == list(a)}))`;
  const c = python(CHECK_TIED, [g('pytorch_model.bin'), g('b.bin'), out]);
  expect(c).toMatchObject({ tied: true, keys: true });
  expect(c.err).toBeLessThan(1e-6);
  // the second model with the two names as equal separate tensors merges the same way
  await run('merge', g('pytorch_model.bin'), g('b_untied.bin'), '--out', path.join(d, 'u.bin'));
  expect(python(CHECK_TIED, [g('pytorch_model.bin'), g('b.bin'), path.join(d, 'u.bin')])).toMatchObject({ tied: true, keys: true });
  // ... and so does a safetensors file that leaves the tied name out, as Hugging Face writes them
  await run('merge', g('pytorch_model.bin'), g('b.safetensors'), '--out', path.join(d, 's.bin'));
  expect(python(CHECK_TIED, [g('pytorch_model.bin'), g('b.bin'), path.join(d, 's.bin')])).toMatchObject({ tied: true, keys: true });
  // ... but not when they differ there: one tensor cannot take two values
  await expect(run('merge', g('pytorch_model.bin'), g('b_differ.bin'), '--out', path.join(d, 'x.bin')))
    .rejects.toThrow(/'lm_head\.weight' and 'transformer\.wte\.weight' are one tensor in .*pytorch_model\.bin but differ in .*b_differ\.bin/);
  expect(fs.existsSync(path.join(d, 'x.bin'))).toBe(false);
});
