// libtorch discovery: explicit settings first, clear messages when a setting or everything is wrong.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const script = path.resolve(__dirname, '..', '..', 'scripts', 'install', 'libtorch.js');

function discover(env: Record<string, string>, from = script): { ok: boolean; out: string } {
  const code = `try { const t = require(${JSON.stringify(from)}).discover({ allowInstall: false }); console.log(JSON.stringify(t)); }
    catch (e) { console.log('ERROR ' + e.message); }`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', env: { ...process.env, LIBTORCH: '', Torch_DIR: '', ...env } });
  const out = r.stdout.trim();
  return { ok: !out.startsWith('ERROR'), out };
}

describe('libtorch discovery', () => {
  const found = require(script).cached();
  test('the build recorded what it used: version, CPU/CUDA, path', () => {
    expect(found.version).toMatch(/^2\.\d+/);
    expect(typeof found.cuda).toBe('boolean');
    expect(found.cmakeDir).toMatch(/share[/\\]cmake[/\\]Torch$/);
  });
  test('LIBTORCH wins over Python and is checked', () => {
    const ok = discover({ LIBTORCH: found.root });
    expect(ok.ok).toBe(true);
    expect(JSON.parse(ok.out).source).toBe('LIBTORCH');
    const bad = discover({ LIBTORCH: '/nonexistent/libtorch' });
    expect(bad.out).toMatch(/LIBTORCH points at \/nonexistent\/libtorch, which has no share\/cmake\/Torch\/TorchConfig.cmake/);
  });
  test('Torch_DIR is accepted', () => {
    const r = discover({ Torch_DIR: found.cmakeDir });
    expect(JSON.parse(r.out).source).toBe('Torch_DIR');
  });
  test('with nothing found and installing off, one message says what is missing and how to fix it', () => {
    const r = discover({ SQUISHER_PYTHON: '/bin/false', SQUISHER_VENV: '/nonexistent/venv', PATH: '/nonexistent' });
    expect(r.ok).toBe(false);
    expect(r.out).toMatch(/libtorch was not found/);
    expect(r.out).toMatch(/LIBTORCH=\/path\/to\/libtorch npm install/);
  });

  test('the supported range 2.11-2.13 is checked, with a bypass variable', () => {
    const fake = fs.mkdtempSync(path.join(os.tmpdir(), 'sq-lt-'));
    try {
      for (const d of ['share/cmake/Torch', 'lib', 'include/torch/headeronly']) fs.mkdirSync(path.join(fake, d), { recursive: true });
      fs.writeFileSync(path.join(fake, 'share/cmake/Torch/TorchConfig.cmake'), '');
      const setVersion = (maj: number, min: number) => fs.writeFileSync(path.join(fake, 'include/torch/headeronly/version.h'),
        `#define TORCH_VERSION_MAJOR ${maj}\n#define TORCH_VERSION_MINOR ${min}\n#define TORCH_VERSION_PATCH 0\n`);
      const lt = require(script);
      const check = (env: Record<string, string>) => { try { lt.checkVersion(lt.discover({ allowInstall: false, env: { LIBTORCH: fake, ...env } }), env); return 'ok'; } catch (e) { return (e as Error).message; } };
      setVersion(2, 5);
      expect(check({})).toMatch(/^libtorch 2\.5\.0 \(LIBTORCH, .*\) is outside the supported range 2\.11 to 2\.13: .*SQUISHER_SKIP_VERSION_CHECK=1 npm install$/);
      expect(check({ SQUISHER_SKIP_VERSION_CHECK: '1' })).toBe('ok');
      setVersion(2, 14);
      expect(check({})).toMatch(/outside the supported range/);
      for (const v of [11, 12, 13]) { setVersion(2, v); expect(check({})).toBe('ok'); }
    } finally { fs.rmSync(fake, { recursive: true, force: true }); }
  });
});

describe('where a downloaded torch goes, and which one', () => {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const lt = require(script);
  let bin: string;
  // The install scripts copied into an empty project root, so that a checkout's own legacy .torch-venv
  // (which discovery rightly prefers to a download) cannot answer for the machine these tests fake.
  let bare: string;
  beforeEach(() => {
    bin = fs.mkdtempSync(path.join(os.tmpdir(), 'sq-bin-'));
    fs.cpSync(path.dirname(script), path.join(bin, 'project', 'scripts', 'install'), { recursive: true });
    bare = path.join(bin, 'project', 'scripts', 'install', path.basename(script));
  });
  afterEach(() => { fs.rmSync(bin, { recursive: true, force: true }); });
  const smi = (cudaVersion: string) => {
    fs.writeFileSync(path.join(bin, 'nvidia-smi'), `#!/bin/sh\necho "| NVIDIA-SMI 570.86   Driver Version: 570.86   CUDA Version: ${cudaVersion} |"\n`);
    fs.chmodSync(path.join(bin, 'nvidia-smi'), 0o755);
  };
  test('one per-user cache shared by all projects, named by version and variant; SQUISHER_CACHE_DIR moves it', () => {
    const p = lt.wheelPlan({ PATH: bin, HOME: '/home/u' });
    expect(p).toMatchObject({ variant: 'cpu', spec: 'torch==2.13.0+cpu', index: 'https://download.pytorch.org/whl/cpu',
      venv: path.join('/home/u', '.cache', 'squisher', 'torch-2.13.0-cpu') });
    expect(lt.wheelPlan({ PATH: bin, HOME: '/home/u', SQUISHER_CACHE_DIR: '/srv/cache' }).venv).toBe(path.join('/srv/cache', 'torch-2.13.0-cpu'));
    expect(lt.wheelPlan({ PATH: bin, XDG_CACHE_HOME: '/xdg' }).venv).toBe(path.join('/xdg', 'squisher', 'torch-2.13.0-cpu'));
  });
  test('an NVIDIA driver selects the newest CUDA wheel it can run', () => {
    smi('12.8');
    expect(lt.wheelPlan({ PATH: bin, HOME: '/h' })).toMatchObject({ variant: 'cu128', spec: 'torch==2.13.0+cu128', index: 'https://download.pytorch.org/whl/cu128', driver: [12, 8] });
    smi('12.7');
    expect(lt.wheelPlan({ PATH: bin, HOME: '/h' }).variant).toBe('cu126');
    smi('13.1');
    expect(lt.wheelPlan({ PATH: bin, HOME: '/h' }).variant).toBe('cu130');
    expect(lt.wheelPlan({ PATH: bin, HOME: '/h', SQUISHER_TORCH_VARIANT: 'cpu' }).variant).toBe('cpu');
  });
  test('with a GPU and installing off, the message is the exact command for the CUDA wheel', () => {
    smi('12.9');
    const r = discover({ PATH: bin, HOME: bin, SQUISHER_PYTHON: '/bin/false', SQUISHER_NO_INSTALL: '1' }, bare);
    expect(r.ok).toBe(false);
    expect(r.out).toContain(`python3 -m venv ${path.join(bin, '.cache', 'squisher', 'torch-2.13.0-cu128')} && `);
    expect(r.out).toContain('-m pip install "torch==2.13.0+cu128" --extra-index-url https://download.pytorch.org/whl/cu128 && npm install');
  });
  test('a driver older than every CUDA wheel stops with what to do, not a silent CPU install', () => {
    smi('11.4');
    const r = discover({ PATH: bin, HOME: bin, SQUISHER_PYTHON: '/bin/false' }, bare);
    expect(r.out).toMatch(/NVIDIA driver \(for CUDA 11\.4\) is older than any CUDA wheel.*SQUISHER_TORCH_VARIANT=cpu npm install/s);
  });
});

