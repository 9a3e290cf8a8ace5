'use strict';
// Data-parallel Fisher on CPU: W processes x 1 thread (Gloo on 127.0.0.1, launched as
// `squisher fisher --nproc-per-node W` launches them) against 1 process x 1 thread, on the same model and
// data, and Python torch.distributed (Gloo, the same W processes, torch.func per-sample gradients) beside
// it. Reported: the Fisher's own time (slowest rank, from a barrier to the all-reduced result) and the
// wall time of the whole run (process start, libtorch load, rendezvous); speed-ups as ratios.
// Goal (issue 12): W=2 >= 1.7x faster than one process. A machine with fewer free cores than W cannot
// show it; the bench prints the core count beside the ratio.
// Usage: node scripts/bench/distributed.js [--nproc 2] [--n 4096] [--reps 3] [--python 0]   (Python: one run each)
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { ROOT, lib, pythonBin, table } = require('./_common');

const arg = (k, d) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? process.argv[i + 1] : d; };
const W = Number(arg('nproc', '2'));
const N = Number(arg('n', '4096'));
const REPS = Number(arg('reps', '3'));
const BATCH = 128;
const PYTHON = arg('python', '1') !== '0';

// Rank-side: load, meet, time the Fisher, report the slowest rank's time (all-reduced max via sum of one-hots).
const WORKER = `
const sq = require(${JSON.stringify(path.join(ROOT, 'dist'))});
(async () => {
  const [dir, mode] = process.argv.slice(1);
  sq.setNumThreads(1);
  const m = sq.ScriptModule.load(dir + '/mlp.jit.pt');
  const d = sq.loadSafetensors(dir + '/data.safetensors');
  const data = { x: d.get('x'), y: d.get('y') };
  const opts = { variant: 'empirical', batchSize: ${BATCH} };
  if (mode === 'single') {
    const t0 = process.hrtime.bigint();
    const F = await sq.fisherDiagonal(m, data, opts);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    console.log('RESULT ' + JSON.stringify({ ms, total: F.total() }));
    return;
  }
  const g = await sq.distributed.initProcessGroup({ backend: 'gloo', timeoutMs: 600000 });
  await g.barrier();
  const t0 = process.hrtime.bigint();
  const F = await sq.fisherDiagonal(m, data, { ...opts, distributed: true });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const all = sq.tensor(Array.from({ length: g.worldSize }, (_, i) => (i === g.rank ? ms : 0)), { dtype: 'float64' });
  await g.allReduce(all);
  if (g.rank === 0) console.log('RESULT ' + JSON.stringify({ ms: Math.max(...all.toArray()), total: F.total() }));
  await sq.distributed.destroy();
})().catch((e) => { console.error(e); process.exit(1); });`;

const PY_SETUP = `
import sys, torch, torch.nn as nn
from safetensors.torch import save_file
d, n = sys.argv[1], int(sys.argv[2])
torch.manual_seed(0)
m = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)).eval()
torch.jit.script(m).save(d + '/mlp.jit.pt')
save_file({'x': torch.randn(n, 784), 'y': torch.randint(0, 10, (n,))}, d + '/data.safetensors')
print('{}')`;

// Python: the same empirical Fisher with torch.func on a DistributedSampler-style shard, then all_reduce.
const PY_RANK = `
import json, os, sys, time, torch, torch.distributed as dist, torch.nn.functional as F
from safetensors.torch import load_file
from torch.func import functional_call, grad, vmap
torch.set_num_threads(1)
d = sys.argv[1]
W = int(os.environ.get('WORLD_SIZE', '1'))
if W > 1: dist.init_process_group('gloo')
r = dist.get_rank() if W > 1 else 0
import torch.nn as nn
m = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)).eval()
m.load_state_dict(torch.jit.load(d + '/mlp.jit.pt').state_dict())  # torch.func needs the eager module
data = load_file(d + '/data.safetensors')
x, y = data['x'][r::W], data['y'][r::W]
p = {k: v.detach() for k, v in m.named_parameters()}
def loss1(p, xi, yi): return F.cross_entropy(functional_call(m, p, (xi.unsqueeze(0),)), yi.unsqueeze(0), reduction='sum')
g1 = vmap(grad(loss1), in_dims=(None, 0, 0))
if W > 1: dist.barrier()
t0 = time.perf_counter()
acc = {k: torch.zeros_like(v) for k, v in p.items()}
for s in range(0, x.shape[0], ${BATCH}):
    for k, g in g1(p, x[s:s + ${BATCH}], y[s:s + ${BATCH}]).items(): acc[k] += g.square().sum(0)
if W > 1:
    for v in acc.values(): dist.all_reduce(v)
ms = (time.perf_counter() - t0) * 1000
t = torch.tensor([ms if i == r else 0.0 for i in range(W)], dtype=torch.float64)
if W > 1: dist.all_reduce(t)
if r == 0: print('RESULT ' + json.dumps({'ms': max(t.tolist()), 'total': sum(float(v.double().sum()) for v in acc.values())}))
if W > 1: dist.destroy_process_group()`;

