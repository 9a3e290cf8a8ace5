#!/usr/bin/env node
'use strict';
// `npm install` runs this: check the build tools, find (or install) libtorch, check its version, clean a
// build folder an earlier run left unusable, then build the addon with cmake-js, offline.
// Order matters: every check that takes seconds runs before anything that takes minutes.
const path = require('path');
const { spawnSync } = require('child_process');
const lt = require('./libtorch');
const prereqs = require('./prereqs');
const buildDir = require('./build-dir');
const { runpathFor } = require('./runpath');

function fail(lines, code = 1) {
  console.error(`\n${[].concat(lines).map((l) => `squisher: ${l}`).join('\n')}\n`);
  process.exit(code);
}

function main() {
  const missing = prereqs.formatMissing(prereqs.checkBuildTools());
  if (missing.length) fail(missing.concat('then run npm install again (nothing needs deleting).'));

  let t;
  try { t = lt.discover(); lt.checkVersion(t); } catch (e) { fail(e.message.split('\n')); }

  const BUILD = path.join(lt.ROOT, 'build');
  const generator = process.platform === 'win32' ? null : (prereqs.which('ninja') ? 'Ninja' : 'Unix Makefiles');
  const stale = buildDir.staleReason(BUILD, { root: lt.ROOT, generator, torchDir: t.cmakeDir });
  if (stale) {
    console.error(`squisher: cleaning ${BUILD}: ${stale}`);
    buildDir.clean(BUILD);
  }
  const rpath = runpathFor(t.lib, path.join(BUILD, 'Release'), lt.ROOT);
  lt.save({ ...t, runpath: rpath });
  console.error(`squisher: using ${lt.describe(t)}`);

  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const args = [cmakeJs, 'build', `--CDTorch_DIR=${t.cmakeDir}`, `--CDSQUISHER_TORCH_LIB=${t.lib}`, `--CDSQUISHER_RPATH=${rpath}`];
  if (generator) args.push('--generator', generator);
  if (process.env.SQUISHER_DEBUG_BUILD) args.push('--debug');
  const jobs = process.env.SQUISHER_BUILD_JOBS || String(require('os').cpus().length);
  const r = spawnSync(process.execPath, args, {
    cwd: lt.ROOT, stdio: 'inherit',
    env: { ...process.env, CMAKE_BUILD_PARALLEL_LEVEL: jobs, Torch_DIR: t.cmakeDir },
  });
  if (r.status !== 0) {
    // A configure that stopped half way would make the next `cmake-js build` skip configuring; the check
    // above cleans that next time, and cleaning now keeps the folder honest for other tools too.
    if (buildDir.staleReason(BUILD, { root: lt.ROOT, generator, torchDir: t.cmakeDir })) buildDir.clean(BUILD);
    fail(['the native build failed (see above). Fix what it names, then run npm install again (nothing needs deleting).']);
  }
  console.error(`squisher: built build/Release/squisher.node against ${lt.describe(t)} (runpath ${rpath})`);
}
main();
