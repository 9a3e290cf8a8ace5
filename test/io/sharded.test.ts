// Sharded Hugging Face checkpoints (BERT and GPT-2, saved by transformers' save_pretrained(max_shard_size=...)
// as safetensors and by huggingface_hub's save_torch_state_dict as .bin) loaded as one state_dict: every
// tensor bit-identical to what Python reads from the shards (which transformers' from_pretrained agreed
// with when the fixture was made); lazy reads; and every malformed index refused by name.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError, ShardedCheckpoint, checkpointFormat, convert, inspect, load, loadAsync, loadStateDict } from '../../lib/io';
import { AbortError } from '../../lib/errors';
import { native } from '../../lib/native';
import { Tensor } from '../../lib/tensor';
import { runCli } from '../helpers/cli';
import { fixture, fixtureJson, python, tmpDir } from '../helpers/oracle';

type Info = { dtype: string; shape: number[]; sha256: string };
const py = fixtureJson<Record<string, { index: string; keys: string[]; tensors: Record<string, Info>; nshards: number }>>('formats_sharded.json');
const dir = (n: string): string => fixture(path.join('formats', n));
const sha = (t: Tensor): string => createHash('sha256').update(t.toBuffer()).digest('hex');
const NAMES = ['bert-st', 'gpt2-st', 'bert-bin', 'gpt2-bin'];

function expectPython(name: string, sd: Map<string, Tensor>): void {
  const want = py[name];
  expect([...sd.keys()]).toEqual(want.keys);
  for (const [k, t] of sd) expect([k, t.dtype, t.shape, sha(t)]).toEqual([k, want.tensors[k].dtype, want.tensors[k].shape, want.tensors[k].sha256]);
}

/** A copy of a fixture folder to break. */
function copyOf(name: string): string {
  const d = path.join(tmpDir(), name);
  fs.cpSync(dir(name), d, { recursive: true });
  return d;
}
const indexOf = (d: string): string => path.join(d, fs.readdirSync(d).find((f) => f.endsWith('.index.json'))!);

describe('one state_dict from the shards', () => {
  test('every fixture really is sharded (several shards)', () => {
    for (const n of NAMES) expect([n, py[n].nshards > 1]).toEqual([n, true]);
  });
  for (const name of NAMES) {
    test(`${name}: load(folder) and load(index) equal Python's shards, bit for bit`, () => {
      expectPython(name, load(dir(name)) as Map<string, Tensor>);
      expectPython(name, loadStateDict(path.join(dir(name), py[name].index)));
      expect(checkpointFormat(dir(name))).toBe('sharded');
    });
  }
  test("GPT-2's .bin shards: lm_head.weight and transformer.wte.weight stay one storage, as torch.load gives them", () => {
    const sd = load(dir('gpt2-bin')) as Map<string, Tensor>;
    const shared = python<boolean>(`import sys, json, torch
sd = torch.load(sys.argv[1], weights_only=True)
print(json.dumps(sd['lm_head.weight'].data_ptr() == sd['transformer.wte.weight'].data_ptr()))`,
    [path.join(dir('gpt2-bin'), JSON.parse(fs.readFileSync(path.join(dir('gpt2-bin'), py['gpt2-bin'].index), 'utf8')).weight_map['lm_head.weight'])]);
    expect(shared).toBe(true);
    expect(native.storageInfo(sd.get('lm_head.weight')!.handle)[0]).toBe(native.storageInfo(sd.get('transformer.wte.weight')!.handle)[0]);
  });
});

describe('loadAsync / loadAllAsync: the same tensors, bytes read on worker threads, cancellable', () => {
  for (const name of ['bert-st', 'gpt2-bin']) {
    test(`${name}: loadAsync(folder) equals Python's shards`, async () => {
      expectPython(name, await loadAsync(dir(name)) as Map<string, Tensor>);
    });
  }
  test('progress covers every tensor; the event loop turns during the load', async () => {
    const ck = ShardedCheckpoint.open(dir('bert-st'));
    const seen: number[] = [];
    let ticks = 0;
    const iv = setInterval(() => { ticks++; }, 0);
    try {
      const sd = await ck.loadAllAsync({ onProgress: ({ done, total, phase }) => { seen.push(done); expect(total).toBe(py['bert-st'].keys.length); expect(phase).toBe('load'); } });
      expect(sd.size).toBe(py['bert-st'].keys.length);
    } finally {
      clearInterval(iv);
      ck.close();
    }
    expect(seen[seen.length - 1]).toBe(py['bert-st'].keys.length);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(ticks).toBeGreaterThan(0);
  });
  test('an AbortSignal stops it between tensors with an AbortError', async () => {
    const ck = ShardedCheckpoint.open(dir('bert-st'));
    const ac = new AbortController();
    try {
      await expect(ck.loadAllAsync({ signal: ac.signal, onProgress: ({ done }) => { if (done === 3) ac.abort(); } })).rejects.toThrow(AbortError);
    } finally {
      ck.close();
    }
  });
});

