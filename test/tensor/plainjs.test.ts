// The compiled package (dist/, what `npm install` builds and `require('squisher')` loads) works from
// plain JavaScript, and the CLI entry point runs.
import { spawnSync } from 'child_process';
import * as path from 'path';

const root = path.resolve(__dirname, '..', '..');

test('require() of the compiled package from plain JS', () => {
  const code = `const sq = require(${JSON.stringify(path.join(root, 'dist'))});
    const t = sq.tidy(() => sq.tensor([1, 2, 3]).mul(2).sum());
    console.log(JSON.stringify({ v: t.item(), dtype: t.dtype, torch: sq.torchVersion }));`;
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toEqual({ v: 12, dtype: 'float32', torch: expect.stringMatching(/^2\./) });
});

test('squisher --help lists subcommands, each with its own --help', () => {
  const cli = path.join(root, 'dist', 'cli', 'main.js');
  const r = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  const names = [...r.stdout.matchAll(/^ {2}(\w+)/gm)].map((m) => m[1]).filter((n) => n !== 'help');
  expect(names).toContain('info');
  for (const n of names) {
    const sub = spawnSync(process.execPath, [cli, n, '--help'], { encoding: 'utf8' });
    expect(sub.status).toBe(0);
    expect(sub.stdout).toMatch(new RegExp(`Usage: squisher ${n}`));
  }
});
