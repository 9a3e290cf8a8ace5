// A build folder an earlier run left unusable is cleaned before the next build: the case is a
// configure that failed (missing headers), leaving CMakeCache.txt but no build.ninja.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const bd = require(path.resolve(__dirname, '..', '..', 'scripts', 'install', 'build-dir.js'));

let src: string; let build: string;
beforeEach(() => {
  src = fs.mkdtempSync(path.join(os.tmpdir(), 'sq-bd-'));
  build = path.join(src, 'build');
  fs.mkdirSync(path.join(build, 'CMakeFiles'), { recursive: true });
});
afterEach(() => { fs.rmSync(src, { recursive: true, force: true }); });

function cache(over: Record<string, string> = {}): void {
  const v = { CMAKE_HOME_DIRECTORY: src, CMAKE_CACHEFILE_DIR: build, CMAKE_GENERATOR: 'Ninja', Torch_DIR: '/t/share/cmake/Torch', ...over };
  fs.writeFileSync(path.join(build, 'CMakeCache.txt'), '# This is the CMakeCache file.\n' +
    `CMAKE_HOME_DIRECTORY:INTERNAL=${v.CMAKE_HOME_DIRECTORY}\nCMAKE_CACHEFILE_DIR:INTERNAL=${v.CMAKE_CACHEFILE_DIR}\n` +
    `CMAKE_GENERATOR:INTERNAL=${v.CMAKE_GENERATOR}\nTorch_DIR:PATH=${v.Torch_DIR}\n`);
}
const opts = { generator: 'Ninja', torchDir: '/t/share/cmake/Torch' };

describe('stale build folder', () => {
  test('a finished configure is reused', () => {
    cache(); fs.writeFileSync(path.join(build, 'build.ninja'), '');
    expect(bd.staleReason(build, { root: src, ...opts })).toBeNull();
  });
  test('no build folder at all is fine', () => {
    expect(bd.staleReason(path.join(src, 'nope'), { root: src, ...opts })).toBeNull();
  });
  test('a configure that stopped half way (CMakeCache.txt, no build.ninja) is stale', () => {
    cache();
    expect(bd.staleReason(build, { root: src, ...opts })).toBe('an earlier configure did not finish (no build.ninja)');
    bd.clean(build);
    expect(fs.existsSync(build)).toBe(false);
  });
  test('moved package, other generator, other libtorch, leftovers without a cache: each is stale and says why', () => {
    fs.writeFileSync(path.join(build, 'build.ninja'), '');
    cache({ CMAKE_HOME_DIRECTORY: '/old/place', CMAKE_CACHEFILE_DIR: '/old/place/build' });
    expect(bd.staleReason(build, { root: src, ...opts })).toMatch(/configured for the sources at \/old\/place/);
    cache({ CMAKE_CACHEFILE_DIR: '/old/place/build' });
    expect(bd.staleReason(build, { root: src, ...opts })).toMatch(/configured at \/old\/place\/build \(the package moved\)/);
    cache({ CMAKE_GENERATOR: 'Unix Makefiles' });
    expect(bd.staleReason(build, { root: src, ...opts })).toBe('it was configured with Unix Makefiles, this build uses Ninja');
    cache({ Torch_DIR: '/other/share/cmake/Torch' });
    expect(bd.staleReason(build, { root: src, ...opts })).toMatch(/against the libtorch at \/other/);
    fs.rmSync(path.join(build, 'CMakeCache.txt'));
    expect(bd.staleReason(build, { root: src, ...opts })).toMatch(/holds CMakeFiles, build\.ninja but no CMakeCache\.txt/);
  });
});