function runNode(dir, nproc) {
  const t0 = Date.now();
  const args = nproc === 1
    ? [process.execPath, ['-e', WORKER, dir, 'single'], { env: { ...process.env, OMP_NUM_THREADS: '1' } }]
    : [process.execPath, ['-e', `require(${JSON.stringify(path.join(ROOT, 'dist', 'distributed', 'launcher.js'))}).launch({ nproc: ${nproc}, args: ['-e', ${JSON.stringify(WORKER)}, ${JSON.stringify(dir)}, 'dist'] }).then((r) => process.exit(r.ok ? 0 : 1))`], {}];
  const r = spawnSync(args[0], args[1], { encoding: 'utf8', maxBuffer: 1 << 26, ...args[2] });
  if (r.status !== 0) throw new Error(`node run failed:\n${r.stdout}\n${r.stderr}`);
  const line = r.stdout.split('\n').find((l) => l.includes('RESULT '));
  return { ...JSON.parse(line.slice(line.indexOf('RESULT ') + 7)), wall: Date.now() - t0 };
}

function runPython(dir, nproc) {
  const t0 = Date.now();
  const py = pythonBin();
  const script = path.join(dir, 'rank.py');
  fs.writeFileSync(script, PY_RANK);
  const r = nproc === 1
    ? spawnSync(py, [script, dir], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } })
    : spawnSync(py, ['-m', 'torch.distributed.run', '--standalone', `--nproc-per-node=${nproc}`, script, dir], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  if (r.status !== 0) throw new Error(`python run failed:\n${r.stdout}\n${r.stderr}`);
  const line = r.stdout.split('\n').find((l) => l.includes('RESULT '));
  return { ...JSON.parse(line.slice(line.indexOf('RESULT ') + 7)), wall: Date.now() - t0 };
}

function median(xs) { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; }

function main() {
  lib();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'squisher-bench-dist-'));
  try {
    const s = spawnSync(pythonBin(), ['-c', PY_SETUP, dir, String(N)], { encoding: 'utf8' });
    if (s.status !== 0) throw new Error(s.stderr);
    process.stdout.write(`empirical Fisher, MLP 784-512-512-10, N=${N}, batch ${BATCH}, 1 thread per process, ${os.cpus().length} cores on this machine (load average ${os.loadavg()[0].toFixed(2)})\n`);
    const res = { node1: [], nodeW: [], py1: [], pyW: [] };
    for (let i = 0; i < REPS; i++) { res.node1.push(runNode(dir, 1)); res.nodeW.push(runNode(dir, W)); }
    // torch.func materialises every per-sample gradient: one run each is minutes enough.
    if (PYTHON) { res.py1.push(runPython(dir, 1)); res.pyW.push(runPython(dir, W)); }
    const rel = Math.abs(res.nodeW[0].total - res.node1[0].total) / res.node1[0].total;
    const m = (k, f) => median(res[k].map((r) => r[f]));
    const row = (label, a, b) => [label, `${m(a, 'ms').toFixed(0)}`, `${m(b, 'ms').toFixed(0)}`, `${(m(a, 'ms') / m(b, 'ms')).toFixed(2)}x`,
      `${m(a, 'wall')} / ${m(b, 'wall')}`, `${(m(a, 'wall') / m(b, 'wall')).toFixed(2)}x`];
    const rows = [row('squisher (Node)', 'node1', 'nodeW')];
    if (PYTHON) rows.push(row('PyTorch (torch.func + torch.distributed)', 'py1', 'pyW'));
    table(rows, ['', 'Fisher ms, 1 proc', `Fisher ms, ${W} procs`, 'speed-up', 'wall ms (1 / W)', 'wall speed-up']);
    console.log(`Node ${W}-process result vs 1-process: relative difference of the totals ${rel.toExponential(2)}`);
    if (PYTHON) console.log(`Node vs Python, ${W} processes (Fisher time): ${(m('pyW', 'ms') / m('nodeW', 'ms')).toFixed(2)}x`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();
