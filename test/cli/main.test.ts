// The command itself: --version, exit codes (2 usage, 1 failure), one "squisher:" prefix, --json on stdout.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildProgram, main } from '../../lib/cli/main';

const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'dist', 'cli', 'main.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

describe('squisher CLI', () => {
  test('--version prints package.json\'s version', () => {
    const r = run('--version');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version);
  });
  test('usage errors exit 2 with one line: unknown command, unknown option, missing argument, an extra argument', () => {
    for (const [args, msg] of [
      [['frobnicate'], "unknown command 'frobnicate' (see 'squisher --help')"],
      [['info', '--bogus'], "unknown option '--bogus' (see 'squisher info --help')"],
      [['inspect'], "missing required argument 'file' (see 'squisher inspect --help')"],
      [['info', 'extra'], "too many arguments for 'info'. Expected 0 arguments but got 1 (see 'squisher info --help')"],
    ] as const) {
      const r = run(...args);
      expect({ args, status: r.status, stderr: r.stderr, stdout: r.stdout }).toEqual({ args, status: 2, stderr: `squisher: ${msg}\n`, stdout: '' });
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

// The same rules for every command, run in-process through main() (what the bin runs; spawning each would
// load libtorch 25 times): exit code, one message on stderr with one "squisher:" prefix, nothing on stdout.
async function inProcess(...args: string[]): Promise<{ status: number; stderr: string; stdout: string }> {
  const out: string[] = [], err: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((...a) => { out.push(a.join(' ')); });
  const cerr = jest.spyOn(console, 'error').mockImplementation((...a) => { err.push(`${a.join(' ')}\n`); });
  const w = jest.spyOn(process.stderr, 'write').mockImplementation((x: any) => { err.push(String(x)); return true; });
  const before = process.exitCode;
  try {
    await main(['node', 'squisher', ...args]);
    return { status: Number(process.exitCode ?? 0), stderr: err.join(''), stdout: out.join('\n') };
  } finally {
    process.exitCode = before;
    log.mockRestore(); cerr.mockRestore(); w.mockRestore();
  }
}

describe('every command', () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sq-cli-'));
  const missing = (n: string): string => path.join(d, `missing-${n}`);
  afterAll(() => fs.rmSync(d, { recursive: true, force: true }));
  // Each command with its required arguments and options given, so an added flag is the only mistake.
  const valid: Record<string, string[]> = {
    demo: [],
    fisher: ['--model', missing('m.pt'), '--data', missing('d.pt'), '--out', path.join(d, 'F.safetensors')],
    squisher: ['--out', path.join(d, 'S.safetensors')],
    compare: [missing('a.safetensors'), missing('b.safetensors')],
    prune: ['--model', missing('m.pt'), '--sparsity', '0.5', '--out', path.join(d, 'p.pt')],
    merge: [missing('a.pt'), missing('b.pt'), '--out', path.join(d, 'm.pt')],
    inspect: [missing('a.pt')],
    convert: [missing('a.pt'), path.join(d, 'b.safetensors')],
    info: [],
  };

  test('the table covers every registered command', () => {
    expect(Object.keys(valid).sort()).toEqual(buildProgram().commands.map((c) => c.name()).sort());
  });

  test.each(Object.keys(valid))('%s: an unknown option exits 2 with a one-line message', async (cmd) => {
    const r = await inProcess(cmd, ...valid[cmd]!, '--bogus');
    expect(r).toEqual({ status: 2, stderr: `squisher: unknown option '--bogus' (see 'squisher ${cmd} --help')\n`, stdout: '' });
  });

  test.each(Object.keys(valid))('%s: --help exits 0 and prints usage on stdout', async (cmd) => {
    const w = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const r = await inProcess(cmd, '--help');
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      expect(String(w.mock.calls[0]?.[0])).toMatch(new RegExp(`^Usage: squisher ${cmd} `));
    } finally { w.mockRestore(); }
  });

  // A bad option value (an OptionError raised by the command) is a usage error too.
  const badValue: [string, string[], RegExp][] = [
    ['demo', ['--plot', path.join(d, 'x.txt')], /^--plot .*x\.txt: use a \.svg or \.png file name$/],
    ['fisher', ['--model', missing('m.pt'), '--data', missing('d.pt'), '--out', path.join(d, 'F.pt')], /F\.pt: the output must be a \.safetensors file/],
    ['squisher', ['--out', path.join(d, 'S.safetensors')], /^squisher needs --optimizer FILE/],
    ['compare', [...valid.compare!, '--plot', path.join(d, 'x.txt')], /^--plot .*x\.txt: use a \.svg or \.png file name$/],
    ['prune', [...valid.prune!, '--method', 'bogus'], /^--method must be fisher, magnitude or random, got 'bogus'$/],
    ['merge', [missing('a.pt'), '--out', path.join(d, 'm.pt')], /^merge needs at least two models$/],
  ];
  test.each(badValue)('%s: a bad option value exits 2, one "squisher:" prefix', async (cmd, args, msg) => {
    const r = await inProcess(cmd, ...args);
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 2, stdout: '' });
    expect(r.stderr).toMatch(/^squisher: [^\n]*\n$/);
    expect(r.stderr.slice('squisher: '.length, -1)).toMatch(msg);
  });

  // A failure while working (here: an input file that does not exist) exits 1, naming the file.
  const failing: [string, string[], string][] = [
    ['fisher', valid.fisher!, 'missing-m.pt'],
    ['squisher', ['--optimizer', missing('opt.pt'), '--out', path.join(d, 'S.safetensors')], 'missing-opt.pt'],
    ['compare', valid.compare!, 'missing-a.safetensors'],
    ['prune', [...valid.prune!, '--method', 'magnitude'], 'missing-m.pt'],
    ['merge', valid.merge!, 'missing-a.pt'],
    ['inspect', valid.inspect!, 'missing-a.pt'],
    ['convert', valid.convert!, 'missing-a.pt'],
  ];
  test.each(failing)('%s: a missing input exits 1, one "squisher:" prefix naming the file', async (cmd, args, file) => {
    const r = await inProcess(cmd, ...args);
    expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 1, stdout: '' });
    expect(r.stderr).toMatch(/^squisher: /);
    expect(r.stderr).toContain(file);
    expect(r.stderr).not.toMatch(/squisher:\s*squisher:/);
  });
});
