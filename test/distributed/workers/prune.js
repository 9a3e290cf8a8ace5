// A rank for test/distributed/prune.test.ts: pruning a checkpoint with its tensors split across ranks,
// three ways (global OBD with ties in the scores, global magnitude, per-layer OBD), each to its own folder.
const path = require('path');
const sq = require('../../../dist');

(async () => {
  const [model, fisher, outDir] = process.argv.slice(2);
  await sq.distributed.initProcessGroup({ backend: 'gloo', timeoutMs: 20000 });
  const m = sq.apps.fileSource(model), f = sq.apps.fileSource(fisher);
  const runs = [['global-fisher', { method: 'fisher', scope: 'global', sparsity: 0.3 }],
    ['global-magnitude', { method: 'magnitude', scope: 'global', sparsity: 0.6 }],
    ['layer-fisher', { method: 'fisher', scope: 'layer', sparsity: 0.5 }]];
  const res = {};
  for (const [name, o] of runs) {
    const r = await sq.distributed.distributedPrune(m, f, { ...o, out: path.join(outDir, name) });
    res[name] = { removed: r.removed, prunable: r.prunable };
  }
  await sq.distributed.destroy();
  console.log('RESULT ' + JSON.stringify(res));
})().catch((e) => { console.error(e.stack || e); process.exit(2); });