describe('ShardedCheckpoint: a lazy loader with keys', () => {
  test('get() reads one tensor from its shard; other shards are never opened (a broken one does not matter)', () => {
    const d = copyOf('bert-st');
    const ck0 = ShardedCheckpoint.open(d);
    const files = ck0.shardFiles();
    const inFirst = ck0.keys().find((k) => ck0.shardOf(k) === files[0])!;
    const inLast = ck0.keys().find((k) => ck0.shardOf(k) === files[files.length - 1])!;
    ck0.close();
    fs.writeFileSync(path.join(d, files[files.length - 1]), 'not a safetensors file at all');
    const ck = ShardedCheckpoint.open(d);
    try {
      expect(ck.keys()).toEqual(py['bert-st'].keys);
      const t = ck.get(inFirst);
      expect(sha(t)).toBe(py['bert-st'].tensors[inFirst].sha256);
      expect(() => ck.get(inLast)).toThrow(CheckpointError);
      expect(() => ck.get(inLast)).toThrow(new RegExp(`index\\.json: tensor '${inLast.replace(/\./g, '\\.')}': shard '${files[files.length - 1]}'`));
    } finally {
      ck.close();
    }
  });
  test('get() from .bin shards too, and describe() gives dtype/shape/shard without reading data', () => {
    const ck = ShardedCheckpoint.open(dir('gpt2-bin'));
    try {
      for (const k of ['transformer.h.1.mlp.c_fc.weight', 'lm_head.weight']) {
        expect(sha(ck.get(k))).toBe(py['gpt2-bin'].tensors[k].sha256);
        const d = ck.describe(k);
        expect([d.dtype, d.shape, d.shard]).toEqual([py['gpt2-bin'].tensors[k].dtype, py['gpt2-bin'].tensors[k].shape, ck.shardOf(k)]);
      }
      expect(() => ck.get('nope')).toThrow(/no tensor 'nope' in the index/);
    } finally {
      ck.close();
    }
  });
});

