// memory(): live tensors and bytes per device, views counted once; and the sync-loop case from the
// issue (5,000 forward() calls without disposal) is loud: either memory stays under 2x the working set or
// a one-time warning names tidy.
import { spawnSync } from 'child_process';
import * as path from 'path';
import { memory, setMemoryWarning, tensor, zeros, tidy, ScriptModule, Tensor } from '../../lib';
import { python, tmpDir } from '../helpers/oracle';

// The warnings squisher emitted while fn ran ('warning' events, captured instead of printed).
function warningsDuring(fn: () => void): Promise<{ message: string; code?: string }[]> {
  const seen: { message: string; code?: string }[] = [];
  const others = process.listeners('warning');
  process.removeAllListeners('warning');
  const mine = (w: Error & { code?: string }) => { seen.push({ message: w.message, code: w.code }); };
  process.on('warning', mine);
  try { fn(); } finally {
    process.removeListener('warning', mine);
    for (const l of others) process.on('warning', l);
  }
  return Promise.resolve(seen);
}

describe('memory()', () => {
  test('counts live tensors and distinct storage bytes per device; dispose and tidy take them away', () => {
    const m0 = memory();
    const a = zeros([1000], { dtype: 'float32' });
    const b = tensor([1, 2, 3], { dtype: 'float64' });
    const view = a.slice(0, 0, 10);   // a view of a's storage: one more tensor, no more bytes
    const m1 = memory();
    expect(m1.numTensors - m0.numTensors).toBe(3);
    expect(m1.numBytes - m0.numBytes).toBe(4000 + 24);
    expect(m1.numDataBuffers - m0.numDataBuffers).toBe(2);
    // The same numbers as the tensors report themselves.
    expect(a.nbytes + b.nbytes).toBe(4000 + 24);
    expect(m1.devices.cpu!.numTensors - (m0.devices.cpu?.numTensors ?? 0)).toBe(3);
    view.dispose(); b.dispose();
    const m2 = memory();
    expect(m2.numTensors - m0.numTensors).toBe(1);
    expect(m2.numBytes - m0.numBytes).toBe(4000);
    tidy(() => { a.add(1).mul(2); });
    expect(memory().numTensors - m0.numTensors).toBe(1);
    a.dispose();
    expect(memory()).toEqual(m0);
  });

  describe('5,000 synchronous forward() calls', () => {
    let model: ScriptModule;
    beforeAll(() => {
      const file = path.join(tmpDir(), 'wide.pt');
      // Each forward returns a [256, 256] float32 tensor (256 KiB): 5,000 of them are 1.25 GiB.
      python(`import torch, json, sys
torch.manual_seed(0)
torch.jit.script(torch.nn.Linear(64, 256)).save(sys.argv[1])
print(json.dumps(1))`, [file]);
      model = ScriptModule.load(file);
    });
    afterEach(() => setMemoryWarning(1024 ** 3));

    test('with tidy per call: memory stays at the working set and nothing warns', async () => {
      setMemoryWarning(1024 ** 3);
      const x = zeros([256, 64]);
      const before = memory().numBytes;
      let peak = 0;
      const warnings = await warningsDuring(() => {
        for (let i = 0; i < 5000; i++) {
          tidy(() => { model.forward<Tensor>(x).sum().item(); });
          if (i % 500 === 0) peak = Math.max(peak, memory().numBytes);
        }
      });
      expect(peak).toBe(before);
      expect(warnings.filter((w) => w.code === 'SQUISHER_LIVE_TENSORS')).toEqual([]);
      x.dispose();
    });

    test('without disposal: stays under 2x the working set, or warns once, naming tidy', async () => {
      const x = zeros([256, 64]);
      const working = memory().numBytes + 256 * 256 * 4;   // the model, its input, and one output
      let peak = 0;
      const warnings = await warningsDuring(() => {
        for (let i = 0; i < 5000; i++) {
          model.forward(x);                                  // the result is dropped, as in the loop
          if (i % 128 === 0) peak = Math.max(peak, memory().numBytes);
        }
      });
      const ours = warnings.filter((w) => w.code === 'SQUISHER_LIVE_TENSORS');
      expect(peak < 2 * working || ours.length === 1).toBe(true);
      if (ours.length) expect(ours[0]!.message).toMatch(/live tensors hold .*tidy\(\(\) => \.\.\.\)/);
      // eslint-disable-next-line no-console
      console.log(`5,000 sync forward(): peak live ${(peak / 2 ** 20).toFixed(0)} MiB, working set ${(working / 2 ** 20).toFixed(1)} MiB, warnings ${ours.length}`);
      x.dispose();
    });
  });
});

