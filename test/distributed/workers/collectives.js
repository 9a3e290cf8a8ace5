// A rank for test/distributed/collectives.test.ts: all-reduce, broadcast and barrier, then (MODE) a
// failure: 'die' (the last rank exits mid-run) or 'hang' (the last rank never enters the collective).
const sq = require('../../../dist');
const { ProcessGroup } = sq.distributed;

(async () => {
  const mode = process.argv[2] || 'ok';
  const g = await ProcessGroup.init({ backend: 'gloo', timeoutMs: Number(process.env.TEST_TIMEOUT_MS || 20000) });
  const { rank, worldSize: W } = g;
  const a = sq.tensor([rank + 1, 10 * rank, 0.5], { dtype: 'float64' });
  // The last rank arrives 1 s late; meanwhile the others' event loops keep running (timers tick).
  if (rank === W - 1) await new Promise((r) => setTimeout(r, 1000));
  let ticks = 0;
  const timer = setInterval(() => ticks++, 50);
  const pending = g.allReduce(a);
  // While the collective writes `a` on a worker thread (the ranks that wait for the late one), a write
  // through another view of its memory is refused. Collectives are queued: let this one reach the addon.
  let busy = null;
  if (rank !== W - 1) {
    await new Promise((r) => setTimeout(r, 100));
    try { sq.callOp('aten::mul_', 'Scalar', a.detach(), 2); } catch (e) { busy = e.name; }
  }
  await pending;
  clearInterval(timer);
  const b = sq.tensor([[rank, rank], [rank, rank]], { dtype: 'float32' });
  await g.broadcast(b, W - 1);
  await g.barrier();
  // Not contiguous (a transpose): reduced through a contiguous copy, written back in place.
  const c = sq.tensor([[1, 2], [3, 4]]).t();
  await g.allReduce(c);
  const res = { rank, W, sum: Array.from(a.toArray()), bcast: Array.from(b.toArray()), strided: Array.from(c.contiguous().toArray()), waitTicks: rank === W - 1 ? null : ticks, busy };
  if (mode === 'ok') {
    console.log('RESULT ' + JSON.stringify(res));
    await g.destroy();
    return;
  }
  const last = rank === W - 1;
  if (last && mode === 'die') process.exit(3);
  if (last && mode === 'hang') { setTimeout(() => process.exit(0), 60000); return; }
  try {
    await g.allReduce(sq.ones([4]));
    console.log('RESULT ' + JSON.stringify({ ...res, error: null }));
  } catch (e) {
    console.log('RESULT ' + JSON.stringify({ ...res, error: { name: e.name, rank: e.rank, message: e.message } }));
    process.exit(1);
  }
})().catch((e) => { console.error(e.stack || e); process.exit(2); });
