// `squisher merge --fisher` whose Fisher names match none of the models' tensors (e.g. 'module.'-prefixed
// names from a DataParallel run) used to exit 0 having written a plain average. It must fail, non-zero,
// and write nothing.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { loadSafetensors, saveSafetensors } from '../../lib/io';
import { fixture, tmpDir } from '../helpers/oracle';

const dir = tmpDir('squisher-merge-names-');
const CLI = path.resolve(__dirname, '../../dist/cli/main.js');

test('Fisher files whose names match nothing: exit non-zero, nothing written', () => {
  const renamed = [0, 1].map((i) => {
    const f = loadSafetensors(fixture(`apps_cli/f${i}.safetensors`));
    const out = path.join(dir, `g${i}.safetensors`);
    saveSafetensors(out, new Map([...f].map(([k, t]) => [`module.${k}`, t])));
    for (const t of f.values()) t.dispose();
    return out;
  });
  const out = path.join(dir, 'merged.safetensors');
  const r = spawnSync(process.execPath, [CLI, 'merge', fixture('apps_cli/m0.safetensors'), fixture('apps_cli/m1.safetensors'),
    '--fisher', ...renamed, '--out', out], { encoding: 'utf8', timeout: 120_000 });
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/g0\.safetensors: no Fisher tensor name matches the models' tensors/);
  expect(fs.existsSync(out)).toBe(false);
  // The same files with the models' names merge (the refusal is about the names, not the files).
  const ok = spawnSync(process.execPath, [CLI, 'merge', fixture('apps_cli/m0.safetensors'), fixture('apps_cli/m1.safetensors'),
    '--fisher', fixture('apps_cli/f0.safetensors'), fixture('apps_cli/f1.safetensors'), '--out', out], { encoding: 'utf8', timeout: 120_000 });
  expect(ok.status).toBe(0);
  expect(fs.existsSync(out)).toBe(true);
});
