// libtorch errors become JS Errors with libtorch's message; argument mistakes name the argument.
import { tensor, callOp, callOpAsync, zeros, Tensor, TorchError, BusyError } from '../../lib';

describe('errors', () => {
  test('a libtorch shape error is a catchable Error with its message', () => {
    const a = zeros([2, 3]);
    const b = zeros([4, 5]);
    expect(() => a.matmul(b)).toThrow(/cannot be multiplied|size mismatch|shapes/);
  });
  test('a libtorch error is a TorchError naming the operator, its message libtorch\'s first line', () => {
    let e: any;
    try { callOp('aten::mm', '', zeros([2, 3]), zeros([4, 5])); } catch (x) { e = x; }
    expect(e).toBeInstanceOf(TorchError);
    expect(e.op).toBe('aten::mm');
    expect(e.message.split('\n')[0]).toBe('mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)');
    expect(e.status).toBe(500);
  });
  test('the process survives many errors', () => {
    for (let i = 0; i < 1000; i++) expect(() => zeros([2]).view([3])).toThrow();
  });
  test('wrong argument types name the operator and argument', () => {
    expect(() => callOp('aten::add', 'Tensor', zeros([1]), 'x')).toThrow(/aten::add.Tensor: argument 'other' expects a Tensor, got string/);
    expect(() => callOp('aten::sum', 'dim_IntList', zeros([1]), [0.5])).toThrow(/argument 'dim'.*integer/);
    expect(() => callOp('aten::no_such_op', '')).toThrow(/no operator aten::no_such_op/);
    expect(() => callOp('aten::mm', '', zeros([1, 1]))).toThrow(/missing required argument 'mat2'/);
  });
  test('shape/byte-length mismatch names both', () => {
    expect(() => tensor(new Float32Array(3), { shape: [2, 2] })).toThrow(/needs 16 bytes, the data has 12/);
  });
  test('unknown dtypes and devices are named', () => {
    expect(() => zeros([1]).to('float8' as any)).toThrow();
    expect(() => zeros([1], { device: 'cuda:0' })).toThrow(/CUDA/);
    expect(() => zeros([1], { dtype: 'float128' as any })).toThrow(/unknown dtype 'float128'/);
  });
  test('native handles are type-tagged: a tensor passed where an op or module belongs is refused, not misread', () => {
    const { native } = require('../../lib/native');
    const t = zeros([1]);
    expect(() => native.callOp(t.handle, t.handle)).toThrow(/first argument must be an op handle/);
    expect(() => native.jitForward(t.handle, [])).toThrow(/expected a TorchScript module handle/);
    expect(() => native.toBuffer(native.findOp('aten::add', 'Tensor'))).toThrow(/expected a Tensor/);
  });
  test('using a disposed tensor throws', () => {
    const a = zeros([2]);
    a.dispose();
    expect(() => a.add(1)).toThrow(/disposed/);
  });
  test('item on a non-scalar names the element count', () => {
    expect(() => zeros([3]).item()).toThrow(/3 elements/);
  });
});

describe('async ops', () => {
  test('resolve with the same values as the sync op', async () => {
    const a = tensor([[1, 2], [3, 4]]);
    const r: Tensor = await a.matmulAsync(a);
    expect(r.toList()).toEqual(a.matmul(a).toList());
    const s: Tensor = await callOpAsync('aten::sum', '', a);
    expect(s.item()).toBe(10);
  });
  test('reject with libtorch\'s message', async () => {
    const e = await zeros([2, 3]).matmulAsync(zeros([5, 5])).catch((x) => x);
    expect(e).toBeInstanceOf(TorchError);
    expect(e.op).toBe('aten::matmul');
    expect(e.message).toMatch(/^mat1 and mat2 shapes cannot be multiplied \(2x3 and 5x5\)/);
  });
  test('an in-place change of a tensor an async op is writing is refused until it settles', async () => {
    const a = zeros([256, 256]);
    const p = callOpAsync('aten::add_', 'Scalar', a, 1);
    expect(() => a.mul_(2)).toThrow(BusyError);
    expect(() => a.mul_(2)).toThrow(/aten::mul_.Scalar: argument 'self' is being written by a pending async operation/);
    await p;
    a.mul_(2);
    expect(a.sum().item()).toBe(256 * 256 * 2);
  });
  test('inputs stay alive while the worker runs even if disposed meanwhile', async () => {
    const a = tensor([1, 2, 3]);
    const p = callOpAsync('aten::mul', 'Scalar', a, 2);
    a.dispose();
    expect(((await p) as Tensor).toList()).toEqual([2, 4, 6]);
  });
});
