// safetensors read (header only / by key / all) against the file Python's safetensors wrote, and
// files written here loaded back by Python's safetensors package.
import * as fs from 'fs';
import * as path from 'path';
import { inspect, inspectSafetensors, loadSafetensors, saveSafetensors } from '../../lib/io';
import { tensor } from '../../lib/tensor';
import { fixture, fixtureJson, python, tmpDir } from '../helpers/oracle';
import { compareTensor, newCtx } from './compare';

const desc = fixtureJson('checkpoints.json')['model.safetensors'];
const file = fixture('checkpoints/model.safetensors');

test('every tensor and the __metadata__ equal what Python wrote', () => {
  const m = loadSafetensors(file);
  expect(m.size).toBe(desc.items.length);
  for (const [[k], d] of desc.items.map(([k, v]: any) => [[k.value], v])) compareTensor(m.get(k), d, k, newCtx(false));
  expect(m.metadata).toEqual({ format: 'pt', author: 'fixture' });
});

test('keys: only the named tensors are read; an unknown key is an error naming it', () => {
  const m = loadSafetensors(file, { keys: ['ids'] });
  expect([...m.keys()]).toEqual(['ids']);
  expect(() => loadSafetensors(file, { keys: ['nope'] })).toThrow(/model\.safetensors: safetensors: no tensor 'nope'/);
});

test('the header alone: names, dtypes, shapes, offsets inside the file', () => {
  const h = inspectSafetensors(file);
  const size = fs.statSync(file).size;
  for (const e of h.tensors) expect(e.offset + e.nbytes).toBeLessThanOrEqual(size);
  expect(inspect(file).tensors.find((t) => t.name === 'head.bias')).toMatchObject({ dtype: 'float16', shape: [3] });
});

test('written here, loaded by Python safetensors with equal values and metadata', () => {
  const d = tmpDir();
  const out = path.join(d, 'w.safetensors');
  const base = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] });
  saveSafetensors(out, { a: base, t: base.t(), h: tensor([1.5, -2]).half(), i: tensor(BigInt64Array.from([1n, -(2n ** 60n)])),
    b: tensor([true, false]), s: tensor(3) }, { metadata: { k: 'v' } });
  const r = python(`import sys, json
from safetensors import safe_open
from safetensors.torch import load_file
t = load_file(sys.argv[1])
with safe_open(sys.argv[1], 'pt') as f: meta = f.metadata()
print(json.dumps({k: [str(v.dtype), list(v.shape), [str(x) for x in v.flatten().tolist()]] for k, v in t.items()} | {'meta': meta}))`, [out]);
  expect(r).toEqual({
    a: ['torch.float32', [2, 3], ['1.0', '2.0', '3.0', '4.0', '5.0', '6.0']],
    t: ['torch.float32', [3, 2], ['1.0', '4.0', '2.0', '5.0', '3.0', '6.0']],
    h: ['torch.float16', [2], ['1.5', '-2.0']], i: ['torch.int64', [2], ['1', String(-(2n ** 60n))]],
    b: ['torch.bool', [2], ['True', 'False']], s: ['torch.float32', [], ['3.0']], meta: { k: 'v' },
  });
  expect(() => saveSafetensors(out, { a: base })).toThrow(/file exists/);
});

test('corrupt headers give errors naming the file and the problem', () => {
  const d = tmpDir();
  const bad = (name: string, buf: Buffer): string => { const p = path.join(d, name); fs.writeFileSync(p, buf); return p; };
  const hdr = (j: string): Buffer => { const b = Buffer.from(j); const n = Buffer.alloc(8); n.writeBigUInt64LE(BigInt(b.length)); return Buffer.concat([n, b]); };
  expect(() => loadSafetensors(bad('huge.safetensors', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x7b]))))
    .toThrow(/huge\.safetensors: safetensors: header length \d+ is larger than the file/);
  expect(() => loadSafetensors(bad('json.safetensors', hdr('{"a": ')))).toThrow(/json\.safetensors: .*not valid JSON/);
  expect(() => loadSafetensors(bad('off.safetensors', hdr('{"a":{"dtype":"F32","shape":[1000000000000],"data_offsets":[0,4000000000000]}}'))))
    .toThrow(/off\.safetensors: .*tensor 'a': data_offsets .* outside/);
  expect(() => loadSafetensors(bad('dt.safetensors', hdr('{"a":{"dtype":"F8_E8M0","shape":[1],"data_offsets":[0,1]}}'))))
    .toThrow(/dt\.safetensors: .*tensor 'a': dtype "F8_E8M0" is not supported/);
});
