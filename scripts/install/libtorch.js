#!/usr/bin/env node
'use strict';
// Finds libtorch the way tch-rs does (an explicit setting first, then the torch of an installed Python),
// and, when none is found, installs the CPU wheel into a project-local virtual environment.
// One script serves CMake (via install.js), node-gyp (binding.gyp calls it with --gyp-*) and the tests
// (the oracle Python). The result is cached in build/libtorch.json so node-gyp and the tests agree with
// the build.
const fs = require('fs');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const CACHE = path.join(ROOT, 'build', 'libtorch.json');
// Where a CPU wheel is installed when no libtorch is found (SQUISHER_VENV moves it).
const VENV = process.env.SQUISHER_VENV ? path.resolve(process.env.SQUISHER_VENV) : path.join(ROOT, '.torch-venv');
// The CPU wheel installed when nothing else is found. Override with SQUISHER_TORCH_SPEC.
const DEFAULT_SPEC = 'torch==2.13.0+cpu';
const CPU_WHEEL_INDEX = 'https://download.pytorch.org/whl/cpu';

function log(msg) { process.stderr.write(`squisher: ${msg}\n`); }

function venvPython(venv) {
  return process.platform === 'win32' ? path.join(venv, 'Scripts', 'python.exe') : path.join(venv, 'bin', 'python');
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

function installLocal() {
  const spec = process.env.SQUISHER_TORCH_SPEC || DEFAULT_SPEC;
  const py = process.env.SQUISHER_PYTHON || 'python3';
  log(`no libtorch found; installing ${spec} into the project-local environment ${VENV}`);
  if (!fs.existsSync(venvPython(VENV))) {
    const r = spawnSync(py, ['-m', 'venv', VENV], { stdio: 'inherit' });
    if (r.status !== 0) return null;
  }
  const args = ['-m', 'pip', 'install', spec];
  // "+cpu" wheels live on PyTorch's own index; a user-set pip index (PIP_INDEX_URL) takes precedence.
  if (!process.env.PIP_INDEX_URL && !process.env.PIP_EXTRA_INDEX_URL) args.push('--extra-index-url', CPU_WHEEL_INDEX);
  const r = spawnSync(venvPython(VENV), args, { stdio: 'inherit' });
  if (r.status !== 0) return null;
  return fromPython(venvPython(VENV), `project-local venv (${spec})`);
}

const HELP = `libtorch was not found, and installing the CPU wheel failed.
squisher looks for libtorch in this order:
  1. LIBTORCH=/path/to/libtorch (the folder with include/, lib/, share/), or Torch_DIR=/path/to/share/cmake/Torch
  2. the torch package of SQUISHER_PYTHON, or of python3 on PATH
  3. ${VENV} (made by a previous install)
  4. installs ${DEFAULT_SPEC} there with pip (needs python3 with venv and pip, and a reachable wheel index)
Fix it with one of:
  LIBTORCH=/path/to/libtorch npm install
  python3 -m pip install "${DEFAULT_SPEC}" --extra-index-url ${CPU_WHEEL_INDEX} && npm install`;

function discover({ allowInstall = true } = {}) {
  if (process.env.LIBTORCH) return fromRoot(process.env.LIBTORCH, 'LIBTORCH');
  if (process.env.Torch_DIR) return fromRoot(path.resolve(process.env.Torch_DIR, '..', '..', '..'), 'Torch_DIR');
  const py = process.env.SQUISHER_PYTHON || 'python3';
  const sys = fromPython(py, `python torch (${py})`);
  if (sys) return sys;
  if (fs.existsSync(venvPython(VENV))) {
    const local = fromPython(venvPython(VENV), 'project-local venv');
    if (local) return local;
  }
  if (allowInstall && process.env.SQUISHER_NO_INSTALL !== '1') {
    const installed = installLocal();
    if (installed) return installed;
  }
  const e = new Error(HELP);
  e.code = 'SQUISHER_NO_LIBTORCH';
  throw e;
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

module.exports = { discover, cached, save, describe, ROOT, VENV, venvPython };

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
