// dispose/tidy semantics, and that tidy keeps memory flat over many allocations.
import { tidy, keep, zeros, randn, tensor, dispose, Tensor } from '../../lib';

describe('dispose and tidy', () => {
  test('dispose is idempotent', () => {
    const a = zeros([3]);
    a.dispose();
    a.dispose();
    expect(a.isDisposed).toBe(true);
  });
  test('tidy disposes intermediates, keeps returned values (nested in arrays/objects) and keep()', () => {
    let inner: Tensor | undefined;
    let kept: Tensor | undefined;
    const out = tidy(() => {
      inner = zeros([2]).add(1);
      kept = keep(zeros([1]));
      return { a: inner.mul(2), list: [zeros([1])] };
    });
    expect(inner!.isDisposed).toBe(true);
    expect(kept!.isDisposed).toBe(false);
    expect(out.a.toList()).toEqual([2, 2]);
    expect(out.list[0].isDisposed).toBe(false);
  });
  test('returned tensors move to the enclosing scope', () => {
    let escaped: Tensor | undefined;
    tidy(() => {
      escaped = tidy(() => zeros([1]));
      expect(escaped.isDisposed).toBe(false);
    });
    expect(escaped!.isDisposed).toBe(true);
  });
  test('tidy disposes on throw', () => {
    let t: Tensor | undefined;
    expect(() => tidy(() => { t = zeros([1]); throw new Error('boom'); })).toThrow('boom');
    expect(t!.isDisposed).toBe(true);
  });
  test('async tidy follows awaits and leaves concurrent work alone', async () => {
    const made: Tensor[] = [];
    let outside: Tensor | undefined;
    const p = tidy(async () => {
      made.push(zeros([1]));
      await new Promise((r) => setTimeout(r, 5));
      made.push(zeros([1]));
      return made[1].add(1);
    });
    outside = zeros([1]);  // created while the async scope is pending, outside it
    const r = await p;
    expect(made.every((t) => t.isDisposed)).toBe(true);
    expect(r.isDisposed).toBe(false);
    expect(outside.isDisposed).toBe(false);
  });
  test('dispose() takes containers', () => {
    const m = new Map([['a', zeros([1])]]);
    const o = { b: zeros([1]), c: [zeros([1])] };
    dispose([m, o]);
    expect(m.get('a')!.isDisposed && o.b.isDisposed && o.c[0].isDisposed).toBe(true);
  });
  // Node runs N-API finalizers from the event loop, so the loops yield to it as a server would.
  const tick = () => new Promise((r) => setImmediate(r));
  test('100,000 allocations inside tidy keep RSS flat', async () => {
    const round = () => tidy(() => {
      for (let i = 0; i < 1000; i++) randn([64, 64]).mul(2);  // 16 KiB each, ~32 MiB per round if leaked
    });
    // Warm-up: malloc arenas of libtorch's threads and the JS heap settle over the first ~50k allocations
    // (seen: +275 MB, then flat), so growth is measured over the 100k after that.
    for (let i = 0; i < 60; i++) { round(); await tick(); }
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 100; i++) { round(); await tick(); }
    const growth = process.memoryUsage().rss - before;
    // A leak would grow by ~3.2 GB (100k x 2 x 16 KiB); allow 96 MB of allocator/JS-heap noise.
    expect(growth).toBeLessThan(96 * 1024 * 1024);
  });
  test('without dispose, the finalizer frees memory after GC (external memory is reported to V8)', async () => {
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 2000; i++) {
      tensor(new Float32Array(256 * 1024));  // 1 MiB each, 2 GB in total if nothing were freed
      if (i % 50 === 0) await tick();
    }
    const growth = process.memoryUsage().rss - before;
    expect(growth).toBeLessThan(512 * 1024 * 1024);
  });
});
