'use strict';
// Shared by the benchmarks: the compiled library, the oracle Python, and timing helpers.
const path = require('path');
const { spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..');
function lib() {
  try { return require(path.join(ROOT, 'dist')); } catch (e) {
    console.error('benchmarks run the compiled library: run `npm install` or `npx tsc -p tsconfig.build.json` first');
    throw e;
  }
}
function pythonBin() { return require(path.join(ROOT, 'scripts', 'oracle')).findPython(); }

/** Runs Python code that prints one JSON line last; returns it parsed. */
function python(code, args = []) {
  const r = spawnSync(pythonBin(), ['-c', code, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`python failed:\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

/** Median of `reps` timings (ns per call) of fn run `n` times each, after a warm-up. */
function timeNs(fn, n, reps = 5) {
  for (let i = 0; i < Math.min(n, 1000); i++) fn();
  const out = [];
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    out.push(Number(process.hrtime.bigint() - t0) / n);
  }
  out.sort((a, b) => a - b);
  return out[Math.floor(out.length / 2)];
}

function table(rows, headers) {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => String(c).padEnd(w[i])).join('  ');
  console.log(line(headers));
  console.log(w.map((x) => '-'.repeat(x)).join('  '));
  for (const r of rows) console.log(line(r));
}

module.exports = { ROOT, lib, python, pythonBin, timeNs, table };
