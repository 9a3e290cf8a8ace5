// libtorch discovery: explicit settings first, clear messages when a setting or everything is wrong.
import { spawnSync } from 'child_process';
import * as path from 'path';

const script = path.resolve(__dirname, '..', '..', 'scripts', 'install', 'libtorch.js');

function discover(env: Record<string, string>): { ok: boolean; out: string } {
  const code = `try { const t = require(${JSON.stringify(script)}).discover({ allowInstall: false }); console.log(JSON.stringify(t)); }
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
});
