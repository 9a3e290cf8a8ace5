// Issue 9 items 4 and 5: the addon under worker_threads. Each scenario runs in a child node process, so
// a crash (the operator cache and busy set were unlocked process globals: SIGSEGV/SIGABRT in about one
// run in four; terminate() with work in flight aborted the process) fails the test, not jest.
import { runNode, DIST } from '../helpers/child';
import { python } from '../helpers/oracle';

// Every aten operator libtorch has (about 2,500 name.overload pairs), so that first lookups (cache
// inserts, rehashes) race across threads. Python's torch lists them; this libtorch has the same ops.
const OPS: string[] = python(`import json, torch; print(json.dumps(sorted(n for n in torch._C._dispatch_get_all_op_names() if n.startswith('aten::'))))`);

const WORKER = (iterations: number) => `
  const { parentPort, workerData } = require('worker_threads');
  const sq = require(${JSON.stringify(DIST)});
  const { native } = require(${JSON.stringify(DIST.replace(/index\.js$/, 'native.js'))});
  (async () => {
    const ops = workerData.ops.slice();
    for (let i = ops.length - 1; i > 0; i--) { const j = (i * 7919 + workerData.id * 31) % (i + 1); [ops[i], ops[j]] = [ops[j], ops[i]]; }
    for (const o of ops) {
      const k = o.indexOf('.');
      try { native.findOp(k < 0 ? o : o.slice(0, k), k < 0 ? '' : o.slice(k + 1)); } catch (e) { /* Python-only op */ }
    }
    // Many async ops in flight at once on every thread: the lease registry is hit from all of them.
    for (let it = 0; it < ${iterations}; it++) {
      const a = sq.randn([16, 16]);
      const pending = [];
      for (let j = 0; j < 16; j++) pending.push(a.matmulAsync(a), sq.callOpAsync('aten::add_', 'Scalar', sq.zeros([8]), 1));
      const res = await Promise.all(pending);
      if (res[0].shape[0] !== 16) throw new Error('wrong result');
      for (const r of res) if (r) r.dispose();
      a.dispose();
    }
    parentPort.postMessage('done');
  })().catch((e) => { parentPort.postMessage('error: ' + e.stack); });
`;

test('4 workers doing async ops and operator lookups in a loop: no crash, every worker finishes', () => {
  const r = runNode(`
    const { Worker } = require('worker_threads');
    const code = ${JSON.stringify(WORKER(100))};
    for (let round = 0; round < 6; round++) {
      const results = await Promise.all([0, 1, 2, 3].map((id) => new Promise((res, rej) => {
        const w = new Worker(code, { eval: true, workerData: { id: id + round * 4, ops: ${JSON.stringify(OPS)} } });
        let msg = '';
        w.on('message', (m) => { msg = m; });
        w.on('error', rej);
        w.on('exit', (c) => res(msg + ' exit ' + c));
      })));
      console.log(results.join(', '));
    }
    // The main thread's own state is intact afterwards.
    const x = sq.tensor([[1, 2], [3, 4]]);
    console.log('main ' + (await x.matmulAsync(x)).toList().flat().join(','));
  `, 240_000);
  expect(r.status).toBe(0);
  expect(r.signal).toBeNull();
  const lines = r.stdout.trim().split('\n');
  expect(lines.slice(0, 6)).toEqual(Array(6).fill('done exit 0, done exit 0, done exit 0, done exit 0'));
  expect(lines[6]).toBe('main 7,10,15,22');
});

test('worker.terminate() while async ops are in flight does not abort the process', () => {
  const r = runNode(`
    const { Worker } = require('worker_threads');
    const code = \`
      const { parentPort } = require('worker_threads');
      const sq = require(${JSON.stringify(DIST)});
      const a = sq.randn([700, 700]);
      const keep = [];
      for (let i = 0; i < 6; i++) keep.push(a.matmulAsync(a), sq.callOpAsync('aten::add_', 'Scalar', sq.zeros([100000]), 1));
      parentPort.postMessage('started');
      // Keep submitting work until terminated.
      setInterval(() => { keep.push(a.matmulAsync(a)); }, 1);
    \`;
    for (let round = 0; round < 6; round++) {
      const w = new Worker(code, { eval: true });
      await new Promise((res) => w.on('message', res));
      await new Promise((res) => setTimeout(res, round * 3));
      const code2 = await w.terminate();
      console.log('terminated ' + code2);
    }
    const x = sq.tensor([[1, 2], [3, 4]]);
    console.log('survived ' + (await x.matmulAsync(x)).toList().flat().join(','));
  `, 120_000);
  expect({ status: r.status, signal: r.signal }).toEqual({ status: 0, signal: null });
  expect(r.stdout).toContain('survived 7,10,15,22');
  expect(r.stdout.match(/terminated 1/g)?.length).toBe(6);
  expect(r.stderr).not.toMatch(/terminate called|Napi::Error/);
});
