// A rank for test/distributed/merge.test.ts: a Fisher-weighted merge (normalised) of two checkpoints
// with tensors split across ranks, written as a sharded safetensors folder. MODE 'die': the last rank
// is killed before writing its shard.
const sq = require('../../../dist');

(async () => {
  const [m0, m1, f0, f1, out, mode] = process.argv.slice(2);
  const g = await sq.distributed.initProcessGroup({ backend: 'gloo', timeoutMs: 20000 });
  const src = (f) => sq.apps.fileSource(f);
  let models = [src(m0), src(m1)];
  if (mode === 'die' && g.rank === g.worldSize - 1) {
    models = models.map((m) => ({ ...m, names: m.names, get: () => process.kill(process.pid, 'SIGKILL') }));
  }
  try {
    const r = await sq.distributed.distributedMerge(models, [src(f0), src(f1)], { method: 'fisher', normalize: true, floor: 1e-6, out });
    console.log('RESULT ' + JSON.stringify({ rank: g.rank, mine: r.mine, copied: r.copied }));
  } catch (e) {
    console.log('RESULT ' + JSON.stringify({ rank: g.rank, error: { name: e.name, rank: e.rank, message: e.message } }));
    process.exit(1);
  }
})().catch((e) => { console.error(e.stack || e); process.exit(2); });
