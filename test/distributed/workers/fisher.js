// A rank for test/distributed/fisher.test.ts: every Fisher variant, data-parallel, over the data as one
// in-memory pair of tensors and as a folder of safetensors shards; rank 0 writes each result to OUTDIR.
const path = require('path');
const sq = require('../../../dist');

(async () => {
  const [fixtures, outDir, tiedModel, tiedData] = process.argv.slice(2);
  const g = await sq.distributed.initProcessGroup({ backend: 'gloo', timeoutMs: 30000 });
  const cnn = sq.ScriptModule.load(path.join(fixtures, 'cnn.jit.pt'));
  const m = sq.loadSafetensors(path.join(fixtures, 'cnn_data.safetensors'));
  const mem = { x: m.get('x'), y: m.get('y') };
  const folder = sq.distributed.safetensorsFolder(path.join(fixtures, 'cnn_shards'));
  for (const variant of ['empirical', 'mc', 'exact', 'batched']) {
    for (const [src, data] of [['mem', mem], ['folder', folder]]) {
      const F = await sq.fisherDiagonal(cnn, data, {
        variant, batchSize: 16, samples: 2, seed: 5,
        distributed: { out: path.join(outDir, `${variant}-${src}.safetensors`) },
      });
      F.dispose();
    }
  }
  const r = sq.loadSafetensors(path.join(fixtures, 'reg_data.safetensors'));
  const reg = sq.ScriptModule.load(path.join(fixtures, 'reg.jit.pt'));
  const F = await sq.fisherDiagonal(reg, { x: r.get('x'), y: r.get('y') }, {
    variant: 'exact', task: 'regression', reduction: 'mean', batchSize: 8, engine: 'vmap',
    distributed: { out: path.join(outDir, 'reg-exact-mean.safetensors') },
  });
  F.dispose();
  if (tiedModel) {
    // A tied model (one tensor under two names) and one example: every rank but 0 holds no example and
    // contributes zeros, which must be keyed as the engine keys rank 0's result (the tied tensor once).
    const tied = sq.ScriptModule.load(tiedModel);
    const t = sq.loadSafetensors(tiedData);
    const one = { x: t.get('x').narrow(0, 0, 1), y: t.get('y').narrow(0, 0, 1) };
    const T = await sq.fisherDiagonal(tied, one, { distributed: { out: path.join(outDir, 'tied-one.safetensors') } });
    T.dispose();
  }
  await sq.distributed.destroy();
  console.log('RESULT ' + JSON.stringify({ rank: g.rank, ok: true }));
})().catch((e) => { console.error(e.stack || e); process.exit(2); });
