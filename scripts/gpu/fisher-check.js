'use strict';
// CUDA check of the Fisher engine (run by scripts/gpu/check.sh on a CUDA machine, from dist/): every
// variant on both engines against the torch.func references of scripts/fixtures/fisher.py (made here
// if missing), per-sample gradients, the Squisher from a state loaded onto the GPU, no memory left
// behind; the graph engine on the models of scripts/fixtures/real_models.py (timm resnet18, HF BERT and
// GPT-2 traced, the tied Sequential, control flow, unsupported ops) on CUDA against their float64
// torch.func references; then the benchmark (scripts/bench/fisher.js --device cuda: resnet18, BERT-tiny,
// GPT-2-tiny, time against torch.func on the same GPU) for the README's CUDA ratios.
// resnet18's convolutions run on cuDNN, which may use TF32 (libtorch's default for convolutions): its
// tolerance is 1e-3; every other model's 1e-4.
// The mc variant draws from the CUDA generator, whose stream differs from the CPU one the references
// used, so on CUDA it is checked as fast path == vmap path with the same seed instead.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const sq = require('../../dist');
const { findPython } = require('../oracle');

const ROOT = path.resolve(__dirname, '..', '..');
// FISHER_CHECK_DEVICE=cpu dry-runs the same checks on a machine without a GPU.
const DEV = process.env.FISHER_CHECK_DEVICE || 'cuda';
const CUDA = DEV.startsWith('cuda');
if (CUDA && !sq.cuda.isAvailable()) { console.error('fisher-check: CUDA not available'); process.exit(1); }
let fx = path.join(ROOT, 'test', 'fixtures', 'generated');
if (!fs.existsSync(path.join(fx, 'fisher_ref.json'))) {
  fx = fs.mkdtempSync(path.join(os.tmpdir(), 'fisher-fx-'));
  const r = spawnSync(process.env.SQUISHER_PYTHON || findPython(), [path.join(ROOT, 'scripts', 'fixtures', 'fisher.py'), fx], { encoding: 'utf8', cwd: path.join(ROOT, 'scripts', 'fixtures') });
  if (r.status !== 0) { console.error(r.stderr); process.exit(1); }
}
const ref = JSON.parse(fs.readFileSync(path.join(fx, 'fisher_ref.json'), 'utf8'));
let rfx = fx;
if (!fs.existsSync(path.join(rfx, 'real_models.json'))) {
  rfx = fs.mkdtempSync(path.join(os.tmpdir(), 'fisher-real-'));
  const r = spawnSync(process.env.SQUISHER_PYTHON || findPython(), [path.join(ROOT, 'scripts', 'fixtures', 'real_models.py'), rfx], { encoding: 'utf8', cwd: path.join(ROOT, 'scripts', 'fixtures') });
  if (r.status !== 0) { console.error(r.stderr); process.exit(1); }
}
const real = JSON.parse(fs.readFileSync(path.join(rfx, 'real_models.json'), 'utf8'));
const fromJson = (j, device) => (j.dtype === 'int64'
  ? sq.tensor(BigInt64Array.from(j.data.map(BigInt)), { shape: j.shape, device })
  : sq.tensor(j.data, { dtype: j.dtype, shape: j.shape, device }));
const rel = (a, b) => sq.tidy(() => { const bd = b.to('float64').cpu(); return a.to('float64').cpu().sub(bd).norm().item() / bd.norm().item(); });
const report = { device: DEV, torch: sq.torchVersion, checks: [], failures: 0 };
const check = (name, err, tol) => { const ok = err <= tol; report.checks.push({ name, err, ok }); if (!ok) report.failures++; };

