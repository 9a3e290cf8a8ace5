'use strict';
// The Python that holds PyTorch: the tests' oracle and the fixture generator. It is the interpreter
// libtorch was found through, else the project-local or cached venv, else python3 (checked for torch).
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const lt = require('./install/libtorch');

// timm imports torchvision, whose only wheel here is a CUDA build that fails to register its operators on a
// CPU torch; the fixtures guard that import the same way (scripts/fixtures/_hf.py). Without the guard the
// check fails on every run and pip is called every time.
const TORCHVISION_GUARD = "import sys, types; sys.modules.setdefault('torchvision._meta_registrations', types.ModuleType('x'))";
// Which of mods the interpreter cannot import, in one process (each import of transformers or timm loads
// torch again: one process per module cost seconds on every test and benchmark run).
function missingModules(py, mods) {
  const code = `${TORCHVISION_GUARD}
import importlib, json
missing = []
for m in ${JSON.stringify(mods)}:
    try: importlib.import_module(m)
    except Exception: missing.append(m)
print(json.dumps(missing))`;
  const r = spawnSync(py, ['-c', code], { encoding: 'utf8' });
  if (r.status !== 0) return mods;
  try { return JSON.parse(r.stdout.trim().split('\n').pop()); } catch (_) { return mods; }
}

function hasModules(py, mods) {
  const r = spawnSync(py, ['-c', [TORCHVISION_GUARD, ...mods.map((m) => `import ${m}`)].join(';')], { encoding: 'utf8' });
  return r.status === 0;
}

function findPython() {
  const candidates = [];
  try { const t = lt.cached(); if (t.python) candidates.push(t.python); } catch (_) { /* no cache yet */ }
  if (process.env.SQUISHER_PYTHON) candidates.push(process.env.SQUISHER_PYTHON);
  candidates.push(lt.venvPython(lt.LEGACY_VENV), lt.venvPython(lt.wheelPlan().venv), 'python3');
  for (const py of candidates) {
    if ((py === 'python3' || fs.existsSync(py)) && hasModules(py, ['torch'])) return py;
  }
  throw new Error('The tests use Python PyTorch as their oracle and found none. Run `npm install` ' +
    '(it installs the torch wheel into the per-user cache when no torch is found), or set SQUISHER_PYTHON.');
}

// Besides torch, the oracle needs safetensors' own Python package (it reads back what squisher writes),
// numpy (safetensors.torch and some references use it), and transformers and timm: fixtures are models and
// files those libraries write (from configs, random weights; nothing from a hub). Installed beside torch if
// missing (accelerate: transformers' Trainer needs it for the training-run fixtures). The pip names differ
// from the import names only for huggingface_hub.
const ORACLE_PACKAGES = ['safetensors', 'numpy', 'transformers', 'timm', 'huggingface_hub', 'accelerate'];
function ensureOracle() {
  const py = findPython();
  const missing = missingModules(py, ORACLE_PACKAGES);
  if (missing.length) {
    process.stderr.write(`squisher tests: installing ${missing.join(', ')} for ${py}\n`);
    const r = spawnSync(py, ['-m', 'pip', 'install', ...missing], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`could not install ${missing.join(', ')} for ${py}; install them: ${py} -m pip install ${missing.join(' ')}`);
  }
  return py;
}

module.exports = { findPython, ensureOracle };
