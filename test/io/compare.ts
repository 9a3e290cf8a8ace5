// Compares a loaded JS checkpoint tree with the JSON description Python wrote of the same object
// (scripts/fixtures/checkpoints.py `describe`): types, key order and types, every tensor value, dtype,
// shape, strides, storage offset, storage sharing and requires_grad.
import { native } from '../../lib/native';
import { Tensor } from '../../lib/tensor';
import { OrderedDict, PyFloat, Tuple } from '../../lib/io';

export interface Ctx { storages: Map<number, string>; checkStrides: boolean }

export function newCtx(checkStrides = true): Ctx { return { storages: new Map(), checkStrides }; }

function fail(path: string, msg: string): never { throw new Error(`${path || '<root>'}: ${msg}`); }

export function compareTensor(t: unknown, d: any, path: string, ctx: Ctx): void {
  if (!(t instanceof Tensor)) fail(path, `expected a Tensor, got ${String(t)}`);
  const x = t as Tensor;
  if (x.dtype !== d.dtype) fail(path, `dtype ${x.dtype} != ${d.dtype}`);
  expect([path, x.shape]).toEqual([path, d.shape]);
  if (ctx.checkStrides && x.numel > 0) {
    expect([path, x.strides]).toEqual([path, d.stride]);
    expect([path, native.storageInfo(x.handle)[2]]).toEqual([path, d.offset]);
  }
  if (d.requires_grad !== undefined) expect([path, x.requiresGrad]).toEqual([path, d.requires_grad]);
  if (d.bits) expect([path, Array.from(x.toArray() as Uint16Array)]).toEqual([path, d.bits]);
  else if (d.exact) expect([path, Array.from(x.toArray() as BigInt64Array, String)]).toEqual([path, d.exact]);
  else if (d.dtype === 'bool') expect([path, x.toList() === undefined ? [] : (x.toList() as any[]).flat(Infinity)]).toEqual([path, d.data]);
  else expect([path, Array.from(x.toArray() as any, Number)]).toEqual([path, d.data]);
  // Storage sharing: tensors sharing a storage in Python share one here, and only those.
  if (d.storage !== null && d.storage !== undefined && ctx.checkStrides) {
    const key = native.storageInfo(x.handle)[0];
    const seen = ctx.storages.get(d.storage);
    if (seen === undefined) {
      for (const [, k] of ctx.storages) if (k === key) fail(path, 'shares a storage that Python did not share');
      ctx.storages.set(d.storage, key);
    } else if (seen !== key) fail(path, 'does not share the storage it shared in Python');
  }
}

export function compareValue(v: unknown, d: any, path: string, ctx: Ctx): void {
  switch (d.type) {
    case 'tensor': return compareTensor(v, d, path, ctx);
    case 'odict':
    case 'dict': {
      if (!(v instanceof Map)) fail(path, `expected a Map, got ${String(v)}`);
      if (d.type === 'odict' && !(v instanceof OrderedDict)) fail(path, 'expected an OrderedDict');
      if (d.type === 'dict' && v instanceof OrderedDict) fail(path, 'expected a plain dict, got an OrderedDict');
      const keys = [...(v as Map<unknown, unknown>).keys()];
      expect([path, keys.length]).toEqual([path, d.items.length]);
      d.items.forEach(([kd, vd]: [any, any], i: number) => {
        compareValue(keys[i], kd, `${path}{key ${i}}`, ctx);
        compareValue((v as Map<unknown, unknown>).get(keys[i]), vd, path ? `${path}.${String(keys[i])}` : String(keys[i]), ctx);
      });
      return;
    }
    case 'list':
    case 'tuple':
      if (!Array.isArray(v)) fail(path, `expected an array, got ${String(v)}`);
      if ((d.type === 'tuple') !== (v instanceof Tuple)) fail(path, `expected a ${d.type}`);
      expect([path, v.length]).toEqual([path, d.items.length]);
      d.items.forEach((x: any, i: number) => compareValue(v[i], x, `${path}[${i}]`, ctx));
      return;
    case 'int':
      if (typeof d.value === 'string') expect([path, String(v)]).toEqual([path, d.value]);
      else expect([path, v]).toEqual([path, d.value]);
      return;
    case 'float': expect([path, v instanceof PyFloat ? v.value : v]).toEqual([path, d.value]); return;
    case 'str': case 'bool': expect([path, v]).toEqual([path, d.value]); return;
    case 'none': expect([path, v]).toEqual([path, null]); return;
    case 'set': expect([path, [...(v as Set<number>)].sort()]).toEqual([path, d.items]); return;
    case 'bytes': expect([path, Array.from(v as Buffer)]).toEqual([path, d.value]); return;
    default: fail(path, `unknown description type ${d.type}`);
  }
}
