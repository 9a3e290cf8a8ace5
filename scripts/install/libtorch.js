#!/usr/bin/env node
'use strict';
// Finds libtorch the way tch-rs does (an explicit setting first, then the torch of an installed Python),
// and, when none is found, installs a torch wheel (CUDA when an NVIDIA driver is there, else CPU) into a
// virtual environment in one per-user cache that every project on the machine shares.
// One script serves CMake (via install.js), node-gyp (binding.gyp calls it with --gyp-*) and the tests
// (the oracle Python). The result is cached in build/libtorch.json so node-gyp and the tests agree with
// the build.
const fs = require('fs');
const path = require('path');
const os = require('os');
const { spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const CACHE = path.join(ROOT, 'build', 'libtorch.json');
// A virtual environment made inside the package by earlier versions; still used when it is there, so
// existing clones keep working without a second download.
const LEGACY_VENV = path.join(ROOT, '.torch-venv');
// The torch release installed when nothing else is found (SQUISHER_TORCH_VERSION changes it).
const DEFAULT_VERSION = '2.13.0';
// native/functorch uses private ATen headers that change between releases: the releases it is built and
// tested against. SQUISHER_SKIP_VERSION_CHECK=1 builds against another one anyway.
const SUPPORTED = { min: [2, 11], max: [2, 13] };
const WHEEL_INDEX = 'https://download.pytorch.org/whl';
// PyTorch's CUDA wheel builds, oldest first; a driver runs wheels built for its CUDA version or older.
const CUDA_WHEELS = [[12, 6], [12, 8], [13, 0]];

function log(msg) { process.stderr.write(`squisher: ${msg}\n`); }

function venvPython(venv) {
  return process.platform === 'win32' ? path.join(venv, 'Scripts', 'python.exe') : path.join(venv, 'bin', 'python');
}

// One cache per user, shared by every project that installs squisher: a downloaded torch is ~1 GB.
function cacheRoot(env = process.env) {
  if (env.SQUISHER_CACHE_DIR) return path.resolve(env.SQUISHER_CACHE_DIR);
  return path.join(env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache'), 'squisher');
}

// The highest CUDA version the NVIDIA driver supports (from nvidia-smi's banner), or null without a driver.
function driverCuda(env = process.env) {
  const smi = require('./prereqs').which('nvidia-smi', env);
  if (!smi) return null;
  const r = spawnSync(smi, [], { encoding: 'utf8', env, timeout: 30000 });
  const m = /CUDA Version:\s*(\d+)\.(\d+)/.exec(r.stdout || '');
  return m ? [Number(m[1]), Number(m[2])] : null;
}

// Which wheel to install when no libtorch is found: the CUDA build matching the driver when there is an
// NVIDIA GPU, else the CPU build. SQUISHER_TORCH_VARIANT (cpu, cu128, ...) overrides the choice.
function wheelPlan(env = process.env) {
  const version = env.SQUISHER_TORCH_VERSION || DEFAULT_VERSION;
  let variant = env.SQUISHER_TORCH_VARIANT || null;
  let driver = null;
  if (!variant) {
    driver = driverCuda(env);
    if (!driver) variant = 'cpu';
    else {
      const fit = CUDA_WHEELS.filter(([a, b]) => a < driver[0] || (a === driver[0] && b <= driver[1])).pop();
      variant = fit ? `cu${fit[0]}${fit[1]}` : null;
    }
  }
  const index = variant ? `${WHEEL_INDEX}/${variant}` : null;
  const spec = env.SQUISHER_TORCH_SPEC || (variant ? `torch==${version}+${variant}` : null);
  const venv = env.SQUISHER_VENV ? path.resolve(env.SQUISHER_VENV) : path.join(cacheRoot(env), `torch-${version}-${variant || 'cuda'}`);
  return { version, variant, driver, index, spec, venv };
}

// The one command that installs the planned wheel by hand.
function manualCommand(plan) {
  const py = venvPython(plan.venv);
  return `python3 -m venv ${plan.venv} && ${py} -m pip install "${plan.spec}" --extra-index-url ${plan.index} && npm install`;
}

// Reads the version from a libtorch tree's headers (a libtorch zip has no Python to ask).
function versionFromHeaders(root) {
  for (const rel of ['include/torch/headeronly/version.h', 'include/torch/csrc/api/include/torch/version.h']) {
    const f = path.join(root, rel);
    if (!fs.existsSync(f)) continue;
    const src = fs.readFileSync(f, 'utf8');
    const m = (k) => (src.match(new RegExp(`#define TORCH_VERSION_${k} (\\d+)`)) || [])[1];
    if (m('MAJOR') !== undefined) return `${m('MAJOR')}.${m('MINOR')}.${m('PATCH')}`;
  }
  return 'unknown';
}

function fromRoot(root, source) {
  root = path.resolve(root);
  const cmake = path.join(root, 'share', 'cmake', 'Torch');
  if (!fs.existsSync(path.join(cmake, 'TorchConfig.cmake'))) {
    throw new Error(`${source} points at ${root}, which has no share/cmake/Torch/TorchConfig.cmake; ` +
      'it must be the root of a libtorch tree (the folder holding include/, lib/ and share/).');
  }
  const lib = path.join(root, 'lib');
  const cuda = fs.readdirSync(lib).some((f) => f.startsWith('libtorch_cuda') || f.startsWith('torch_cuda'));
  return { source, root, cmakeDir: cmake, include: path.join(root, 'include'), lib, version: versionFromHeaders(root), cuda, python: null };
}

// Asks a Python interpreter for its torch; returns null when it has none.
function fromPython(python, source) {
  const code = 'import json, os, torch; print(json.dumps({"root": os.path.dirname(torch.__file__), ' +
    '"version": torch.__version__, "cuda": torch.version.cuda, "abi": torch.compiled_with_cxx11_abi()}))';
  const r = spawnSync(python, ['-c', code], { encoding: 'utf8' });
  if (r.status !== 0 || !r.stdout) return null;
  const info = JSON.parse(r.stdout.trim().split('\n').pop());
  const t = fromRoot(info.root, source);
  return { ...t, version: info.version, cuda: !!info.cuda, cudaVersion: info.cuda, cxx11abi: info.abi, python };
}

function oldDriver(plan) {
  return Object.assign(new Error(`no libtorch found, and the NVIDIA driver (for CUDA ${plan.driver.join('.')}) is older than any CUDA wheel of torch ${plan.version} ` +
    `(oldest: CUDA ${CUDA_WHEELS[0].join('.')}). Update the driver, or build for CPU: SQUISHER_TORCH_VARIANT=cpu npm install`), { code: 'SQUISHER_NO_LIBTORCH' });
}

function installWheel(plan, env = process.env) {
  if (!plan.variant) throw oldDriver(plan);
  const py = env.SQUISHER_PYTHON || 'python3';
  if (!fs.existsSync(venvPython(plan.venv))) {
    const pre = require('./prereqs').checkPythonVenv(py, env);
    if (!pre.ok) throw Object.assign(new Error(`no libtorch found, and it cannot be installed: missing ${pre.what}: ${pre.problem}. Fix: ${pre.fix}`), { code: 'SQUISHER_NO_LIBTORCH' });
  }
  log(`no libtorch found; installing ${plan.spec} into the shared cache ${plan.venv}` +
    (plan.driver ? ` (NVIDIA driver for CUDA ${plan.driver.join('.')} found)` : ''));
  const fail = (why) => Object.assign(new Error(`${why}. Run it by hand, then npm install again:\n  ${manualCommand(plan)}\n` +
    'or point squisher at an existing libtorch: LIBTORCH=/path/to/libtorch npm install'), { code: 'SQUISHER_NO_LIBTORCH' });
  if (!fs.existsSync(venvPython(plan.venv))) {
    fs.mkdirSync(path.dirname(plan.venv), { recursive: true });
    const r = spawnSync(py, ['-m', 'venv', plan.venv], { stdio: 'inherit', env });
    if (r.status !== 0) throw fail(`creating the virtual environment ${plan.venv} failed`);
  }
  const args = ['-m', 'pip', 'install', plan.spec];
  // Local-version wheels ("+cpu", "+cu128") live on PyTorch's own index; a user-set pip index takes precedence.
  if (!env.PIP_INDEX_URL && !env.PIP_EXTRA_INDEX_URL) args.push('--extra-index-url', plan.index);
  const r = spawnSync(venvPython(plan.venv), args, { stdio: 'inherit', env });
  if (r.status !== 0) throw fail(`installing ${plan.spec} failed`);
  return fromPython(venvPython(plan.venv), `squisher cache (${plan.spec})`);
}

function help(plan) {
  return `libtorch was not found, and installing it is off (SQUISHER_NO_INSTALL=1 or a check).
squisher looks for libtorch in this order:
  1. LIBTORCH=/path/to/libtorch (the folder with include/, lib/, share/), or Torch_DIR=/path/to/share/cmake/Torch
  2. the torch package of SQUISHER_PYTHON, or of python3 on PATH
  3. ${LEGACY_VENV} (made by earlier versions), or SQUISHER_VENV
  4. the per-user cache ${plan.venv} (SQUISHER_CACHE_DIR moves it), installing ${plan.spec} there when missing
Fix it with one of:
  LIBTORCH=/path/to/libtorch npm install
  ${manualCommand(plan)}`;
}

// The release as [major, minor] ("2.13.0+cpu" -> [2, 13]); null when unknown.
function parseVersion(v) {
  const m = /^(\d+)\.(\d+)/.exec(String(v || ''));
  return m ? [Number(m[1]), Number(m[2])] : null;
}

// Refuses a libtorch outside the supported range before the build, unless SQUISHER_SKIP_VERSION_CHECK=1.
function checkVersion(t, env = process.env) {
  if (env.SQUISHER_SKIP_VERSION_CHECK === '1') return;
  const v = parseVersion(t.version);
  const cmp = (a, b) => a[0] - b[0] || a[1] - b[1];
  const range = `${SUPPORTED.min.join('.')} to ${SUPPORTED.max.join('.')}`;
  if (!v || cmp(v, SUPPORTED.min) < 0 || cmp(v, SUPPORTED.max) > 0) {
    throw Object.assign(new Error(`libtorch ${t.version} (${t.source}, ${t.root}) is outside the supported range ${range}: ` +
      'native/functorch uses ATen headers that change between releases. Use a supported libtorch ' +
      `(e.g. SQUISHER_TORCH_VERSION=${DEFAULT_VERSION} with LIBTORCH unset), or build anyway: SQUISHER_SKIP_VERSION_CHECK=1 npm install`),
    { code: 'SQUISHER_UNSUPPORTED_LIBTORCH' });
  }
}

function withPython(py, source) {
  return fs.existsSync(venvPython(py)) ? fromPython(venvPython(py), source) : null;
}

function discover({ allowInstall = true, env = process.env } = {}) {
  if (env.LIBTORCH) return fromRoot(env.LIBTORCH, 'LIBTORCH');
  if (env.Torch_DIR) return fromRoot(path.resolve(env.Torch_DIR, '..', '..', '..'), 'Torch_DIR');
  const py = env.SQUISHER_PYTHON || 'python3';
  const sys = fromPython(py, `python torch (${py})`);
  if (sys) return sys;
  if (!env.SQUISHER_VENV) {
    const legacy = withPython(LEGACY_VENV, 'project-local venv');
    if (legacy) return legacy;
  }
  const plan = wheelPlan(env);
  if (!plan.variant) throw oldDriver(plan);
  {
    const cachedVenv = withPython(plan.venv, `squisher cache (${plan.spec})`);
    if (cachedVenv) return cachedVenv;
  }
  if (allowInstall && env.SQUISHER_NO_INSTALL !== '1') return installWheel(plan, env);
  throw Object.assign(new Error(help(plan)), { code: 'SQUISHER_NO_LIBTORCH' });
}

// The cached result of the last discovery (what the addon was built against), or a fresh one.
function cached() {
  if (fs.existsSync(CACHE)) return JSON.parse(fs.readFileSync(CACHE, 'utf8'));
  return discover({ allowInstall: false });
}

function save(info) {
  fs.mkdirSync(path.dirname(CACHE), { recursive: true });
  fs.writeFileSync(CACHE, JSON.stringify(info, null, 2));
}

function describe(t) {
  return `libtorch ${t.version} (${t.cuda ? `CUDA ${t.cudaVersion || ''}`.trim() : 'CPU'}) from ${t.source} at ${t.root}`;
}

module.exports = { discover, cached, save, describe, checkVersion, wheelPlan, manualCommand, cacheRoot, ROOT, LEGACY_VENV, VENV: LEGACY_VENV, venvPython };

// binding.gyp asks for pieces of the same answer.
if (require.main === module) {
  const arg = process.argv[2];
  try {
    const t = cached();
    const inc = [t.include, path.join(t.include, 'torch', 'csrc', 'api', 'include')];
    const out = {
      '--gyp-include': inc.join(' '),
      '--gyp-libdir': t.lib,
      // PyTorch wheels since 2.7 and libtorch's cxx11 zips use the new ABI; a Python torch says for sure.
      '--gyp-cflags': `-D_GLIBCXX_USE_CXX11_ABI=${t.cxx11abi === false ? 0 : 1}`,
      '--gyp-libs': ['-L' + t.lib, `-Wl,-rpath,${t.lib}`, '-ltorch', '-ltorch_cpu', '-lc10'].concat(t.cuda ? ['-ltorch_cuda', '-lc10_cuda'] : []).join(' '),
      '--describe': describe(t),
      '--python': t.python || '',
      '--root': t.root,
      '--gyp-sources': require('fs').readdirSync(path.join(ROOT, 'native'), { recursive: true })
        .filter((f) => String(f).endsWith('.cpp')).map((f) => path.join('native', String(f))).join(' '),
    }[arg];
    if (out === undefined) { console.log(JSON.stringify(t, null, 2)); } else console.log(out);
  } catch (e) { console.error(e.message); process.exit(1); }
}
