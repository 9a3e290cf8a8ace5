// Distributed merging: 3 Gloo ranks split two checkpoints' tensors by name, merge them (Fisher-weighted,
// normalised) and write a sharded safetensors folder; it equals the single-process merge exactly, and
// Python reads it through its index as transformers would. A rank killed mid-merge leaves no output.
import * as fs from 'fs';
import * as path from 'path';
import { fileSource, mergeModels } from '../../lib/apps';
import { shardedSource, INDEX_FILE } from '../../lib/distributed/sharded';
import { fixture, python, tmpDir } from '../helpers/oracle';
import { allText, runRanks } from './helpers';

const f = (n: string): string => fixture(`apps_cli/${n}`);
const inputs = [f('m0.safetensors'), f('m1.safetensors'), f('f0.safetensors'), f('f1.safetensors')];

const READ = `import sys, json, os
from safetensors.torch import load_file
d = sys.argv[1]
idx = json.load(open(os.path.join(d, 'model.safetensors.index.json')))
out = {}
for f in sorted(set(idx['weight_map'].values())):
    for k, v in load_file(os.path.join(d, f)).items():
        assert idx['weight_map'][k] == f, k
        out[k] = [str(v.dtype), list(v.shape), v.double().flatten().tolist()]
print(json.dumps({'tensors': out, 'total_size': idx['metadata']['total_size']}))`;

test('3 ranks: the sharded merge equals the single-process merge; Python reads it by its index', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'merged');
  const r = await runRanks(3, 'merge.js', [...inputs, out]);
  if (!r.ok) throw new Error(allText(r));
  const ref = await mergeModels([fileSource(inputs[0]), fileSource(inputs[1])], [fileSource(inputs[2]), fileSource(inputs[3])], { method: 'fisher', normalize: true, floor: 1e-6 });
  const names = [...ref.merged.keys()];
  // Tensor i went to rank i mod 3.
  for (let k = 0; k < 3; k++) expect(r.results[k].mine).toEqual(names.filter((_, i) => i % 3 === k));
  const got = shardedSource(out);
  expect(got.names()).toEqual(names);
  for (const n of names) {
    const a = got.get(n), b = ref.merged.get(n)!;
    expect([a.dtype, a.shape]).toEqual([b.dtype, b.shape]);
    expect(Array.from(a.toArray() as any)).toEqual(Array.from(b.toArray() as any));
    a.dispose();
  }
  const py = python(READ, [out]);
  expect(Object.keys(py.tensors).sort()).toEqual([...names].sort());
  for (const n of names) expect(py.tensors[n][2]).toEqual(Array.from(ref.merged.get(n)!.toArray() as any, Number));
  expect(py.total_size).toBe([...ref.merged.values()].reduce((s, t) => s + t.nbytes, 0));
  expect(fs.readdirSync(dir)).toEqual(['merged']);
  expect(fs.readdirSync(out).sort()).toEqual(['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors', INDEX_FILE]);
  for (const t of ref.merged.values()) t.dispose();
});

test('a rank killed mid-merge: the others fail naming it, and neither OUT nor staging files remain', async () => {
  const dir = tmpDir();
  const r = await runRanks(2, 'merge.js', [...inputs, path.join(dir, 'merged'), 'die']);
  expect(r.exits[1].signal).toBe('SIGKILL');
  expect(r.results[0].error).toMatchObject({ name: 'DistributedError', rank: 1 });
  expect(fs.readdirSync(dir)).toEqual([]);
});
