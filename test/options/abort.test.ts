// Long calls take an AbortSignal and report { done, total, phase }: an aborted signal rejects before any
// work; an abort mid-way rejects (with the signal's reason, or an AbortError naming the call) and leaves no
// tensor behind. Files are PyTorch's (fixtures written by torch.save / torch.jit.save / transformers).
import * as fs from 'fs';
import * as path from 'path';
import { AbortError, apps, BusyError, noGrad, tidy, loadAsync, memory, nn, OptionError, ScriptModule, ShardedCheckpoint, Tensor, tensor } from '../../lib';
import type { Progress } from '../../lib';
import { fixture } from '../helpers/oracle';

const stateDict = fixture(path.join('checkpoints', 'state_dict.pt'));
const bertSharded = fixture(path.join('formats', 'bert-st'));
const live = (): number => memory().numTensors;
/**
 * No tensor more than `before`. (Fewer is possible: a wrapper dropped without dispose() may be finalized
 * meanwhile; this file disposes what it makes so that the count stays put.)
 */
const noNewTensors = (before: number): void => expect(live()).toBeLessThanOrEqual(before);

/** The first parameter of a TorchScript module (the other handles namedParameters() made, disposed). */
function firstParam(m: ScriptModule): Tensor {
  const ps = m.namedParameters();
  for (const [, t] of ps.slice(1)) t.dispose();
  return ps[0][1];
}

function aborted(reason?: unknown): AbortSignal {
  const ac = new AbortController();
  ac.abort(reason);
  return ac.signal;
}

describe('loadAsync', () => {
  test('an aborted signal rejects before the file is even opened', async () => {
    // The file does not exist: a CheckpointError would mean the work had started.
    const e = await loadAsync('/nonexistent/x.pt', { signal: aborted() }).catch((x) => x);
    expect(e.name).toBe('AbortError');
    const mine = await loadAsync('/nonexistent/x.pt', { signal: aborted(new AbortError('stop')) }).catch((x) => x);
    expect(mine).toBeInstanceOf(AbortError);
    expect(mine.message).toBe('stop');
  });
  test('a torch.save file: progress per storage ({ done, total, phase: load }), the same values', async () => {
    const seen: Progress[] = [];
    const sd = await loadAsync(stateDict, { onProgress: (p) => seen.push({ ...p }) }) as Map<string, Tensor>;
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.map((p) => p.done)).toEqual(seen.map((_, i) => i + 1));
    expect(seen.every((p) => p.total === seen.length && p.phase === 'load')).toBe(true);
    expect(sd.size).toBeGreaterThan(1);
    for (const t of sd.values()) t.dispose();
  });
  test('a torch.save file: an abort after the first storage rejects, and every tensor read is freed', async () => {
    const before = live();
    const ac = new AbortController();
    const e = await loadAsync(stateDict, { signal: ac.signal, onProgress: (p) => { if (p.done === 1) ac.abort(); } }).catch((x) => x);
    expect(e.name).toBe('AbortError');
    noNewTensors(before);
  });
  test('an abort while a storage is being read rejects at once; the read\'s bytes are freed when it ends', async () => {
    const fds = (): number => fs.readdirSync('/proc/self/fd').length;
    const before = live(), openFiles = fds();
    const ac = new AbortController();
    const p = loadAsync(stateDict, { signal: ac.signal });  // the first storage read is on a worker now
    ac.abort();
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
    // The file is closed only after the read under way ends, and only after its bytes were dropped.
    for (let i = 0; i < 2000 && fds() !== openFiles; i++) await new Promise((r) => setTimeout(r, 5));
    expect(fds()).toBe(openFiles);
    noNewTensors(before);
  });
  test('a sharded checkpoint (transformers, safetensors shards): progress per tensor; an abort mid-way rejects, nothing kept', async () => {
    const before = live();
    const seen: Progress[] = [];
    const ac = new AbortController();
    const e = await loadAsync(bertSharded, {
      signal: ac.signal, onProgress: (p) => { seen.push({ ...p }); if (p.done === 5) ac.abort(new AbortError('enough')); },
    }).catch((x) => x);
    expect(e).toBeInstanceOf(AbortError);
    expect(e.message).toBe('enough');
    expect(seen.every((p) => p.phase === 'load' && p.total === seen[0].total && p.total! > 5)).toBe(true);
    noNewTensors(before);
  });
  test('ShardedCheckpoint.loadAllAsync reports the common shape with the tensor name', async () => {
    const ck = ShardedCheckpoint.open(bertSharded);
    try {
      const seen: string[] = [];
      const sd = await ck.loadAllAsync({ onProgress: (p) => seen.push(`${p.phase}:${p.done}/${p.total}:${p.name}`) });
      expect(seen[0]).toBe(`load:0/${ck.size}:${ck.keys()[0]}`);
      expect(seen[seen.length - 1]).toBe(`load:${ck.size}/${ck.size}:`);
      for (const t of sd.values()) t.dispose();
    } finally { ck.close(); }
  });
});

