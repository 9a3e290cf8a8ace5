// Every dtype torch.save and safetensors write (float8 e4m3fn/e5m2 and their fnuz variants, uint16/32/64),
// bit for bit both ways: files written by Python are read here with the bytes Python sees, and files
// written here are read by torch.load(weights_only=True) and the safetensors library with the same bytes.
import { createHash } from 'crypto';
import * as path from 'path';
import { CheckpointError, load, loadSafetensors, save, saveSafetensors } from '../../lib/io';
import { native } from '../../lib/native';
import { Tensor, tensor } from '../../lib/tensor';
import { fixture, fixtureJson, python, tmpDir } from '../helpers/oracle';

const want = fixtureJson<Record<string, { dtype: string; shape: number[]; sha256: string; hex: string | null }>>('formats_dtypes.json');
const f = (n: string): string => fixture(path.join('formats', n));
const sha = (t: Tensor): string => createHash('sha256').update(t.toBuffer()).digest('hex');

function expectSame(got: Map<string, Tensor>, keys = Object.keys(want)): void {
  for (const k of keys) {
    const t = got.get(k);
    expect([k, t?.dtype, t?.shape]).toEqual([k, want[k].dtype, want[k].shape]);
    expect([k, sha(t!)]).toEqual([k, want[k].sha256]);
  }
}

test('the fixture covers every new dtype this libtorch has', () => {
  for (const d of ['float8_e4m3fn', 'float8_e5m2', 'float8_e4m3fnuz', 'float8_e5m2fnuz', 'uint16', 'uint32', 'uint64']) {
    expect(Object.keys(want)).toContain(d);
  }
});

describe('torch.save files (untyped storages + _rebuild_tensor_v3)', () => {
  test('Python writes, we read: dtype, shape and every byte', () => {
    const sd = load(f('dtypes.pt')) as Map<string, Tensor>;
    expectSame(sd);
    // a strided view keeps its strides (in elements of its dtype) and shares its base's storage
    for (const d of ['float8_e5m2', 'uint32']) {
      const base = sd.get(d)!, v = sd.get(`${d}.strided`)!;
      expect(v.strides).toEqual([6, 2]);
      expect(native.storageInfo(v.handle)[0]).toBe(native.storageInfo(base.handle)[0]);
    }
  });

  test('we write, Python reads with torch.load(weights_only=True): the same bytes, views still share', () => {
    const sd = load(f('dtypes.pt')) as Map<string, Tensor>;
    const out = path.join(tmpDir(), 'dtypes.pt');
    save(out, sd);
    const py = python<Record<string, any>>(`
import sys, json, hashlib, torch
sd = torch.load(sys.argv[1], weights_only=True)
def raw(t): return bytes(t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
print(json.dumps({k: {"dtype": str(v.dtype)[6:], "shape": list(v.shape), "sha256": hashlib.sha256(raw(v)).hexdigest(),
  "shares": v.untyped_storage().data_ptr() == sd[k.split(".")[0]].untyped_storage().data_ptr()} for k, v in sd.items()}))
`, [out]);
    for (const k of Object.keys(want)) {
      expect([k, py[k].dtype, py[k].shape, py[k].sha256]).toEqual([k, want[k].dtype, want[k].shape, want[k].sha256]);
      if (k.endsWith('.strided')) expect([k, py[k].shares]).toEqual([k, true]);
    }
  });
});

describe('safetensors (F8_E4M3, F8_E5M2, F8_E4M3FNUZ, F8_E5M2FNUZ, U16, U32, U64)', () => {
  test('Python writes, we read', () => {
    expectSame(loadSafetensors(f('dtypes.safetensors')));
  });
  test('we write, the safetensors library reads', () => {
    const sd = loadSafetensors(f('dtypes.safetensors'));
    const out = path.join(tmpDir(), 'dtypes.safetensors');
    saveSafetensors(out, sd);
    const py = python<Record<string, any>>(`
import sys, json, hashlib, torch
from safetensors.torch import load_file
sd = load_file(sys.argv[1])
print(json.dumps({k: [str(v.dtype)[6:], list(v.shape), hashlib.sha256(bytes(v.reshape(-1).view(torch.uint8).numpy().tobytes())).hexdigest()] for k, v in sd.items()}))
`, [out]);
    for (const k of Object.keys(want)) expect([k, ...py[k]]).toEqual([k, want[k].dtype, want[k].shape, want[k].sha256]);
  });
});

describe('tensor-level support', () => {
  test('toArray: float8 as Uint8Array bit patterns, uint16/32/64 as Uint16/Uint32/BigUint64 arrays', () => {
    const sd = load(f('dtypes.pt')) as Map<string, Tensor>;
    const e4 = sd.get('float8_e4m3fn')!.toArray();
    expect(e4).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(e4.buffer, e4.byteOffset, e4.byteLength).toString('hex')).toBe(want.float8_e4m3fn.hex);
    expect(sd.get('uint16')!.toArray()).toBeInstanceOf(Uint16Array);
    expect(sd.get('uint32')!.toArray()).toBeInstanceOf(Uint32Array);
    const u64 = sd.get('uint64.max')!.toArray();
    expect(u64).toBeInstanceOf(BigUint64Array);
    expect([...(u64 as BigUint64Array)]).toEqual([2n ** 64n - 1n, 2n ** 64n - 1n, 2n ** 64n - 1n]);
    expect(tensor(new Uint32Array([1, 2 ** 32 - 1])).dtype).toBe('uint32');
  });

  test('toList of float8 gives the values Python gives (.float().tolist())', () => {
    const sd = load(f('dtypes.pt')) as Map<string, Tensor>;
    const py = python<Record<string, (number | string)[]>>(`
import sys, json, math, torch
sd = torch.load(sys.argv[1], weights_only=True)
print(json.dumps({k: [x if math.isfinite(x) else str(x) for x in sd[k].float().tolist()] for k in sys.argv[2:]}))
`, [f('dtypes.pt'), 'float8_e4m3fn.all256', 'float8_e5m2.all256']);
    for (const [k, vals] of Object.entries(py)) {
      const got = (sd.get(k)!.toList() as number[]).map((x) => (Number.isFinite(x) ? x : String(x).toLowerCase().replace('infinity', 'inf')));
      expect([k, got]).toEqual([k, vals]);
    }
  });
});

describe('bad input', () => {
  test('a torch.save dtype nothing here holds (bits16) is refused by name', () => {
    expect(() => load(f('bits16.pt'))).toThrow(CheckpointError);
    expect(() => load(f('bits16.pt'))).toThrow(/bits16.*not supported/);
  });
  test('a safetensors dtype nothing here holds (F8_E8M0) is refused by name', () => {
    expect(() => loadSafetensors(f('e8m0.safetensors'))).toThrow(/tensor 'e'.*F8_E8M0.*not supported/);
  });
});
