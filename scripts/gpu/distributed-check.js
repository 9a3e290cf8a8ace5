'use strict';
// CUDA check of the c10d binding (run by scripts/gpu/check.sh on a CUDA machine, from dist/): whether
// this build has NCCL; then one rank (world size 1, as torchrun would start it) initialises NCCL, all-
// reduces a CUDA tensor, and computes every Fisher variant with { distributed: true } on cuda:0, which
// must equal the same Fisher without it exactly (an all-reduce over one rank is the identity); the same
// with Gloo on CUDA data (staged through the CPU). Prints one JSON report; exits 1 on any mismatch.
const sq = require('../../dist');

async function rank() {
  const backend = process.env.CHECK_BACKEND;
  const g = await sq.distributed.initProcessGroup({ backend, timeoutMs: 60000 });
  const report = { backend, worldSize: g.worldSize, device: g.device };
  const t = sq.tensor([1, 2, 3], { device: 'cuda' });
  await g.allReduce(t);
  report.allReduce = Array.from(t.cpu().toArray());
  sq.manualSeed(0);
  const model = new sq.nn.Sequential(new sq.nn.Linear(20, 32), new sq.nn.Tanh(), new sq.nn.Linear(32, 5)).to('cuda');
  const data = { x: sq.randn([200, 20], { device: 'cuda' }), y: sq.randint(0, 5, [200], { device: 'cuda' }) };
  report.variants = {};
  for (const variant of ['empirical', 'mc', 'exact', 'batched']) {
    const o = { variant, batchSize: 32, seed: 3, samples: 2 };
    const a = await sq.fisherDiagonal(model, data, o);
    const b = await sq.fisherDiagonal(model, data, { ...o, distributed: true });
    let maxDiff = 0;
    for (const [k, v] of a) maxDiff = Math.max(maxDiff, v.sub(b.get(k)).abs().max().item());
    report.variants[variant] = { maxDiff, N: b.meta.N, device: [...b.values()][0].device };
  }
  await sq.distributed.destroy();
  console.log('REPORT ' + JSON.stringify(report));
  const ok = report.allReduce.join() === '1,2,3' && Object.values(report.variants).every((v) => v.maxDiff === 0 && v.N === 200);
  process.exit(ok ? 0 : 1);
}

async function main() {
  const backends = sq.distributed.availableBackends();
  console.log(JSON.stringify({ torch: sq.torchVersion, cuda: sq.cuda.isAvailable(), backends }));
  if (!sq.cuda.isAvailable()) { console.error('CUDA not available'); process.exit(1); }
  let failed = 0;
  for (const backend of backends.nccl ? ['nccl', 'gloo'] : ['gloo']) {
    const r = await sq.distributed.launch({ nproc: 1, args: [__filename, 'rank'], env: { CHECK_BACKEND: backend }, onLine: (_, s, l) => console.log(l) });
    if (!r.ok) { failed++; console.error(`${backend}: ${r.firstFailure ? sq.distributed.describeExit(r.firstFailure) : 'failed'}`); }
  }
  if (!backends.nccl) { console.error('this build has no NCCL backend (CUDA libtorch and nccl.h needed at build time)'); failed++; }
  process.exit(failed ? 1 : 0);
}

(process.argv[2] === 'rank' ? rank() : main()).catch((e) => { console.error(e.stack || e); process.exit(1); });
