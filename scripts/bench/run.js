#!/usr/bin/env node
'use strict';
// `npm run bench [-- name ...]`: runs every scripts/bench/<name>.js (or the ones named), one after
// another so they do not compete for cores. Each prints Node and Python side by side, as ratios.
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

// The Python references need the same packages as the tests' oracle (safetensors, numpy, ...): install
// them now if missing, as `npm test` does, so `npm run bench` works right after `npm install`.
try {
  require('../oracle').ensureOracle();
} catch (e) {
  console.error(`npm run bench: ${e.message}`);
  process.exit(1);
}

const names = process.argv.slice(2);
const all = fs.readdirSync(__dirname).filter((f) => f.endsWith('.js') && f !== 'run.js' && !f.startsWith('_')).map((f) => f.slice(0, -3)).sort();
const chosen = names.length ? names : all;
let failed = 0;
for (const n of chosen) {
  if (!all.includes(n)) { console.error(`no benchmark '${n}'; have: ${all.join(', ')}`); process.exit(2); }
  console.log(`\n=== ${n} ===`);
  const r = spawnSync(process.execPath, ['--expose-gc', path.join(__dirname, `${n}.js`)], { stdio: 'inherit' });
  if (r.status !== 0) { failed++; console.error(`benchmark ${n} failed (exit ${r.status})`); }
}
process.exit(failed ? 1 : 0);