describe('ScriptModule.forwardAsync(...inputs, { signal })', () => {
  const x = tensor(new Float32Array(7 * 20).map((_, i) => Math.sin(i)), { shape: [7, 20] });
  test('an aborted signal rejects before the forward is scheduled', async () => {
    const m = ScriptModule.load(fixture('mlp.jit.pt'));
    const e = await m.forwardAsync(x, { signal: aborted() }).catch((err) => err);
    expect(e.name).toBe('AbortError');
    // A scheduled forward holds the parameters (an in-place write is a BusyError until it ends): none was.
    const w = firstParam(m);
    expect(() => noGrad(() => w.mul_(1))).not.toThrow();
    const pending = m.forwardAsync(x);
    expect(() => noGrad(() => w.mul_(1))).toThrow(BusyError);
    await pending;
  });
  test('an abort while the forward runs rejects at once; the forward\'s result is freed when it ends', async () => {
    const m = ScriptModule.load(fixture('mlp.jit.pt'));
    const want = await m.forwardAsync<Tensor>(x);
    const w = firstParam(m);
    const before = live();
    const ac = new AbortController();
    const p = m.forwardAsync<Tensor>(x, { signal: ac.signal });
    ac.abort(new Error('client went away'));
    await expect(p).rejects.toThrow('client went away');
    // The forward still runs; it holds the parameters until it ends (then its result is dropped at once).
    let busy = true;
    for (let i = 0; i < 2000 && busy; i++) {
      try { noGrad(() => w.mul_(1)); busy = false; } catch (e) {
        if (!(e instanceof BusyError)) throw e;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    expect(busy).toBe(false);
    noNewTensors(before);
    // A signal that never aborts changes nothing.
    const got = await m.forwardAsync<Tensor>(x, { signal: new AbortController().signal });
    expect(tidy(() => got.sub(want).abs().max().item())).toBe(0);
  });
  test('an options object with a mistyped key next to a signal is an OptionError, not a dict input', async () => {
    const m = ScriptModule.load(fixture('mlp.jit.pt'));
    await expect(m.forwardAsync(x, { sigal: new AbortController().signal })).rejects.toThrow(OptionError);
  });
});

describe('Laplace: the prior search and the sampled predictive', () => {
  const model = new nn.Sequential(new nn.Linear(4, 3));
  const fisher = new Map(model.namedParameters().map(([n, p]) => [n, tidy(() => p.detach().square().add(0.5))]));
  const inp = { fisher, params: model, logLikelihood: -3 };

  test('optimizePriorPrecision (marglik): progress per bisection step; abort mid-way; an aborted signal first', async () => {
    const seen: Progress[] = [];
    const best = await apps.optimizePriorPrecision(inp, { onProgress: (p) => seen.push({ ...p }) });
    expect(seen.length).toBeGreaterThan(10);
    expect(seen.map((p) => [p.done, p.total, p.phase])).toEqual(seen.map((_, i) => [i + 1, seen.length, 'prior']));
    // the maximiser: the derivative of the log marginal likelihood changes sign there
    const f = (d: number): number => apps.logMarginalLikelihood(inp, d);
    expect(f(best.priorPrecision)).toBeGreaterThanOrEqual(Math.max(f(best.priorPrecision * 1.01), f(best.priorPrecision / 1.01)));
    const ac = new AbortController();
    const e = await apps.optimizePriorPrecision(inp, { signal: ac.signal, onProgress: (p) => { if (p.done === 3) ac.abort(); } }).catch((x) => x);
    expect(e.name).toBe('AbortError');
    await expect(apps.optimizePriorPrecision(inp, { signal: aborted(new AbortError('no')) })).rejects.toThrow(/^no$/);
  });
  test('optimizePriorPrecision (grid): evaluate is not called after an abort', async () => {
    const ac = new AbortController();
    const evaluated: number[] = [];
    const e = await apps.optimizePriorPrecision(inp, {
      method: 'grid', grid: [0.1, 1, 10, 100], signal: ac.signal,
      evaluate: (d) => { evaluated.push(d); if (d === 1) ac.abort(); return d; },
    }).catch((x) => x);
    expect(e.name).toBe('AbortError');
    expect(evaluated).toEqual([0.1, 1]);
  });
  test('samplePredictiveAsync equals samplePredictive for the same seed; abort mid-way frees the partial sum', async () => {
    const variance = apps.posteriorVariance(fisher, 2);
    const xs = tensor([[1, 0, -1, 2], [0.5, 0.5, 0.5, 0.5]]);
    const sync = apps.samplePredictive(model, variance, xs, { samples: 5, seed: 7 });
    const seen: number[] = [];
    const async = await apps.samplePredictiveAsync(model, variance, xs, { samples: 5, seed: 7, onProgress: (p) => seen.push(p.done) });
    expect(tidy(() => async.sub(sync).abs().max().item())).toBe(0);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    const before = live();
    const ac = new AbortController();
    const e = await apps.samplePredictiveAsync(model, variance, xs, { samples: 5, signal: ac.signal, onProgress: (p) => { if (p.done === 2) ac.abort(); } })
      .catch((x) => x);
    expect(e.name).toBe('AbortError');
    noNewTensors(before);
    await expect(apps.samplePredictiveAsync(model, variance, xs, { signal: aborted() })).rejects.toMatchObject({ name: 'AbortError' });
  });
});