(async () => {
  const base = CUDA ? sq.cuda.memoryStats().allocatedBytes : 0;
  for (const name of ['mlp', 'cnn', 'reg']) {
    const r = ref[name];
    const m = sq.ScriptModule.load(path.join(fx, `fisher_${name}.jit.pt`), { device: DEV });
    const x = fromJson(r.x, DEV), y = fromJson(r.y, DEV);
    const o = { task: r.task, batchSize: ref.batch, samples: ref.k, seed: ref.seed, device: DEV };
    for (const variant of ['empirical', 'exact', 'batched']) {
      for (const engine of variant === 'batched' ? ['auto'] : ['fast', 'vmap']) {
        const F = await sq.fisherDiagonal(m, { x, y }, { ...o, variant, engine });
        let worst = 0;
        for (const [k, t] of F) { if (t.device.split(':')[0] !== DEV.split(':')[0]) throw new Error(`${k} is on ${t.device}, not ${DEV}`); worst = Math.max(worst, rel(t, fromJson(r.fisher[variant][k]))); }
        check(`${name} ${variant} ${engine} vs torch.func`, worst, 1e-4);
        F.dispose();
      }
    }
    const a = await sq.fisherDiagonal(m, { x, y }, { ...o, variant: 'mc', engine: 'fast' });
    const b = await sq.fisherDiagonal(m, { x, y }, { ...o, variant: 'mc', engine: 'vmap' });
    check(`${name} mc fast == vmap (CUDA generator)`, Math.max(...[...b].map(([k, t]) => rel(a.get(k), t))), 1e-5);
    a.dispose(); b.dispose();
    const g = sq.perSampleGrads(m, x.narrow(0, 0, 6), y.narrow(0, 0, 6), { loss: r.task === 'classification' ? 'cross_entropy' : 'nll_gaussian' });
    check(`${name} perSampleGrads vs torch.func`, Math.max(...[...g].map(([k, t]) => rel(t, fromJson(r.per_sample[k])))), 1e-4);
    sq.dispose(g); x.dispose(); y.dispose();
  }
  // the graph engine on real models, on the device, against the float64 references (computed on CPU)
  for (const [name, c] of Object.entries(real.cases)) {
    const m = sq.ScriptModule.load(path.join(rfx, `real_${name}.jit.pt`), { device: DEV });
    const d = sq.loadSafetensors(path.join(rfx, `real_${name}_data.safetensors`), { device: DEV });
    const refs = sq.loadSafetensors(path.join(rfx, `real_${name}_ref.safetensors`));
    const o = { batchSize: real.batch, samples: real.k, seed: real.seed, device: DEV, output: c.output ?? undefined, shift: c.shift };
    for (const variant of c.variants) {
      if (variant === 'mc' && CUDA) continue;  // the CUDA generator's draws differ from the CPU references'
      const t0 = Date.now();
      const F = await sq.fisherDiagonal(m, { x: d.get('x'), y: d.get('y') }, { ...o, variant });
      const ms = Date.now() - t0;
      const norms = c.checked.map((k) => refs.get(`${variant}/${k}`).norm().item());
      const floor = 1e-6 * Math.max(...norms);  // zero-Fisher parameters (BERT's key bias) against the model's scale
      const worst = Math.max(...c.checked.map((k, i) => sq.tidy(() => F.get(k).to('float64').cpu().sub(refs.get(`${variant}/${k}`)).norm().item()) / Math.max(norms[i], floor)));
      const keys = JSON.stringify([...F.keys()]) === JSON.stringify(c.params) ? 0 : 1;
      check(`real ${name} ${variant} graph engine vs torch.func (${ms} ms; ${String(F.meta.engine).slice(0, 60)})`, worst + keys, name === 'resnet18' && CUDA ? 1e-3 : 1e-4);
      F.dispose();
    }
    if (CUDA && c.variants.includes('mc')) {
      const a = await sq.fisherDiagonal(m, { x: d.get('x'), y: d.get('y') }, { ...o, variant: 'mc' });
      const b = await sq.fisherDiagonal(m, { x: d.get('x'), y: d.get('y') }, { ...o, variant: 'mc', engine: 'vmap' });
      check(`real ${name} mc graph == vmap (CUDA generator)`, Math.max(...[...b].map(([k, t]) => rel(a.get(k), t))), 1e-4);
      a.dispose(); b.dispose();
    }
    sq.dispose(d); sq.dispose(refs);
  }
  const opt = JSON.parse(fs.readFileSync(path.join(fx, 'fisher_opt.json'), 'utf8'));
  const sd = sq.load(path.join(fx, 'fisher_opt_adam.pt'), { mapLocation: DEV });
  const S = sq.squisher({ stateDict: sd, model: sq.ScriptModule.load(path.join(fx, 'fisher_opt_adam_model.jit.pt')) }, { batchSize: 8 });
  check('squisher B*v from a CUDA state == Python exactly', Math.max(...[...S].map(([k, t]) => (t.cpu().equal(fromJson(opt.adam.scaled.batch[k])) ? 0 : 1))), 0);
  S.dispose(); sq.dispose(sq.flattenTensors(sd));
  if (CUDA) {
    sq.cuda.synchronize();
    report.leakedBytes = sq.cuda.memoryStats().allocatedBytes - base;
    check('no CUDA memory left allocated (bytes)', Math.max(0, report.leakedBytes), 4096);
  }
  console.log(JSON.stringify(report, null, 2));
  if (!process.argv.includes('--no-bench')) {
    const b = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'bench', 'fisher.js'), '--device', DEV, '--reps', '10', '--threads', '8'], { stdio: 'inherit' });
    if (b.status !== 0) report.failures++;
  }
  process.exit(report.failures ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(1); });
