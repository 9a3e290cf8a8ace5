'use strict';
// The Fisher engine against one plain batched backward and against Python's torch.func.vmap(grad), in
// one run, on the same models, the same data, the same thread count: the Sequential MLP (784-1024-1024-10)
// and CNN (B=256), and the models users have (issue 10): timm resnet18 (traced, B=32, 3x64x64), BERT-tiny
// (traced HF sequence classifier, B=16, T=128) and GPT-2-tiny (traced HF causal LM, tied head, B=16,
// T=128). Times are medians; peak memory is measured per method in a fresh process (CUDA: the caching
// allocator's peak; CPU: the rise of peak RSS over the loaded state, via /proc/self/clear_refs); the
// event loop's max delay (perf_hooks.monitorEventLoopDelay) is measured during the fast passes.
// Goals (issue 10): fast path <= 1.5x one plain backward; Python torch.func / squisher >= 2x on resnet18;
// fast-path peak memory <= 2x the plain backward's; event-loop max delay <= 20 ms.
// --variant exact|mc times that variant instead of the empirical Fisher, on both sides, and also the graph
// engine's one-plain-backward-per-term path (termsPerBackward: 1, what it did before the term axis was
// vmapped) beside the default (one vmapped backward per batch and chunk of terms).
// Usage: node scripts/bench/fisher.js [--device cpu|cuda] [--threads 2] [--reps 5] [--chunk 64]
//        [--models mlp,cnn,resnet18,bert,gpt2] [--variant empirical|exact|mc] [--samples 8] [--terms N]
//        [--vmap] (also time the Node vmap engine)
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { lib, pythonBin, table } = require('./_common');

const arg = (k, d) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? process.argv[i + 1] : d; };
const { monitorEventLoopDelay } = require('perf_hooks');
const PY = path.join(__dirname, 'fisher.py');
// name -> options for fisherDiagonal (which output holds the logits, causal shift)
const SPEC = { mlp: {}, cnn: {}, resnet18: {}, bert: { output: 'logits' }, gpt2: { output: 0, shift: true } };

