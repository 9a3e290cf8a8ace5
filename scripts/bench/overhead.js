'use strict';
// Per-call overhead of small ops from Node against the same ops from Python torch, in the same run,
// and the bandwidth of Tensor <-> TypedArray copies against a plain memcpy (TypedArray.set).
// Goals (issue 2): per-op overhead within 2x of Python's; copies within 1.5x of memcpy.
const { lib, python, timeNs, table } = require('./_common');
const sq = lib();
sq.setNumThreads(1);

const N = 50000;
const a = sq.tensor([[1, 2], [3, 4]]);
const v = sq.tensor(new Float32Array(64).fill(1));
const node = {
  'add (2x2 + 2x2)': timeNs(() => sq.tidy(() => { a.add(a); }), N),
  'mul_ scalar (in place)': timeNs(() => { a.mul_(1); }, N),
  'matmul (2x2 @ 2x2)': timeNs(() => sq.tidy(() => { a.matmul(a); }), N),
  'sum (64)': timeNs(() => sq.tidy(() => { v.sum(); }), N),
  'relu (64)': timeNs(() => sq.tidy(() => { v.relu(); }), N),
};
const py = python(`
import json, time, torch
torch.set_num_threads(1)
a = torch.tensor([[1., 2.], [3., 4.]]); v = torch.ones(64)
def t(f, n=${N}, reps=5):
    for _ in range(1000): f()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter_ns()
        for _ in range(n): f()
        out.append((time.perf_counter_ns() - t0) / n)
    return sorted(out)[reps // 2]
print(json.dumps({
  'add (2x2 + 2x2)': t(lambda: torch.add(a, a)),
  'mul_ scalar (in place)': t(lambda: a.mul_(1)),
  'matmul (2x2 @ 2x2)': t(lambda: torch.matmul(a, a)),
  'sum (64)': t(lambda: v.sum()),
  'relu (64)': t(lambda: torch.relu(v)),
}))`);
console.log(`Per-op overhead, 1 intra-op thread, median of 5 x ${N} calls (ns per call); libtorch ${sq.torchVersion}`);
table(Object.keys(node).map((k) => [k, node[k].toFixed(0), py[k].toFixed(0), (node[k] / py[k]).toFixed(2) + 'x']),
  ['op', 'node ns', 'python ns', 'node/python']);

// Copies: 64 MiB float32 into a tensor and back out, against memcpy of the same bytes.
const MB = 64;
const n = (MB * 1024 * 1024) / 4;
const src = new Float32Array(n).map((_, i) => i % 1000);
const dst = new Float32Array(n);
const reps = 10;
const best = (fn) => { let b = Infinity; for (let i = 0; i < reps; i++) { const t0 = process.hrtime.bigint(); fn(); b = Math.min(b, Number(process.hrtime.bigint() - t0)); } return b; };
const tMemcpy = best(() => dst.set(src));
// Fresh memory costs page faults whoever allocates it, so allocating copies compare with a memcpy into
// freshly allocated (not zeroed) memory, and copies into existing memory with a plain memcpy.
const tMemcpyFresh = best(() => { const b = Buffer.allocUnsafe(src.byteLength); b.set(new Uint8Array(src.buffer)); });
const t = sq.zeros([n]);
const tInto = best(() => t.copyFrom(src));
const tOutInto = best(() => t.copyTo(dst));
let fresh;
const tIn = best(() => { if (fresh) fresh.dispose(); fresh = sq.tensor(src); });
const tOut = best(() => { t.toArray(); });
const gbs = (ns) => ((MB / 1024) / (ns / 1e9)).toFixed(2);
console.log(`\nCopy bandwidth, ${MB} MiB float32, best of ${reps}`);
table([
  ['memcpy into existing memory (TypedArray.set)', gbs(tMemcpy), '1.00x'],
  ['TypedArray -> existing Tensor (copyFrom)', gbs(tInto), (tInto / tMemcpy).toFixed(2) + 'x'],
  ['existing Tensor -> TypedArray (copyTo)', gbs(tOutInto), (tOutInto / tMemcpy).toFixed(2) + 'x'],
  ['memcpy into fresh memory (Buffer.allocUnsafe)', gbs(tMemcpyFresh), '1.00x'],
  ['TypedArray -> new Tensor (tensor())', gbs(tIn), (tIn / tMemcpyFresh).toFixed(2) + 'x'],
  ['Tensor -> new ArrayBuffer (toArray())', gbs(tOut), (tOut / tMemcpyFresh).toFixed(2) + 'x'],
], ['copy', 'GB/s', 'time vs its memcpy']);
