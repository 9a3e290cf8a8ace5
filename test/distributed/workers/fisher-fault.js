// A rank for test/distributed/faults.test.ts: a data-parallel Fisher in which the last rank kills itself
// (MODE 'kill': SIGKILL, no chance to clean up) after its first batches, or fails on its own data (MODE
// 'throw': float labels for a classifier); the others must fail naming it, and rank 0 must not write OUT.
const path = require('path');
const sq = require('../../../dist');

(async () => {
  const [fixtures, out, mode = 'kill'] = process.argv.slice(2);
  const g = await sq.distributed.initProcessGroup({ backend: 'gloo', timeoutMs: 20000 });
  const cnn = sq.ScriptModule.load(path.join(fixtures, 'cnn.jit.pt'));
  sq.manualSeed(1);
  const last = g.rank === g.worldSize - 1;
  const data = { x: sq.randn([600, 1, 8, 8]), y: mode === 'throw' && last ? sq.zeros([600]) : sq.randint(0, 3, [600]) };
  const t0 = Date.now();
  try {
    await sq.fisherDiagonal(cnn, data, {
      variant: 'empirical', batchSize: 8, distributed: { out },
      onProgress: (p) => { if (g.rank === g.worldSize - 1 && p.done >= 16) process.kill(process.pid, 'SIGKILL'); },
    });
    console.log('RESULT ' + JSON.stringify({ rank: g.rank, error: null }));
  } catch (e) {
    console.log('RESULT ' + JSON.stringify({ rank: g.rank, ms: Date.now() - t0, error: { name: e.name, rank: e.rank, message: e.message } }));
    process.exit(1);
  }
})().catch((e) => { console.error(e.stack || e); process.exit(2); });