function py(args, env = {}) {
  const r = spawnSync(pythonBin(), [PY, ...args], { encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`fisher.py ${args[0]} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

function setup(sq, dir, device, name) {
  const m = sq.ScriptModule.load(path.join(dir, `${name}.jit.pt`), { device });
  m.eval();
  const d = sq.loadSafetensors(path.join(dir, `${name}_data.safetensors`), { device });
  return { m, x: d.get('x'), y: d.get('y'), name };
}

/** The logits of a model output (tensor, tuple, or dict whose values may be raw handles). */
function logitsOf(sq, out, which) {
  if (which === undefined) return out;
  const v = out[which];
  return v instanceof sq.Tensor ? v : new sq.Tensor(v);
}

function methods(sq, { m, x, y, name }, chunk, variant = 'empirical', samples = 1, terms = undefined) {
  const sync = () => { if (x.isCuda) sq.cuda.synchronize(); };
  const spec = { ...SPEC[name], variant, ...(variant === 'mc' ? { samples, seed: 0 } : {}) };
  return {
    plain: async () => sq.tidy(() => {
      for (const p of m.parameters()) { const g = p.grad; if (g) { p.grad = null; g.dispose(); } }
      let z = logitsOf(sq, m.call(x), spec.output), t = y;
      if (spec.shift) { z = z.narrow(1, 0, z.shape[1] - 1); t = y.narrow(1, 1, y.shape[1] - 1); }
      sq.crossEntropy(z.reshape([-1, z.shape[z.ndim - 1]]), t.reshape([-1]), { reduction: 'sum' }).backward();
      sync();
    }),
    fast: async () => { const F = await sq.fisherDiagonal(m, { x, y }, { ...spec, batchSize: x.shape[0], termsPerBackward: terms }); sync(); return F; },
    ...(variant === 'empirical' ? {} : {
      perterm: async () => { const F = await sq.fisherDiagonal(m, { x, y }, { ...spec, batchSize: x.shape[0], termsPerBackward: 1 }); sync(); return F; },
    }),
    vmap: async () => { const F = await sq.fisherDiagonal(m, { x, y }, { ...spec, engine: 'vmap', batchSize: x.shape[0], chunkSize: chunk }); sync(); return F; },
  };
}

/**
 * The worst per-parameter ‖a − b‖/‖b‖, measured against at least 1e-6 of the largest ‖b‖: a parameter whose
 * Fisher is zero in exact arithmetic (BERT's attention key bias) holds float32 noise (~1e-22) on both sides.
 */
function worstRel(sq, a, b) {
  const norms = new Map([...b].map(([k, v]) => [k, v.norm().item()]));
  const floor = 1e-6 * Math.max(...norms.values());
  let w = 0;
  for (const [k, v] of b) w = Math.max(w, sq.tidy(() => a.get(k).sub(v).norm().item() / Math.max(norms.get(k), floor, 1e-30)));
  return w;
}

function status(field) {
  const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith(field));
  return line ? Number(line.split(/\s+/)[1]) * 1024 : 0;
}

async function peakChild() {
  // node fisher.js --peak DIR DEVICE MODEL METHOD
  const [dir, device, name, method] = process.argv.slice(process.argv.indexOf('--peak') + 1);
  const sq = lib();
  sq.setNumThreads(Number(process.env.BENCH_THREADS ?? 2));
  const f = methods(sq, setup(sq, dir, device, name), Number(process.env.BENCH_CHUNK ?? 64), process.env.BENCH_VARIANT ?? 'empirical',
    Number(process.env.BENCH_SAMPLES ?? 1), process.env.BENCH_TERMS ? Number(process.env.BENCH_TERMS) : undefined)[method];
  let bytes;
  if (device.startsWith('cuda')) {
    sq.cuda.synchronize();
    const base = sq.cuda.memoryStats().allocatedBytes;
    sq.cuda.resetPeakMemoryStats();
    const r = await f();
    bytes = sq.cuda.memoryStats().peakAllocatedBytes - base;
    if (r) r.dispose();
  } else {
    const base = status('VmRSS');
    fs.writeFileSync('/proc/self/clear_refs', '5');  // resets VmHWM to the current RSS
    const r = await f();
    bytes = status('VmHWM') - base;
    if (r) r.dispose();
  }
  console.log(JSON.stringify({ bytes }));
}

async function main() {
  const sq = lib();
  const device = arg('device', sq.cuda.isAvailable() ? 'cuda' : 'cpu');
  const threads = Number(arg('threads', 2)), reps = Number(arg('reps', 5)), chunk = Number(arg('chunk', 64));
  const names = arg('models', Object.keys(SPEC).join(',')).split(','), withVmap = process.argv.includes('--vmap');
  const variant = arg('variant', 'empirical'), samples = Number(arg('samples', variant === 'mc' ? 8 : 1));
  const terms = arg('terms') === undefined ? undefined : Number(arg('terms'));
  if (!['empirical', 'exact', 'mc'].includes(variant)) throw new Error(`--variant must be empirical, exact or mc, got ${variant}`);
  const multi = variant !== 'empirical';
  sq.setNumThreads(threads);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'squisher-bench-fisher-'));
  try {
    py(['setup', dir, names.join(',')]);
    const pyT = py(['time', dir, device, String(threads), String(reps), String(chunk), names.join(','), variant, String(samples)]);
    const rows = [], mem = [];
    for (const name of names) {
      const s = setup(sq, dir, device, name);
      const f = methods(sq, s, chunk, variant, samples, terms);
      if (!withVmap) delete f.vmap;
      const t = {};
      let delay = 0, engine = '';
      const backwards = {};
      for (const k of Object.keys(f)) {
        const r0 = await f[k]();  // warm-up
        if (r0) { engine = engine || (k === 'fast' ? String(r0.meta.engine) : ''); backwards[k] = r0.meta.backwards; r0.dispose(); }
        const ts = [];
        const h = monitorEventLoopDelay({ resolution: 1 });
        if (k === 'fast') h.enable();
        for (let i = 0; i < reps; i++) {
          const t0 = process.hrtime.bigint();
          const r = await f[k]();
          ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
          if (r) r.dispose();
        }
        if (k === 'fast') { h.disable(); delay = h.max / 1e6; }
        ts.sort((a, b) => a - b);
        t[k] = ts[Math.floor(ts.length / 2)];
      }
      let worst = NaN, worstTerm = NaN;
      if (multi) {  // the vmapped term axis and one backward per term must agree
        const a = await f.fast(), b = await f.perterm();
        worstTerm = worstRel(sq, a, b);
        a.dispose(); b.dispose();
      }
      if (withVmap) {  // the two engines must agree (both are tested against torch.func in test/fisher)
        const a = await f.fast(), b = await f.vmap();
        worst = worstRel(sq, a, b);
        a.dispose(); b.dispose();
      }
      rows.push([name, s.x.shape.join('x'), t.plain.toFixed(1), t.fast.toFixed(1), withVmap ? t.vmap.toFixed(1) : '-', pyT[name].plain.toFixed(1), pyT[name].func.toFixed(1),
        (t.fast / t.plain).toFixed(2) + 'x', (pyT[name].func / t.fast).toFixed(1) + 'x', delay.toFixed(1), withVmap ? worst.toExponential(1) : '-',
        engine.replace(/^graph \((\d+) fast, (\d+) per-sample fallback.*$/, 'graph ($1 fast, $2 fallback)'),
        ...(multi ? [t.perterm.toFixed(1), (t.perterm / t.fast).toFixed(2) + 'x', (pyT[name].func / t.perterm).toFixed(1) + 'x',
          `${backwards.fast} / ${backwards.perterm}`, worstTerm.toExponential(1)] : [])]);
      const env = { BENCH_THREADS: String(threads), BENCH_CHUNK: String(chunk), BENCH_VARIANT: variant, BENCH_SAMPLES: String(samples),
        ...(terms ? { BENCH_TERMS: String(terms) } : {}) };
      const child = (method) => {
        const r = spawnSync(process.execPath, [__filename, '--peak', dir, device, name, method], { encoding: 'utf8', env: { ...process.env, ...env } });
        if (r.status !== 0) throw new Error(`peak ${name} ${method} failed:\n${r.stderr}`);
        return JSON.parse(r.stdout.trim().split('\n').pop()).bytes;
      };
      const MB = (b) => (b / 2 ** 20).toFixed(1);
      const np = child('plain'), nf = child('fast'), nt = multi ? child('perterm') : NaN;
      const pp = py(['peak', dir, device, name, 'plain'], env).bytes, pf = py(['peak', dir, device, name, 'func'], env).bytes;
      mem.push([name, MB(np), MB(nf), MB(pp), MB(pf), (nf / np).toFixed(2) + 'x', ...(multi ? [MB(nt)] : [])]);
    }
    console.log(`Fisher diagonal (${variant}${variant === 'mc' ? `, k = ${samples}` : ''}), ${device}, ${threads} threads, median of ${reps}; ` +
      `libtorch ${sq.torchVersion}; vmap chunk ${chunk} on both sides${multi ? `; terms per backward: ${terms ?? 'by memory'}` : ''}`);
    table(rows, ['model', 'input', 'node plain bwd ms', 'node fast ms', 'node vmap ms', 'py plain bwd ms', 'py torch.func ms',
      'fast/plain (goal<=1.5)', 'py func/node fast (goal>=2)', 'loop max delay ms (goal<=20)', 'fast vs vmap rel.err', 'engine',
      ...(multi ? ['node per-term ms', 'per-term/fast', 'py func/node per-term', 'backwards fast / per-term', 'fast vs per-term rel.err'] : [])]);
    console.log(`\nPeak memory over the loaded model and data (MiB; ${device.startsWith('cuda') ? 'CUDA caching allocator peak' : 'CPU: peak RSS rise, one fresh process per method'})`);
    table(mem, ['model', 'node plain bwd', 'node fast', 'py plain bwd', 'py torch.func', 'node fast/plain (goal<=2)', ...(multi ? ['node per-term'] : [])]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

(process.argv.includes('--peak') ? peakChild() : main()).catch((e) => { console.error(e); process.exit(1); });
