'use strict';
// The build's system prerequisites, checked before any long step (a pip download, a 3-minute compile), so a
// missing one costs seconds and prints one line naming it and the command that installs it, instead of an
// error deep inside CMake or the compiler. Each check reads tools from PATH (and CXX), so tests can fake them.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const MIN_CMAKE = [3, 18];

// The install command for a package on this machine's package manager; a pip or manual fallback otherwise.
function fixFor(what, env = process.env) {
  const pm = ['apt-get', 'dnf', 'brew'].find((t) => which(t, env));
  const pkgs = {
    'apt-get': { cxx: 'g++', cmake: 'cmake', json: 'nlohmann-json3-dev', venv: 'python3-venv' },
    dnf: { cxx: 'gcc-c++', cmake: 'cmake', json: 'json-devel', venv: 'python3' },
    brew: { cxx: 'llvm', cmake: 'cmake', json: 'nlohmann-json', venv: 'python' },
  };
  if (pm === 'apt-get') return `apt-get install -y ${pkgs[pm][what]}`;
  if (pm === 'dnf') return `dnf install -y ${pkgs[pm][what]}`;
  if (pm === 'brew') return `brew install ${pkgs[pm][what]}`;
  return {
    cxx: 'install a C++17 compiler (g++ >= 8 or clang++ >= 7) and put it on PATH, or set CXX',
    cmake: 'python3 -m pip install "cmake>=3.18"',
    json: 'download json.hpp from the nlohmann/json release into DIR/nlohmann/ and set CPATH=DIR',
    venv: 'install Python 3 with its venv module (python3 -m venv must work)',
  }[what];
}

function which(cmd, env = process.env) {
  if (cmd.includes('/')) return fs.existsSync(cmd) ? cmd : null;
  for (const dir of (env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try { fs.accessSync(p, fs.constants.X_OK); if (fs.statSync(p).isFile()) return p; } catch (_) { /* not here */ }
  }
  return null;
}

function run(cmd, args, env, input) {
  return spawnSync(cmd, args, { encoding: 'utf8', env, input, timeout: 60000 });
}

// The compiler CMake will pick: CXX if set, else the first of c++, g++, clang++ on PATH.
function findCxx(env = process.env) {
  if (env.CXX) return which(env.CXX.split(' ')[0], env);
  return ['c++', 'g++', 'clang++'].map((c) => which(c, env)).find(Boolean) || null;
}

// Compiles (syntax only) a snippet that needs C++17, so an old compiler is caught, not just a missing one.
function checkCxx(env = process.env) {
  const cxx = findCxx(env);
  if (!cxx) return { ok: false, what: 'C++17 compiler', problem: 'no C++ compiler found (looked for CXX, c++, g++, clang++ on PATH)', fix: fixFor('cxx', env) };
  const src = '#include <optional>\n#include <string_view>\nint main() { std::optional<std::string_view> s{"x"}; if constexpr (true) return s->size() - 1; }\n';
  const r = run(cxx, ['-std=c++17', '-fsyntax-only', '-x', 'c++', '-'], env, src);
  if (r.status !== 0) return { ok: false, what: 'C++17 compiler', problem: `${cxx} cannot compile C++17 (${firstLine(r.stderr) || `exit ${r.status}`})`, fix: fixFor('cxx', env) };
  return { ok: true, what: 'C++17 compiler', detail: cxx };
}

function checkCmake(env = process.env) {
  const cmake = which('cmake', env);
  if (!cmake) return { ok: false, what: 'cmake >= 3.18', problem: 'cmake not found on PATH', fix: fixFor('cmake', env) };
  const r = run(cmake, ['--version'], env);
  const m = /cmake version (\d+)\.(\d+)/.exec(r.stdout || '');
  if (!m) return { ok: false, what: 'cmake >= 3.18', problem: `${cmake} --version printed no version`, fix: fixFor('cmake', env) };
  const v = [Number(m[1]), Number(m[2])];
  if (v[0] < MIN_CMAKE[0] || (v[0] === MIN_CMAKE[0] && v[1] < MIN_CMAKE[1])) {
    return { ok: false, what: 'cmake >= 3.18', problem: `cmake ${v.join('.')} is too old`, fix: 'python3 -m pip install "cmake>=3.18" (or a newer cmake from your package manager)' };
  }
  return { ok: true, what: 'cmake >= 3.18', detail: `${cmake} ${v.join('.')}` };
}

// libtorch's functorch headers include <nlohmann/json.hpp>. Asks the compiler itself (it honours CPATH and
// its own search path, as the build will); without a compiler, looks in the usual folders.
function checkJson(env = process.env) {
  const res = { what: 'nlohmann/json headers', fix: fixFor('json', env) };
  const cxx = findCxx(env);
  if (cxx) {
    const r = run(cxx, ['-std=c++17', '-E', '-x', 'c++', '-', '-o', os.devNull], env, '#include <nlohmann/json.hpp>\n');
    if (r.status === 0) return { ...res, ok: true, detail: 'found by the compiler' };
    return { ...res, ok: false, problem: 'nlohmann/json.hpp not found (libtorch\'s functorch headers include it)' };
  }
  const dirs = [...(env.CPATH || '').split(path.delimiter), '/usr/include', '/usr/local/include', '/opt/homebrew/include'].filter(Boolean);
  const hit = dirs.find((d) => fs.existsSync(path.join(d, 'nlohmann', 'json.hpp')));
  return hit ? { ...res, ok: true, detail: hit } : { ...res, ok: false, problem: 'nlohmann/json.hpp not found (libtorch\'s functorch headers include it)' };
}

// Only needed when no libtorch is found and the CPU/CUDA wheel is installed into a virtual environment.
// Debian's python3 has the venv module but no ensurepip without python3-venv, so ask for both.
function checkPythonVenv(python, env = process.env) {
  const what = 'Python 3 with venv';
  const r = run(python, ['-c', 'import venv, ensurepip, sys; print(sys.version.split()[0])'], env);
  if (r.error || r.status !== 0) {
    const problem = r.error ? `${python} not found` : `${python} has no working venv module (${firstLine(r.stderr)})`;
    return { ok: false, what, problem, fix: fixFor('venv', env) };
  }
  return { ok: true, what, detail: `${python} ${r.stdout.trim()}` };
}

function firstLine(s) { return String(s || '').split('\n').map((l) => l.trim()).find(Boolean) || ''; }

function checkBuildTools(env = process.env) {
  return [checkCxx(env), checkCmake(env), checkJson(env)];
}

// One line per missing prerequisite: what, why, and the command that fixes it.
function formatMissing(results) {
  return results.filter((r) => !r.ok).map((r) => `missing ${r.what}: ${r.problem}. Fix: ${r.fix}`);
}

module.exports = { checkBuildTools, checkCxx, checkCmake, checkJson, checkPythonVenv, formatMissing, which };
