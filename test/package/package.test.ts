// What `npm pack` ships and how consumers reach it: the exports map (CJS, ESM, types), the file list
// (no tests, benchmarks, fixtures, GPU scripts or source maps), LICENSE matching package.json.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const root = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

describe('npm package', () => {
  test('the tarball holds what install and runtime need, and nothing for development only', () => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const files: string[] = JSON.parse(r.stdout)[0].files.map((f: { path: string }) => f.path);
    for (const need of ['package.json', 'LICENSE', 'CHANGELOG.md', 'README.md', 'CMakeLists.txt', 'binding.gyp', 'esm/index.mjs',
      'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'scripts/install/install.js', 'scripts/install/libtorch.js', 'native/core/addon.cpp']) {
      expect(files).toContain(need);
    }
    const dev = files.filter((f) => /^(test|scripts\/(bench|gpu|fixtures|ci)|\.ci|examples|build)\/|\.map$|\.ts$/.test(f) && !f.endsWith('.d.ts'));
    expect(dev).toEqual([]);
  });
  test('LICENSE is the MIT license package.json names', () => {
    expect(pkg.license).toBe('MIT');
    expect(fs.readFileSync(path.join(root, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n/);
  });
  test('require and import of "squisher" reach the same exports (one addon, one set of classes)', () => {
    // Inside the package, "squisher" resolves through its own exports map (self-reference).
    const code = `import * as esm from 'squisher'; import { createRequire } from 'module';
      const cjs = createRequire(import.meta.url)('squisher');
      const missing = Object.keys(cjs).filter((k) => !(k in esm));
      console.log(JSON.stringify({ n: Object.keys(cjs).length, missing, same: esm.tensor === cjs.tensor && esm.SquisherError === cjs.SquisherError }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.missing).toEqual([]);
    expect(out.same).toBe(true);
    expect(out.n).toBeGreaterThan(50);
  });
  test('exports map: types first, then import and require, and package.json', () => {
    expect(Object.keys(pkg.exports['.'])).toEqual(['types', 'import', 'require']);
    for (const f of Object.values(pkg.exports['.']) as string[]) expect(fs.existsSync(path.join(root, f))).toBe(true);
    expect(pkg.exports['./package.json']).toBe('./package.json');
  });
});
