// `squisher squisher` end to end on a Hugging Face Trainer checkpoint folder and on the 12-layer case a
// sorted safetensors header gets wrong: Python reads the output and compares every tensor by name with
// the exp_avg_sq it took from the live optimizer; refusals write nothing.
import * as fs from 'fs';
import * as path from 'path';
import { runCli } from '../helpers/cli';
import { fixture, python, tmpDir } from '../helpers/oracle';

const R = (p: string) => fixture(`trainer_runs/${p}`);

const CHECK = `import sys, json
from safetensors import safe_open
from safetensors.torch import load_file
got, exp = load_file(sys.argv[1]), load_file(sys.argv[2])
meta = safe_open(sys.argv[1], 'pt').metadata()
print(json.dumps({"same_names": sorted(got) == sorted(exp), "bit_equal": all(got[k].equal(exp[k]) for k in exp),
                  "groups": json.loads(meta["squisher.groups"]), "batch": meta.get("squisher.batchSize")}))`;

test('--trainer-dir checkpoint-10/ --param-names names.json: every tensor is exp_avg_sq·B of its name (Python checks)', async () => {
  const out = path.join(tmpDir(), 'bert.safetensors');
  const r = await runCli('squisher', '--trainer-dir', R('hf_bert/checkpoint-10'), '--param-names', R('hf_bert/names.json'), '--out', out);
  expect(r.out).toMatch(/Squisher B\*v \(factor 4, adamw, step 10.*\) for 41 tensors; names: shapes: the only assignment/);
  expect(r.err).toMatch(/B = 4 from trainer_state\.json train_batch_size 4 x training_args\.bin gradient_accumulation_steps 1 x processes 1/);
  const c = python(CHECK, [out, R('hf_bert/expected_B.safetensors')]);
  expect(c).toMatchObject({ same_names: true, bit_equal: true, batch: '4' });
  expect(c.groups.map((g: any) => g.weight_decay)).toEqual([0.01, 0]);
});

test('--optimizer with a torch.save model, or a safetensors model plus --param-names: the 12 layers get their own v', async () => {
  const d = tmpDir();
  for (const [name, extra] of [['a.safetensors', ['--model', R('linear12/model.pt')]], ['b.safetensors', ['--model', R('linear12/model.safetensors'), '--param-names', R('linear12/names.json')]]] as const) {
    await runCli('squisher', '--optimizer', R('linear12/optimizer.pt'), ...extra, '--out', path.join(d, name));
    expect(python(CHECK, [path.join(d, name), R('linear12/expected.safetensors')])).toMatchObject({ same_names: true, bit_equal: true });
  }
});

test('refusals name the file and what to pass, and write nothing', async () => {
  const d = tmpDir();
  const out = path.join(d, 'x.safetensors');
  await expect(runCli('squisher', '--trainer-dir', R('hf_bert/checkpoint-10'), '--out', out)).rejects.toThrow(/model\.safetensors gives no parameter order.*--param-names/);
  await expect(runCli('squisher', '--optimizer', R('linear12/optimizer.pt'), '--model', R('linear12/model.safetensors'), '--out', out)).rejects.toThrow(/gives no parameter order/);
  const short = path.join(d, 'short.json');
  fs.writeFileSync(short, JSON.stringify(JSON.parse(fs.readFileSync(R('linear12/names.json'), 'utf8')).slice(2)));
  await expect(runCli('squisher', '--optimizer', R('linear12/optimizer.pt'), '--model', R('linear12/model.safetensors'), '--param-names', short, '--out', out))
    .rejects.toThrow(/short\.json lists 22 names but .*optimizer\.pt's param_groups hold 24 ids/);
  fs.writeFileSync(short, '{"x": 1}');
  await expect(runCli('squisher', '--optimizer', R('linear12/optimizer.pt'), '--model', R('linear12/model.pt'), '--param-names', short, '--out', out)).rejects.toThrow(/expected a JSON list of names/);
  await expect(runCli('squisher', '--optimizer', R('ambiguous/optimizer.pt'), '--model', R('ambiguous/model.pt'), '--out', out)).rejects.toThrow(/refusing to guess/);
  await expect(runCli('squisher', '--trainer-dir', d, '--out', out)).rejects.toThrow(/has no optimizer\.pt/);
  await expect(runCli('squisher', '--out', out)).rejects.toThrow(/needs --optimizer FILE .* or --trainer-dir DIR/);
  expect(fs.readdirSync(d).sort()).toEqual(['short.json']);
});
