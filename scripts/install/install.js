#!/usr/bin/env node
'use strict';
// `npm install` runs this: find (or install) libtorch, then build the addon with cmake-js, offline.
const path = require('path');
const { spawnSync } = require('child_process');
const lt = require('./libtorch');

function main() {
  let t;
  try { t = lt.discover(); } catch (e) {
    console.error(`\nsquisher: ${e.message}\n`);
    process.exit(1);
  }
  lt.save(t);
  console.error(`squisher: using ${lt.describe(t)}`);
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const args = [cmakeJs, 'build', `--CDTorch_DIR=${t.cmakeDir}`, `--CDSQUISHER_TORCH_LIB=${t.lib}`];
  if (process.env.SQUISHER_DEBUG_BUILD) args.push('--debug');
  const jobs = process.env.SQUISHER_BUILD_JOBS || String(require('os').cpus().length);
  const r = spawnSync(process.execPath, args, {
    cwd: lt.ROOT, stdio: 'inherit',
    env: { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: jobs, Torch_DIR: t.cmakeDir },
  });
  if (r.status !== 0) {
    console.error('\nsquisher: the native build failed (see above). Common causes: no C++17 compiler (apt-get install g++),' +
      ' no cmake >= 3.18 (apt-get install cmake), missing nlohmann/json headers (apt-get install nlohmann-json3-dev).');
    process.exit(r.status || 1);
  }
  console.error(`squisher: built build/Release/squisher.node against ${lt.describe(t)}`);
}
main();
