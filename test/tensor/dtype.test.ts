// Every dtype round trip, values compared with what Python torch produced (16-bit floats bit for bit).
import { tensor, DType, Tensor, callOp } from '../../lib';
import { fixtureJson } from '../helpers/oracle';

const ref = fixtureJson('tensor_dtypes.json');

describe('dtype round trips against Python torch', () => {
  for (const name of ['float32', 'float64', 'float16', 'bfloat16'] as DType[]) {
    test(`${name}: numbers in, same rounded values (and bits) out`, () => {
      const src = tensor(ref.float64 ? ref.float64.data : [], { dtype: 'float64' });
      const t = src.to(name);
      expect(t.dtype).toBe(name);
      expect(t.shape).toEqual(ref[name].shape);
      if (ref[name].bits) {
        expect(Array.from(t.toArray() as Uint16Array)).toEqual(ref[name].bits);
        // and back: bits in, same bits out
        const again = tensor(Uint16Array.from(ref[name].bits), { dtype: name });
        expect(Array.from(again.toArray() as Uint16Array)).toEqual(ref[name].bits);
        expect(Array.from(again.to('float64').toArray() as Float64Array)).toEqual(ref[name].data);
      } else {
        expect(Array.from(t.to('float64').toArray() as Float64Array)).toEqual(ref[name].data);
      }
    });
  }
  for (const name of ['int8', 'uint8', 'int16', 'int32', 'int64'] as DType[]) {
    test(`${name}: integer wrap-around matches torch`, () => {
      const t = tensor(BigInt64Array.from([0, 1, -1, 127, -128, 255, 100, -100].map(BigInt))).to(name);
      expect(t.dtype).toBe(name);
      const got = Array.from(t.toArray() as any, (x: any) => Number(x));
      expect(got).toEqual(ref[name].data);
      expect(t.toList()).toEqual(ref[name].data);
    });
  }
  test('bool', () => {
    const t = tensor([true, false, true, true]);
    expect(t.dtype).toBe('bool');
    expect(t.toList()).toEqual(ref.bool.data);
  });
  test('int64 holds values beyond 2^53 exactly as BigInt', () => {
    const big = BigInt64Array.from([9007199254740993n, -9223372036854775808n]);
    expect(Array.from(tensor(big).toArray() as BigInt64Array)).toEqual(Array.from(big));
  });
  test('Node Buffers and DataView-free typed arrays with offsets', () => {
    const buf = Buffer.alloc(16);
    buf.writeFloatLE(1.5, 4);
    const view = new Float32Array(buf.buffer, buf.byteOffset + 4, 2);
    expect(Array.from(tensor(view).toArray() as Float32Array)).toEqual([1.5, 0]);
    const b = tensor(new Float32Array([1, 2, 3, 4]), { shape: [2, 2] }).toBuffer();
    expect(b.readFloatLE(12)).toBe(4);
  });
  test('copyTo/copyFrom move bytes into existing memory and check sizes', () => {
    const t = tensor([[1, 2], [3, 4]]);
    const dst = new Float32Array(4);
    t.t().copyTo(dst);  // non-contiguous source: row-major order of the transposed view
    expect(Array.from(dst)).toEqual([1, 3, 2, 4]);
    t.copyFrom(new Float32Array([5, 6, 7, 8]));
    expect(t.toList()).toEqual([[5, 6], [7, 8]]);
    expect(() => t.copyFrom(new Float32Array(3))).toThrow(/tensor has 16 bytes, the source 12/);
    expect(() => t.copyTo(new Float64Array(4))).toThrow(/tensor has 16 bytes, the destination 32/);
  });
  test('complex64 round trip', () => {
    const re = tensor([1, 2]);
    const im = tensor([3, -4]);
    const c: Tensor = callOp('aten::complex', '', re, im);
    expect(c.dtype).toBe('complex64');
    expect(Array.from(c.toArray() as Float32Array)).toEqual([1, 3, 2, -4]);
  });
});

describe('ops agree with Python torch', () => {
  const o = ref.ops;
  const x = tensor(o.x.data, { shape: o.x.shape });
  const y = tensor(o.y.data, { shape: o.y.shape });
  const close = (t: Tensor, r: any) => {
    expect(t.shape).toEqual(r.shape);
    const got = Array.from(t.to('float64').toArray() as Float64Array);
    got.forEach((g, i) => expect(g).toBeCloseTo(r.data[i], 5));
  };
  test('elementwise', () => {
    close(x.add(y), o.add); close(x.mul(y), o.mul); close(x.div(y), o.div);
    close(x.abs().pow(1.5), o.pow); close(x.abs().sqrt(), o.sqrt);
  });
  test('reductions', () => {
    close(x.sum(0), o.sum0); close(x.mean(1), o.mean1); close(x.max(1).values, o.max1);
    close(x.var(), o.var); close(x.norm(), o.norm); close(x.softmax(1), o.softmax);
  });
  test('linear algebra, selection, shape', () => {
    close(x.matmul(y.t()), o.matmul);
    close(x.flatten().topk(3).values, o.topk);
    close(x.flatten().kthvalue(2).values, o.kth);
    close(x.where(x.gt(0), y), o.where);
    const { cat, stack } = require('../../lib');
    close(cat([x, y], 1), o.cat); close(stack([x, y]), o.stack);
    close(x.permute([1, 0]).contiguous(), o.permute);
    expect(x.permute([1, 0]).isContiguous()).toBe(false);
  });
  test('integer scalars keep integer dtypes, float scalars promote', () => {
    const i = tensor([1, 2, 3], { dtype: 'int64' });
    expect(i.add(1).dtype).toBe('int64');
    expect(i.mul(0.5).dtype).toBe('float32');
    expect(x.mul(2).dtype).toBe('float32');
  });
  test('slicing and indexing', () => {
    const a = tensor([[0, 1, 2, 3], [4, 5, 6, 7]]);
    expect(a.slice(1, 1, 3).toList()).toEqual([[1, 2], [5, 6]]);
    expect(a.select(0, 1).toList()).toEqual([4, 5, 6, 7]);
    expect(a.slice(1, undefined, undefined, 2).toList()).toEqual([[0, 2], [4, 6]]);
    expect(a.index([tensor([1, 0], { dtype: 'int64' })]).toList()).toEqual([[4, 5, 6, 7], [0, 1, 2, 3]]);
    expect(a.reshape([4, 2]).shape).toEqual([4, 2]);
  });
});
