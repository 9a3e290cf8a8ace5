// Issue 9 item 10: tidy() must keep every tensor its function returns, wherever it sits in the result:
// deep nesting, Sets, Maps (keys too), class instances, cycles; and walking the result must not
// overflow the stack.
import { tidy, zeros, dispose, Tensor } from '../../lib';

class Holder { constructor(public inner: { t: Tensor }, public list: Tensor[]) {} }

describe('tidy keeps returned tensors at any depth', () => {
  test('nested 10 levels deep in arrays and objects', () => {
    let leaf!: Tensor;
    const out = tidy(() => {
      leaf = zeros([2]).add(1);
      let v: unknown = leaf;
      for (let i = 0; i < 10; i++) v = i % 2 ? [v] : { v };
      return v;
    });
    expect(leaf.isDisposed).toBe(false);
    expect(leaf.toList()).toEqual([1, 1]);
    expect(out).toBeDefined();
  });
  test('inside a Set, a Map key, a class instance and a cycle; intermediates still go', () => {
    let tmp!: Tensor;
    const out = tidy(() => {
      tmp = zeros([1]).add(2);
      const cyc: any = { t: zeros([1]).add(3) };
      cyc.self = cyc;
      return {
        set: new Set([zeros([1]).add(4)]),
        map: new Map([[zeros([1]).add(5), 'key']]),
        holder: new Holder({ t: zeros([1]).add(6) }, [zeros([1]).add(7)]),
        cyc,
      };
    });
    expect(tmp.isDisposed).toBe(true);
    expect([...out.set][0].item()).toBe(4);
    expect([...out.map.keys()][0].item()).toBe(5);
    expect(out.holder.inner.t.item()).toBe(6);
    expect(out.holder.list[0].item()).toBe(7);
    expect(out.cyc.t.item()).toBe(3);
  });
  test('a 100,000-deep chain is walked without a stack overflow', () => {
    let leaf!: Tensor;
    tidy(() => {
      leaf = zeros([1]);
      let v: any = { leaf };
      for (let i = 0; i < 100_000; i++) v = { next: v };
      return v;
    });
    expect(leaf.isDisposed).toBe(false);
  });
  test('async tidy keeps a tensor returned inside a Set', async () => {
    const out = await tidy(async () => {
      await Promise.resolve();
      return new Set([zeros([1]).add(8)]);
    });
    expect([...out][0].item()).toBe(8);
  });
  test('dispose() reaches tensors in Sets and deep containers, and survives cycles', () => {
    const a = zeros([1]), b = zeros([1]);
    const c: any = [new Set([a]), { x: { y: { z: { w: [b] } } } }];
    c.push(c);
    dispose(c);
    expect(a.isDisposed && b.isDisposed).toBe(true);
  });
});
