'use strict';
// The Python that holds PyTorch: the tests' oracle and the fixture generator. It is the interpreter
// libtorch was found through, else the project-local venv, else python3 (checked for torch).
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const lt = require('./install/libtorch');

function hasModules(py, mods) {
  const r = spawnSync(py, ['-c', mods.map((m) => `import ${m}`).join(';')], { encoding: 'utf8' });
  return r.status === 0;
}

function findPython() {
  const candidates = [];
  try { const t = lt.cached(); if (t.python) candidates.push(t.python); } catch (_) { /* no cache yet */ }
  if (process.env.SQUISHER_PYTHON) candidates.push(process.env.SQUISHER_PYTHON);
  candidates.push(lt.venvPython(lt.VENV), 'python3');
  for (const py of candidates) {
    if ((py === 'python3' || fs.existsSync(py)) && hasModules(py, ['torch'])) return py;
  }
  throw new Error('The tests use Python PyTorch as their oracle and found none. Run `npm install` ' +
    '(it installs the CPU wheel into .torch-venv when no torch is found), or set SQUISHER_PYTHON.');
}

// Besides torch, the oracle needs safetensors' own Python package (it reads back what squisher writes),
// numpy (safetensors.torch and some references use it), and transformers and timm: fixtures are models and
// files those libraries write (from configs, random weights; nothing from a hub). Installed beside torch if
// missing (accelerate: transformers' Trainer needs it for the training-run fixtures). The pip names differ
// from the import names only for huggingface_hub.
const ORACLE_PACKAGES = ['safetensors', 'numpy', 'transformers', 'timm', 'huggingface_hub', 'accelerate'];
function ensureOracle() {
  const py = findPython();
  const missing = ORACLE_PACKAGES.filter((m) => !hasModules(py, [m]));
  if (missing.length) {
    process.stderr.write(`squisher tests: installing ${missing.join(', ')} for ${py}\n`);
    const r = spawnSync(py, ['-m', 'pip', 'install', ...missing], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`could not install ${missing.join(', ')} for ${py}; install them: ${py} -m pip install ${missing.join(' ')}`);
  }
  return py;
}

module.exports = { findPython, ensureOracle };
