#!/usr/bin/env node
// Load time of a ~500 MB state_dict: squisher's load() (compiled dist/) against Python's
// torch.load(weights_only=True), on the same file, in the same run. The file is made in a temp dir
// by Python torch and deleted afterwards. Usage: node scripts/bench/load.js [MB] [repeats]
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { findPython } = require('../oracle');

const MB = Number(process.argv[2] ?? 500);
const REPEATS = Number(process.argv[3] ?? 3);
const dist = path.resolve(__dirname, '..', '..', 'dist');
if (!fs.existsSync(path.join(dist, 'io', 'index.js'))) {
  console.error('dist/ is not built: run `npx tsc -p tsconfig.build.json` first');
  process.exit(1);
}
const squisher = require(dist);
const py = findPython();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'squisher-bench-'));
const file = path.join(dir, 'state_dict.pt');

function python(code, args) {
  const r = spawnSync(py, ['-c', code, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

try {
  // A transformer-like state_dict: 4096x1024 float32 blocks (16 MB), biases, a few small tensors.
  python(`import sys, torch, collections
torch.manual_seed(0)
sd = collections.OrderedDict(); i = 0; total = 0
while total < ${MB} * 2**20:
    sd[f'layers.{i}.weight'] = torch.randn(4096, 1024); sd[f'layers.{i}.bias'] = torch.randn(4096)
    sd[f'layers.{i}.norm.weight'] = torch.ones(1024); total += (4096 * 1024 + 4096 + 1024) * 4; i += 1
torch.save(sd, sys.argv[1]); print(len(sd))`, [file]);
  const size = fs.statSync(file).size;
  // Python: best of REPEATS loads, timed inside one interpreter (import time excluded).
  const pyTimes = python(`import sys, time, json, torch
ts = []
for _ in range(${REPEATS}):
    t = time.perf_counter(); sd = torch.load(sys.argv[1], weights_only=True); ts.append(time.perf_counter() - t); del sd
print(json.dumps(ts))`, [file]);
  const nodeTimes = [];
  for (let i = 0; i < REPEATS; i++) {
    const t = process.hrtime.bigint();
    const sd = squisher.load(file);
    nodeTimes.push(Number(process.hrtime.bigint() - t) / 1e9);
    for (const x of sd.values()) x.dispose();
  }
  const best = (a) => Math.min(...a);
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const res = {
    file_mb: +(size / 2 ** 20).toFixed(1), repeats: REPEATS, libtorch: squisher.torchVersion,
    node_s: +best(nodeTimes).toFixed(3), python_s: +best(pyTimes).toFixed(3),
    ratio_node_over_python: +(best(nodeTimes) / best(pyTimes)).toFixed(2),
    median_node_s: +median(nodeTimes).toFixed(3), median_python_s: +median(pyTimes).toFixed(3),
    median_ratio: +(median(nodeTimes) / median(pyTimes)).toFixed(2),
    node_all: nodeTimes.map((x) => +x.toFixed(3)), python_all: pyTimes.map((x) => +x.toFixed(3)),
  };
  console.log(JSON.stringify(res, null, 1));
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
