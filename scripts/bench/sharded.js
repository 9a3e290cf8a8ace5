#!/usr/bin/env node
// Sharded checkpoints: one state_dict from a folder of shards (safetensors and .bin, as huggingface_hub's
// save_torch_state_dict writes them), and one tensor read lazily, squisher against Python in the same run.
// Python's side is what transformers does per shard: safetensors' load_file / torch.load(weights_only=True)
// of every shard, merged, with safetensors' memory maps copied into memory (clone) as squisher reads them;
// lazily, safe_open(...).get_tensor(name).clone(). Best of REPEATS, file cache warm for both.
// Usage: node scripts/bench/sharded.js [MB] [repeats]
const fs = require('fs');
const os = require('os');
const path = require('path');
const { lib, python } = require('./_common');

const MB = Number(process.argv[2] ?? 300);
const REPEATS = Number(process.argv[3] ?? 3);
const squisher = lib();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'squisher-bench-sharded-'));

const best = (a) => Math.min(...a);
function nodeTime(fn) {
  const ts = [];
  for (let i = 0; i < REPEATS; i++) {
    const t = process.hrtime.bigint();
    const out = fn();
    ts.push(Number(process.hrtime.bigint() - t) / 1e9);
    if (out instanceof Map) for (const x of out.values()) x.dispose(); else out.dispose();
  }
  return best(ts);
}

try {
  const made = python(`import sys, json, torch, collections, huggingface_hub
torch.manual_seed(0)
sd = collections.OrderedDict(); i = 0; total = 0
while total < ${MB} * 2**20:
    sd[f'layers.{i}.weight'] = torch.randn(2048, 1024); sd[f'layers.{i}.bias'] = torch.randn(2048); total += (2048 * 1024 + 2048) * 4; i += 1
for safe, sub in ((True, 'st'), (False, 'bin')):
    import os; os.makedirs(sys.argv[1] + '/' + sub)
    huggingface_hub.save_torch_state_dict(sd, sys.argv[1] + '/' + sub, max_shard_size='64MB', safe_serialization=safe)
print(json.dumps({'tensors': len(sd), 'middle': f'layers.{i // 2}.weight'}))`, [dir]);
  const rows = [];
  for (const sub of ['st', 'bin']) {
    const d = path.join(dir, sub);
    const py = python(`import sys, json, time, os, torch
from safetensors.torch import load_file
from safetensors import safe_open
d, sub, name, reps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
idx = json.load(open(os.path.join(d, [f for f in os.listdir(d) if f.endswith('.index.json')][0])))['weight_map']
def load_all():
    sd = {}
    for shard in sorted(set(idx.values())):
        p = os.path.join(d, shard)
        # load_file maps the file lazily: clone() reads the bytes into memory, as squisher's load does
        sd.update({k: v.clone() for k, v in load_file(p).items()} if sub == 'st' else torch.load(p, weights_only=True))
    return sd
def one():
    p = os.path.join(d, idx[name])
    if sub == 'st':
        with safe_open(p, 'pt') as f: return f.get_tensor(name).clone()
    return torch.load(p, weights_only=True, mmap=True)[name].clone()
out = {}
for k, fn in (('all', load_all), ('one', one)):
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); x = fn(); ts.append(time.perf_counter() - t); del x
    out[k] = min(ts)
print(json.dumps(out))`, [d, sub, made.middle, String(REPEATS)]);
    const all = nodeTime(() => squisher.loadStateDict(d));
    const one = nodeTime(() => { const ck = squisher.ShardedCheckpoint.open(d); try { return ck.get(made.middle); } finally { ck.close(); } });
    rows.push({ format: sub === 'st' ? 'safetensors' : '.bin', shards: fs.readdirSync(d).filter((f) => !f.endsWith('.json')).length,
      all_node_s: +all.toFixed(3), all_python_s: +py.all.toFixed(3), all_ratio: +(all / py.all).toFixed(2),
      one_node_ms: +(one * 1e3).toFixed(2), one_python_ms: +(py.one * 1e3).toFixed(2), one_ratio: +(one / py.one).toFixed(2) });
  }
  console.log(JSON.stringify({ mb: MB, tensors: made.tensors, repeats: REPEATS, libtorch: squisher.torchVersion, rows }, null, 1));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
