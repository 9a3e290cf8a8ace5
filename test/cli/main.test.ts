// The command itself: --version, exit codes (2 usage, 1 failure), one "squisher:" prefix, --json on stdout.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'dist', 'cli', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

describe('squisher CLI', () => {
  test('--version prints package.json\'s version', () => {
    const r = run('--version');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version);
  });
  test('usage errors exit 2: unknown command, unknown option, missing argument', () => {
    for (const args of [['frobnicate'], ['info', '--bogus'], ['inspect']]) {
      const r = run(...args);
      expect({ args, status: r.status }).toEqual({ args, status: 2 });
      expect(r.stderr).toMatch(/^error: /);
    }
  });
  test('a failure exits 1 with one "squisher:" prefix naming the file', () => {
    const f = path.join(os.tmpdir(), `sq-missing-${process.pid}.pt`);
    const r = run('inspect', f);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^squisher: .*${path.basename(f)}`));
    expect(r.stderr).not.toMatch(/squisher:\s*squisher:/);
    expect(r.stdout).toBe('');
  });
  test('info --json on stdout: libtorch version, build, devices, threads, addon and libtorch paths', () => {
    const r = run('info', '--json');
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({ libtorch: expect.stringMatching(/^2\.\d+/), build: expect.stringMatching(/^(CPU|CUDA)/),
      devices: expect.arrayContaining(['cpu']), threads: expect.any(Number) });
    expect(fs.existsSync(info.addon)).toBe(true);
    expect(fs.existsSync(path.join(info.libtorchPath, 'libc10.so')) || fs.existsSync(path.join(info.libtorchPath, 'libc10.dylib'))).toBe(true);
    // The folder the libraries were really loaded from is the one the install recorded.
    const rec = JSON.parse(fs.readFileSync(path.join(path.dirname(info.addon), '..', 'libtorch.json'), 'utf8'));
    expect(fs.realpathSync(info.libtorchPath)).toBe(fs.realpathSync(rec.lib));
  });
});
