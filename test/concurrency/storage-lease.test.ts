// Issue 9 item 3: async work holds its inputs by storage, with reader/writer rules. While an async op
// reads a tensor, in-place writes to ANY tensor sharing its storage (views, detach(), copyFrom, copy_
// into a view, resize_, set_, in-place operators, requires_grad) are refused with a BusyError; while
// an async op writes a tensor, reads of its storage are refused too. Everything works again once the
// op settles, and the async result is what it would have been without the refused writes.
import { callOp, callOpAsync, randn, zeros, tensor, BusyError, Tensor } from '../../lib';
import { runNode, describeChild } from '../helpers/child';

describe('the issue\'s repro, in a child process (it was a SIGSEGV)', () => {
  test('matmulAsync(a) then resize_ of a.detach() is refused, the result is right, the process lives', () => {
    const r = runNode(`
      const a = sq.randn([600, 600]);
      const want = a.matmul(a).toArray();
      const p = a.matmulAsync(a);
      let refused = '';
      try { sq.callOp('aten::resize_', '', a.detach(), [5e7]); } catch (e) { refused = e.name + ': ' + e.message; }
      const got = (await p).toArray();
      let same = want.length === got.length;
      for (let i = 0; same && i < want.length; i++) same = want[i] === got[i];
      sq.callOp('aten::resize_', '', a.detach(), [10]);  // allowed once settled
      console.log(JSON.stringify({ refused, same }));
    `);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
    expect(out.refused).toMatch(/^BusyError: aten::resize_: argument 'self' shares memory with a tensor a pending async operation is reading/);
    expect(out.same).toBe(true);
  });
});

describe('a pending async READ refuses writes through any alias', () => {
  let a: Tensor;
  let p: Promise<Tensor>;
  let want: number[];
  beforeEach(() => {
    a = randn([300, 300]);
    want = Array.from(a.matmul(a).toArray() as Float32Array);
    p = a.matmulAsync(a);
  });
  afterEach(async () => {
    const got = Array.from((await p).toArray() as Float32Array);
    expect(got).toEqual(want);  // the refused writes did not reach the op
  });
  test.each<[string, (a: Tensor) => unknown]>([
    ['an in-place op on a view', (x) => x.narrow(0, 10, 5).fill_(1)],
    ['an in-place op on detach()', (x) => x.detach().add_(1)],
    ['copyFrom on detach()', (x) => x.detach().copyFrom(new Float32Array(300 * 300))],
    ['copy_ into a view', (x) => x.view([-1]).copy_(zeros([90000]))],
    ['resize_', (x) => callOp('aten::resize_', '', x.detach(), [7])],
    ['set_', (x) => callOp('aten::set_', 'source_Tensor', x.detach(), zeros([3]))],
    ['an out= argument', (x) => callOp('aten::mul', 'out', zeros([300, 300]), zeros([300, 300]), x.t())],
    ['a Tensor[] argument written in place', (x) => callOp('aten::_foreach_add_', 'Scalar', [zeros([1]), x.select(0, 1)], 1)],
    ['requires_grad_', (x) => x.detach().requiresGrad_(true)],
  ])('%s', (_, write) => {
    let err: unknown;
    try { write(a); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(BusyError);
    expect((err as Error).message).toMatch(/a pending async operation is reading/);
  });
  test('reads of the same memory are allowed (readers share)', async () => {
    expect(a.narrow(0, 0, 2).sum().item()).toBeCloseTo(a.clone().narrow(0, 0, 2).sum().item(), 3);
    const q: Tensor = await callOpAsync('aten::sum', '', a.detach());
    expect(q.numel).toBe(1);
  });
});

describe('a pending async WRITE refuses reads and writes through any alias', () => {
  test('reads, writes and a second async op on a view are refused until it settles', async () => {
    const a = zeros([400, 400]);
    const v = a.view([-1]);
    const p = callOpAsync('aten::add_', 'Scalar', a, 1);
    expect(() => v.sum()).toThrow(BusyError);
    expect(() => a.detach().toArray()).toThrow(/is being written by a pending async operation/);
    expect(() => v.item()).toThrow(BusyError);
    expect(() => a.detach().mul_(2)).toThrow(BusyError);
    await expect(callOpAsync('aten::sum', '', v)).rejects.toThrow(BusyError);
    await p;
    expect(v.sum().item()).toBe(400 * 400);
  });
  test('a Tensor[] input is leased element by element', async () => {
    const b = tensor([1, 2, 3]);
    const p = callOpAsync('aten::cat', '', [zeros([1000]), b]);
    expect(() => b.detach().zero_()).toThrow(BusyError);
    expect(((await p) as Tensor).narrow(0, 1000, 3).toList()).toEqual([1, 2, 3]);
    b.zero_();
  });
  test('a refused async op leaves nothing leased behind', async () => {
    const a = zeros([10]);
    const d = a.detach();
    const p = callOpAsync('aten::add_', 'Scalar', a, 1);
    await expect(callOpAsync('aten::mul_', 'Scalar', d, 2)).rejects.toThrow(BusyError);
    await p;
    a.mul_(3);
    expect(a.sum().item()).toBe(30);
  });
});
