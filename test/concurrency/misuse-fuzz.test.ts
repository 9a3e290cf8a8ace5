// Issue 9's misuse campaign, native side: random and hostile arguments to operators (wrong types, -1,
// huge sizes, NaN, bad enum codes, tensors of the wrong dtype), async ops whose inputs are disposed or
// written meanwhile, and terminate() mid forwardAsync. Every call must end in a result or a thrown
// Error; the child process must exit 0. Seeded, so a failure replays; a failing case found here stays.
import { runNode, DIST } from '../helpers/child';
import { fixture } from '../helpers/oracle';

const OPS = [
  ['aten::empty', 'memory_format'], ['aten::zeros', ''], ['aten::full', ''], ['aten::arange', 'start_step'],
  ['aten::reshape', ''], ['aten::view', ''], ['aten::expand', ''], ['aten::narrow', ''], ['aten::select', 'int'],
  ['aten::index_select', ''], ['aten::gather', ''], ['aten::cat', ''], ['aten::stack', ''], ['aten::transpose', 'int'],
  ['aten::permute', ''], ['aten::sum', 'dim_IntList'], ['aten::softmax', 'int'], ['aten::_to_copy', ''],
  ['aten::resize_', ''], ['aten::as_strided', ''], ['aten::conv2d', ''], ['aten::linear', ''], ['aten::embedding', ''],
  ['aten::one_hot', ''], ['aten::repeat', ''], ['aten::topk', ''], ['aten::sort', ''], ['aten::cumsum', ''],
  ['aten::max_pool2d', ''], ['aten::unfold', ''], ['aten::index', 'Tensor'], ['aten::index_put_', ''],
  ['aten::scatter_add', ''], ['aten::masked_fill', 'Scalar'], ['aten::copy_', ''], ['aten::set_', 'source_Tensor'],
  ['aten::matmul', ''], ['aten::bmm', ''], ['aten::addmm', ''], ['aten::layer_norm', ''], ['aten::bincount', ''],
  ['aten::histc', ''], ['aten::multinomial', ''], ['aten::randperm', ''], ['aten::tril', ''], ['aten::diag_embed', ''],
  ['aten::nonzero', ''], ['aten::unique_dim', ''], ['aten::split_with_sizes', ''], ['aten::movedim', 'int'],
];

test('operators given random and hostile arguments throw Errors, never crash', () => {
  const r = runNode(`
    let seed = 12345;
    const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
    const pick = (a) => a[Math.floor(rnd() * a.length)];
    const tensors = () => [sq.randn([3, 4]), sq.randn([2, 3, 4, 5]), sq.tensor([1, 2, 3]).long(), sq.zeros([0]),
      sq.tensor([true, false]), sq.randn([]), sq.randn([1, 1, 8, 8]), sq.tensor([-1, 99]).long()];
    const scalars = [-1, 0, 1, 2, 3, 7, -5, 2 ** 62, -(2 ** 62), NaN, Infinity, -Infinity, 0.5, 1e300, true, false, null,
      undefined, 'x', '', [], [1, -1], [2 ** 62], [-1, -1], [0, 0, 0, 0, 0, 0, 0, 0, 0], [3, 4], [2, -3], {}];
    const ops = ${JSON.stringify(OPS)};
    // Arguments of the kind the schema asks for, with hostile contents (the conversions' own type errors
    // are covered elsewhere; here the values must reach libtorch).
    const ints = [-1, 0, 1, 2, 3, 4, 7, -5, -100, 2 ** 62, -(2 ** 62)];  // no feasible-but-huge sizes: they only fill memory
    const floats = [0, 1, -1, 0.5, NaN, Infinity, -Infinity, 1e300, -1e-300];
    const gen = (type, ts) => {
      let t = type.replace(/\\([a-z]!?\\)/g, '');
      if (t.endsWith('?')) { if (rnd() < 0.2) return null; t = t.slice(0, -1); }
      if (/^(Sym)?[Ii]nt\\[\\d*\\]$/.test(t)) return Array.from({ length: Math.floor(rnd() * 5) }, () => pick(ints));
      if (t === 'Tensor[]' || t === 'Tensor?[]') return Array.from({ length: Math.floor(rnd() * 3) }, () => (t === 'Tensor?[]' && rnd() < 0.3 ? null : pick(ts)));
      if (t === 'Tensor') return pick(ts);
      if (t === 'int' || t === 'SymInt') return pick(ints);
      if (t === 'float') return pick(floats);
      if (t === 'bool') return rnd() < 0.5;
      if (t === 'Scalar') return rnd() < 0.5 ? pick(ints) : pick(floats);
      if (t === 'ScalarType' || t === 'Layout' || t === 'MemoryFormat') return Math.floor(rnd() * 60) - 5;
      if (t === 'str') return pick(['mean', 'sum', 'x', '', 'reflect']);
      if (t === 'Device') return pick(['cpu', 'meta', 'x', 'cpu:3']);
      return null;
    };
    const schemas = new Map(ops.map(([n, o]) => {
      const s = native.opSchema(native.findOp(n, o));
      const inner = s.slice(s.indexOf('(') + 1, s.lastIndexOf(') ->'));
      const args = inner.split(', ').filter((x) => x !== '*').map((x) => x.split(' ')[0]);
      return [n + '.' + o, args];
    }));
    let ok = 0, errors = 0;
    for (let i = 0; i < 6000; i++) {
      const [name, overload] = pick(ops);
      const ts = tensors();
      const types = schemas.get(name + '.' + overload);
      const n = rnd() < 0.8 ? types.length : Math.floor(rnd() * (types.length + 1));
      const args = types.slice(0, n).map((t) => gen(t, ts));
      try { sq.callOp(name, overload, ...args); ok++; }
      catch (e) {
        if (!(e instanceof Error)) throw new Error('non-Error thrown by ' + name + ': ' + String(e));
        errors++;
      }
      for (const t of ts) t.dispose();
    }
    console.log(JSON.stringify({ ok, errors }));
  `, 240_000);
  expect(r.status).toBe(0);
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
  expect(out.ok + out.errors).toBe(6000);
  expect(out.errors).toBeGreaterThan(500);
  expect(out.ok).toBeGreaterThan(500);  // many calls reach libtorch and succeed, not only conversion errors
});

