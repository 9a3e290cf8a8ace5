// The reading-format options through the real CLI: --allow-global on inspect / convert / compare.
import * as fs from 'fs';
import * as path from 'path';
import { runCli, runCliOut } from '../helpers/cli';
import { fixture, python, tmpDir } from '../helpers/oracle';

const f = (n: string): string => fixture(path.join('formats', n));
const TIMM = ['--allow-global', 'argparse.Namespace', '--allow-global', 'numpy.core.multiarray.scalar', '--allow-global', 'numpy.dtype'];

describe('--allow-global', () => {
  test('inspect refuses a timm checkpoint by default, naming the flag; with it, lists the args object', async () => {
    await expect(runCli('inspect', f('timm_checkpoint.pth.tar'))).rejects.toThrow(/--allow-global argparse\.Namespace/);
    const out = await runCliOut('inspect', f('timm_checkpoint.pth.tar'), ...TIMM);
    expect(out).toMatch(/state_dict\.conv1\.weight\s+float32\s+\[64, 3, 7, 7\]/);
    expect(out).toMatch(/objects \(allowed globals, read as data\):\n {2}args: argparse\.Namespace/);
    expect(out).toMatch(/args = argparse\.Namespace\(model="resnet18"/);
  });

  test('convert takes the state_dict out of a timm checkpoint; Python reads the same weights', async () => {
    const out = path.join(tmpDir(), 'w.safetensors');
    const r = await runCli('convert', f('timm_checkpoint.pth.tar'), out, ...TIMM);
    expect(r.err).toMatch(/non-tensor values not written: epoch, arch, /);
    const same = python<boolean>(`import sys, json, argparse, numpy as np, torch
from safetensors.torch import load_file
with torch.serialization.safe_globals([argparse.Namespace, np._core.multiarray.scalar, np.dtype, type(np.dtype(np.float64))]):
    ck = torch.load(sys.argv[1], weights_only=True)
st = load_file(sys.argv[2])
print(json.dumps(all(torch.equal(st['state_dict.' + k], v) for k, v in ck['state_dict'].items())))`, [f('timm_checkpoint.pth.tar'), out]);
    expect(same).toBe(true);
  });

  test('a flag that does not cover the file still refuses, and no output is written', async () => {
    const out = path.join(tmpDir(), 'w.safetensors');
    await expect(runCli('convert', f('timm_checkpoint.pth.tar'), out, '--allow-global', 'argparse.Namespace'))
      .rejects.toThrow(/refused global 'numpy\._core\.multiarray\.scalar'/);
    expect(fs.existsSync(out)).toBe(false);
  });
});
