// The addon's RUNPATH: relative ($ORIGIN) when libtorch moves with the package, absolute otherwise; and
// a built package copied to another folder still loads (a child process requires the copy).
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.resolve(__dirname, '..', '..');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { runpathFor } = require(path.join(root, 'scripts', 'install', 'runpath.js'));

let tmp: string;
beforeEach(() => { tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'sq-rp-'))); });
afterEach(() => { fs.rmSync(tmp, { recursive: true, force: true }); });

describe('addon runpath', () => {
  test('libtorch inside the package: relative to the addon', () => {
    const pkg = path.join(tmp, 'pkg');
    fs.mkdirSync(path.join(pkg, '.torch-venv', 'torch', 'lib'), { recursive: true });
    expect(runpathFor(path.join(pkg, '.torch-venv', 'torch', 'lib'), path.join(pkg, 'build', 'Release'), pkg))
      .toBe('$ORIGIN/../../.torch-venv/torch/lib');
  });
  test('libtorch in another package of the same node_modules: relative, so node_modules can be copied whole', () => {
    const nm = path.join(tmp, 'app', 'node_modules');
    const pkg = path.join(nm, 'squisher');
    fs.mkdirSync(path.join(nm, 'libtorch-bin', 'lib'), { recursive: true });
    fs.mkdirSync(pkg, { recursive: true });
    expect(runpathFor(path.join(nm, 'libtorch-bin', 'lib'), path.join(pkg, 'build', 'Release'), pkg))
      .toBe('$ORIGIN/../../../libtorch-bin/lib');
  });
  test('libtorch outside (a Python install, the per-user cache): its absolute path', () => {
    const lib = path.join(tmp, 'cache', 'torch', 'lib');
    fs.mkdirSync(lib, { recursive: true });
    fs.mkdirSync(path.join(tmp, 'pkg'));
    expect(runpathFor(lib, path.join(tmp, 'pkg', 'build', 'Release'), path.join(tmp, 'pkg'))).toBe(lib);
  });
  test('the built package, copied to another folder, loads and computes in a new process', () => {
    const copy = path.join(tmp, 'moved', 'squisher');
    for (const f of ['package.json', 'dist', path.join('build', 'Release', 'squisher.node'), path.join('build', 'libtorch.json')]) {
      fs.cpSync(path.join(root, f), path.join(copy, f), { recursive: true });
    }
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(copy, 'node_modules'));
    const code = `const s = require(${JSON.stringify(copy)}); const t = s.tensor([1, 2, 3]);
      console.log(JSON.stringify({ sum: t.sum().item(), v: s.torchVersion }));`;
    const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', cwd: tmp });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ sum: 6, v: expect.stringMatching(/^2\./) });
  });
  test('when libtorch is gone, loading names the recorded location and the fix', () => {
    const copy = path.join(tmp, 'pkg');
    fs.cpSync(path.join(root, 'dist'), path.join(copy, 'dist'), { recursive: true });
    fs.cpSync(path.join(root, 'package.json'), path.join(copy, 'package.json'));
    fs.mkdirSync(path.join(copy, 'build', 'Release'), { recursive: true });
    // A stand-in addon that needs a libtorch library nobody has: the loader sees the same dlopen error.
    const so = path.join(copy, 'build', 'Release', 'squisher.node');
    const c = spawnSync('sh', ['-c', `printf 'int f(void){return 0;}' | cc -shared -x c - -o ${tmp}/libc10.so && ` +
      `printf 'int f(void); int g(void){return f();}' | cc -shared -x c - -o ${so} -L${tmp} -lc10 -Wl,-rpath,${tmp}/gone && rm ${tmp}/libc10.so`]);
    expect(c.status).toBe(0);
    fs.writeFileSync(path.join(copy, 'build', 'libtorch.json'), JSON.stringify({ version: '2.13.0', source: 'LIBTORCH', lib: `${tmp}/gone` }));
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(copy, 'node_modules'));
    const r = spawnSync(process.execPath, ['-e', `try { require(${JSON.stringify(copy)}); } catch (e) { console.log(e.name + ': ' + e.message); }`], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/^SquisherError: the native addon .*squisher\.node cannot load libtorch 2\.13\.0 from LIBTORCH, at .*\/gone .*libc10\.so: cannot open shared object file.*npm rebuild squisher/);
  });
});