describe('inspect, convert and the CLI', () => {
  test('inspect(folder): every tensor with its shard', () => {
    const r = inspect(dir('gpt2-st'));
    expect(r.format).toBe('sharded');
    expect(r.shards!.length).toBe(py['gpt2-st'].nshards);
    expect(r.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual(py['gpt2-st'].keys.map((k) => [k, py['gpt2-st'].tensors[k].dtype, py['gpt2-st'].tensors[k].shape]));
    expect(r.tensors.every((t) => r.shards!.includes(t.shard!))).toBe(true);
  });
  test('convert(folder) to one .safetensors and to one .pt: Python reads every tensor equal to the shards', () => {
    const d = tmpDir();
    convert(dir('bert-bin'), path.join(d, 'one.safetensors'));
    convert(dir('bert-st'), path.join(d, 'one.pt'));
    const r = python<Record<string, string>[]>(`import sys, json, hashlib, torch
from safetensors.torch import load_file
h = lambda sd: {k: hashlib.sha256(v.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()).hexdigest() for k, v in sd.items()}
print(json.dumps([h(load_file(sys.argv[1])), h(torch.load(sys.argv[2], weights_only=True))]))`, [path.join(d, 'one.safetensors'), path.join(d, 'one.pt')]);
    for (const [got, name] of [[r[0], 'bert-bin'], [r[1], 'bert-st']] as const) {
      expect(got).toEqual(Object.fromEntries(py[name].keys.map((k) => [k, py[name].tensors[k].sha256])));
    }
  });
  test('CLI: inspect FOLDER, convert FOLDER OUT, prune --model FOLDER', async () => {
    const d = tmpDir();
    const ins = await runCli('inspect', dir('gpt2-bin'));
    expect(ins.out).toMatch(new RegExp(`gpt2-bin: sharded \\(${py['gpt2-bin'].nshards} shards listed in .*gpt2-bin/pytorch_model\\.bin\\.index\\.json\\), ${py['gpt2-bin'].keys.length} tensors`));
    expect(ins.out).toMatch(/lm_head\.weight\s+float32\s+\[512, 64\]\s+128\.0 KiB.*pytorch_model-00001-of-00003\.bin/);
    await runCli('convert', dir('gpt2-st'), path.join(d, 'g.safetensors'));
    expect([...loadStateDict(path.join(d, 'g.safetensors')).keys()]).toEqual(py['gpt2-st'].keys);
    await runCli('prune', '--model', dir('bert-st'), '--method', 'magnitude', '--sparsity', '0.5', '--out', path.join(d, 'p.safetensors'));
    expect([...loadStateDict(path.join(d, 'p.safetensors')).keys()].sort()).toEqual([...py['bert-st'].keys].sort());
  });
});

describe('malformed shard indexes: CheckpointError naming the index file and the tensor', () => {
  const edit = (name: string, f: (wm: Record<string, string>, text: string) => string): string => {
    const d = copyOf(name);
    const idx = indexOf(d);
    const text = fs.readFileSync(idx, 'utf8');
    fs.writeFileSync(idx, f(JSON.parse(text).weight_map, text));
    return d;
  };
  test('a missing shard', async () => {
    const d = copyOf('bert-bin');
    const idx = indexOf(d);
    const wm = JSON.parse(fs.readFileSync(idx, 'utf8')).weight_map;
    const [k, s] = Object.entries<string>(wm)[0];
    fs.unlinkSync(path.join(d, s));
    expect(() => load(d)).toThrow(CheckpointError);
    expect(() => load(d)).toThrow(new RegExp(`${path.basename(idx).replace(/\./g, '\\.')}: shard index: tensor '${k.replace(/\./g, '\\.')}' is in shard '${s}', which does not exist`));
    // through the CLI: refused, and no output written
    const out = path.join(tmpDir(), 'never.safetensors');
    await expect(runCli('convert', d, out)).rejects.toThrow(/which does not exist/);
    expect(fs.existsSync(out)).toBe(false);
  });
  test('a tensor listed twice', () => {
    const d = edit('bert-st', (wm, text) => text.replace('"weight_map": {', `"weight_map": {\n    "pooler.dense.bias": "${Object.values(wm)[0]}",`));
    expect(() => load(d)).toThrow(/model\.safetensors\.index\.json: shard index: tensor 'pooler\.dense\.bias' is listed twice/);
    // two weight_maps: JSON.parse would keep the second without a word
    const d2 = edit('bert-st', (wm, text) => text.replace(/\}\s*$/, `, "weight_map": {"pooler.dense.bias": "${Object.values(wm)[0]}"}}`));
    expect(() => load(d2)).toThrow(/shard index: key 'weight_map' appears twice at the top level/);
    // an escaped quote in a name is one key, not a duplicate
    const d3 = edit('bert-st', (wm) => JSON.stringify({ weight_map: { ...wm, 'a\"b': Object.values(wm)[0], 'a\\"b': Object.values(wm)[0] } }));
    expect(() => load(d3)).toThrow(/tensor 'a"b' is listed in shard/);
  });
  test('a shard path escaping the folder (../, absolute)', () => {
    for (const bad of ['../bert-st/model-00001-of-00003.safetensors', '/etc/passwd', 'sub/../../x.safetensors']) {
      const d = edit('bert-st', (wm) => JSON.stringify({ metadata: {}, weight_map: { ...wm, 'embeddings.word_embeddings.weight': bad } }));
      expect(() => load(d)).toThrow(new RegExp(`index\\.json: shard index: tensor 'embeddings\\.word_embeddings\\.weight': shard path '${bad.replace(/\./g, '\\.')}' is outside the index's folder`));
    }
  });
  test('a shard that lacks a tensor listed for it', () => {
    const d = edit('gpt2-bin', (wm) => JSON.stringify({ weight_map: { ...wm, 'transformer.h.9.attn.c_attn.weight': Object.values(wm)[0] } }));
    expect(() => load(d)).toThrow(/pytorch_model\.bin\.index\.json: tensor 'transformer\.h\.9\.attn\.c_attn\.weight' is listed in shard 'pytorch_model-00001-of-00003\.bin', but that shard does not hold it/);
    expect(() => inspect(d)).toThrow(/transformer\.h\.9\.attn\.c_attn\.weight/);
  });
  test('not an index: bad JSON, no weight_map, a folder with no checkpoint', () => {
    const d = tmpDir();
    fs.writeFileSync(path.join(d, 'model.safetensors.index.json'), '{"weight_map": ');
    expect(() => load(d)).toThrow(/model\.safetensors\.index\.json: shard index: not valid JSON/);
    fs.writeFileSync(path.join(d, 'model.safetensors.index.json'), '{"metadata": {}}');
    expect(() => load(d)).toThrow(/no 'weight_map' object/);
    const empty = tmpDir();
    expect(() => load(empty)).toThrow(/a folder \(not a regular file\) without model\.safetensors, model\.safetensors\.index\.json, pytorch_model\.bin/);
  });
});
