// The install's first step: each missing build tool is one line naming it and the command that installs
// it, found in seconds, before any download or compile. Tools are faked on PATH.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..', '..');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const prereqs = require(path.join(root, 'scripts', 'install', 'prereqs.js'));

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sq-prereq-')); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

function tool(name: string, body: string): void {
  const p = path.join(dir, name);
  fs.writeFileSync(p, `#!/bin/sh\n${body}\n`);
  fs.chmodSync(p, 0o755);
}
const env = () => ({ PATH: dir, HOME: dir });
const goodCxx = 'exit 0';
const cmake = (v: string) => `echo "cmake version ${v}"`;

describe('build prerequisites', () => {
  test('all present: every check passes', () => {
    tool('c++', goodCxx); tool('cmake', cmake('3.25.1'));
    const r = prereqs.checkBuildTools(env());
    expect(r.map((x: { ok: boolean }) => x.ok)).toEqual([true, true, true]);
    expect(prereqs.formatMissing(r)).toEqual([]);
  });
  test('nothing on PATH: one line per tool, each with the apt-get command that fixes it', () => {
    tool('apt-get', 'exit 0');
    const lines = prereqs.formatMissing(prereqs.checkBuildTools(env()));
    expect(lines.slice(0, 2)).toEqual([
      expect.stringMatching(/^missing C\+\+17 compiler: no C\+\+ compiler found .*Fix: apt-get install -y g\+\+$/),
      expect.stringMatching(/^missing cmake >= 3\.18: cmake not found on PATH\. Fix: apt-get install -y cmake$/),
    ]);
  });
  test('a compiler that cannot find nlohmann/json and no cmake: two lines, every problem at once', () => {
    tool('apt-get', 'exit 0');
    tool('c++', 'case "$*" in *-E*) echo "fatal error: nlohmann/json.hpp: No such file" >&2; exit 1;; esac; exit 0');
    expect(prereqs.formatMissing(prereqs.checkBuildTools(env()))).toEqual([
      'missing cmake >= 3.18: cmake not found on PATH. Fix: apt-get install -y cmake',
      'missing nlohmann/json headers: nlohmann/json.hpp not found (libtorch\'s functorch headers include it). Fix: apt-get install -y nlohmann-json3-dev',
    ]);
  });
  test('a compiler without C++17 is reported with its own message', () => {
    tool('c++', 'echo "error: unrecognized command-line option -std=c++17" >&2; exit 1');
    const r = prereqs.checkCxx(env());
    expect(r.ok).toBe(false);
    expect(r.problem).toMatch(/cannot compile C\+\+17 \(error: unrecognized command-line option -std=c\+\+17\)/);
  });
  test('cmake older than 3.18 is refused, with a pip command that brings a new one', () => {
    tool('cmake', cmake('3.16.3'));
    const r = prereqs.checkCmake(env());
    expect(r.ok).toBe(false);
    expect(`${r.problem} ${r.fix}`).toMatch(/cmake 3\.16 is too old .*pip install "cmake>=3\.18"/);
    tool('cmake', cmake('3.18.0'));
    expect(prereqs.checkCmake(env()).ok).toBe(true);
  });
  test('nlohmann/json is looked up by the compiler itself (so CPATH counts)', () => {
    tool('c++', 'case "$*" in *-E*) echo "fatal error: nlohmann/json.hpp: No such file" >&2; exit 1;; esac; exit 0');
    tool('brew', 'exit 0');
    const r = prereqs.checkJson(env());
    expect(r.ok).toBe(false);
    expect(r.fix).toBe('brew install nlohmann-json');
  });
  test('a Python without ensurepip (Debian without python3-venv) is named before any download', () => {
    tool('python3', 'echo "ModuleNotFoundError: No module named \'ensurepip\'" >&2; exit 1');
    tool('apt-get', 'exit 0');
    const r = prereqs.checkPythonVenv('python3', env());
    expect(r.ok).toBe(false);
    expect(r.problem).toMatch(/no working venv module \(ModuleNotFoundError: No module named 'ensurepip'\)/);
    expect(r.fix).toBe('apt-get install -y python3-venv');
  });
  test('npm install stops at the missing tool in seconds, before looking for libtorch', () => {
    tool('c++', goodCxx); tool('apt-get', 'exit 0');
    const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'install', 'install.js')], {
      encoding: 'utf8', env: { PATH: dir, HOME: dir, LIBTORCH: '/nonexistent' },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/squisher: missing cmake >= 3\.18: cmake not found on PATH\. Fix: apt-get install -y cmake/);
    expect(r.stderr).toMatch(/nothing needs deleting/);
    expect(r.stderr).not.toMatch(/LIBTORCH|libtorch/);
  });
});