test('async misuse: disposed, written, resized and re-used inputs; the results stay right', () => {
  const r = runNode(`
    let bad = 0;
    for (let i = 0; i < 200; i++) {
      const a = sq.randn([64, 64]);
      const want = a.matmul(a).toArray();
      const d = a.detach();
      const p = a.matmulAsync(a);
      const q = sq.callOpAsync('aten::add_', 'Scalar', sq.zeros([64]), 1);
      for (const f of [() => d.zero_(), () => sq.callOp('aten::resize_', '', d, [1 << 20]), () => d.copyFrom(new Float32Array(4096)),
                       () => sq.callOp('aten::set_', 'source_Tensor', d, sq.zeros([2]))]) {
        try { f(); bad++; } catch (e) { if (e.name !== 'BusyError') throw e; }
      }
      a.dispose(); d.dispose();
      const got = (await p).toArray();
      for (let j = 0; j < want.length; j++) if (want[j] !== got[j]) throw new Error('wrong result at ' + j);
      await q;
    }
    console.log('done ' + bad);
  `);
  expect(r.status).toBe(0);
  expect(r.stdout.trim()).toBe('done 0');
});

test('terminate() while a worker runs forwardAsync on a TorchScript model, repeatedly', () => {
  const r = runNode(`
    const { Worker } = require('worker_threads');
    const code = \`
      const { parentPort, workerData } = require('worker_threads');
      const sq = require(${JSON.stringify(DIST)});
      const m = sq.ScriptModule.load(workerData.file);
      m.eval();
      const x = sq.randn([2000, 20]);
      const keep = [];
      for (let i = 0; i < 4; i++) keep.push(m.forwardAsync(x));
      parentPort.postMessage('started');
      setInterval(() => { keep.push(m.forwardAsync(x)); }, 1);
    \`;
    for (let round = 0; round < 5; round++) {
      const w = new Worker(code, { eval: true, workerData: { file: ${JSON.stringify(fixture('mlp.jit.pt'))} } });
      await new Promise((res) => w.on('message', res));
      await new Promise((res) => setTimeout(res, round * 2));
      console.log('terminated ' + await w.terminate());
    }
    console.log('survived');
  `, 120_000);
  expect({ status: r.status, signal: r.signal, err: r.stderr.match(/terminate called|Napi::Error/)?.[0] })
    .toEqual({ status: 0, signal: null, err: undefined });
  expect(r.stdout.trim().split('\n').pop()).toBe('survived');
});