// The sync-loop case in a fresh process, as a user meets it: Node's own warning listener prints to stderr,
// and the warning must show while the loop runs (process.emitWarning would defer it to a tick the loop never
// reaches), exactly once, naming tidy. A tidy() loop first, which must stay silent and at its working set.
describe('5,000 synchronous forward() calls of a small MLP, in a child process', () => {
  const dist = path.resolve(__dirname, '..', '..', 'dist');
  // in: [32, in]; Linear(in, hidden), ReLU, Linear(hidden, 10): three results per call, none disposed
  const child = (env: Record<string, string>, hidden: number, inF: number) => spawnSync(process.execPath, ['-e', `
const { nn, zeros, memory, tidy } = require(${JSON.stringify(dist)});
const model = new nn.Sequential(new nn.Linear(${inF}, ${hidden}), new nn.ReLU(), new nn.Linear(${hidden}, 10));
const x = zeros([32, ${inF}]);
const seen = [];
process.on('warning', (w) => { if (w.code === 'SQUISHER_LIVE_TENSORS') seen.push({ message: w.message, during: i }); });
let i = 0;
const start = memory();
let tidyPeak = 0;
for (; i < 5000; i++) { tidy(() => { model.forward(x); }); if (i % 500 === 0) tidyPeak = Math.max(tidyPeak, memory().numBytes); }
const afterTidy = { warnings: seen.length, memory: memory() };
const one = tidy(() => { const y = model.forward(x); return y; });
const working = memory().numBytes;   // the model, its input, one call's results
one.dispose();
let peak = 0;
for (i = 0; i < 5000; i++) { model.forward(x); if (i % 250 === 0) peak = Math.max(peak, memory().numBytes); }
console.log(JSON.stringify({ start, tidyPeak, afterTidy, working, peak, end: memory(), seen }));
`], { encoding: 'utf8', env: { ...process.env, ...env } });

  test('default threshold: the sync-loop trigger warns once, during the loop, naming tidy', () => {
    const env = { ...process.env } as Record<string, string>;
    delete env.SQUISHER_MEMORY_WARN_BYTES;
    const r = child(env, 128, 32);
    expect(r.status).toBe(0);
    const o = JSON.parse(r.stdout.trim().split('\n').pop()!);
    // with tidy: nothing left behind, nothing said
    expect(o.tidyPeak).toBe(o.start.numBytes);
    expect(o.afterTidy).toEqual({ warnings: 0, memory: o.start });
    // memory() by device: everything here is on the CPU
    expect(o.end.devices).toEqual({ cpu: { numTensors: o.end.numTensors, numBytes: o.end.numBytes, numDataBuffers: o.end.numDataBuffers } });
    // without: results pile up (finalizers wait for the event loop) far beyond twice the working set ...
    expect(o.peak).toBeGreaterThan(2 * o.working);
    // ... so it is loud: one warning, raised inside the loop, naming tidy, printed once by Node
    expect(o.seen).toHaveLength(1);
    expect(o.seen[0].during).toBeLessThan(5000);
    expect(o.seen[0].message).toMatch(/^\d+ live tensors hold \d+ MiB: \d+ more \(\d+ MiB\) than when this synchronous stretch began .*Wrap each iteration in tidy\(\(\) => \.\.\.\)/);
    expect(r.stderr.match(/\[SQUISHER_LIVE_TENSORS\] Warning: /g)).toHaveLength(1);
    // eslint-disable-next-line no-console
    console.log(`small MLP, 5,000 sync forward(): working set ${(o.working / 1024).toFixed(0)} KiB, peak live ${(o.peak / 2 ** 20).toFixed(0)} MiB, warned at call ${o.seen[0].during}`);
  });

  test('SQUISHER_MEMORY_WARN_BYTES=1048576: a tiny model passes 1 MiB and warns once, naming tidy; 0 turns it off', () => {
    const r = child({ SQUISHER_MEMORY_WARN_BYTES: '1048576' }, 8, 8);
    expect(r.status).toBe(0);
    const o = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(o.afterTidy.warnings).toBe(0);
    expect(o.seen).toHaveLength(1);
    expect(o.seen[0].message).toMatch(/^\d+ live tensors hold \d+ MiB\. .*tidy\(\(\) => \.\.\.\)/);
    expect(r.stderr.match(/\[SQUISHER_LIVE_TENSORS\]/g)).toHaveLength(1);
    const off = child({ SQUISHER_MEMORY_WARN_BYTES: '0' }, 128, 32);
    expect(off.status).toBe(0);
    expect(JSON.parse(off.stdout.trim().split('\n').pop()!).seen).toEqual([]);
    expect(off.stderr).not.toMatch(/SQUISHER_LIVE_TENSORS/);
  });
});
