// memory(): live tensors and bytes per device, views counted once; and the sync-loop case from the
// issue (5,000 forward() calls without disposal) is loud: either memory stays under 2x the working set or
// a one-time warning names tidy.
import * as path from 'path';
import { memory, setMemoryWarning, tensor, zeros, tidy, ScriptModule, Tensor } from '../../lib';
import { python, tmpDir } from '../helpers/oracle';

// The warnings squisher emitted while fn ran (process.emitWarning, captured instead of printed).
function warningsDuring(fn: () => void): Promise<{ message: string; code?: string }[]> {
  const seen: { message: string; code?: string }[] = [];
  const spy = jest.spyOn(process, 'emitWarning').mockImplementation(((w: string | Error, o?: { code?: string }) => {
    seen.push({ message: String(w), code: o?.code });
  }) as typeof process.emitWarning);
  try { fn(); } finally { spy.mockRestore(); }
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
      if (ours.length) expect(ours[0]!.message).toMatch(/live tensors hold .*GiB.*tidy\(\(\) => \.\.\.\)/);
      // eslint-disable-next-line no-console
      console.log(`5,000 sync forward(): peak live ${(peak / 2 ** 20).toFixed(0)} MiB, working set ${(working / 2 ** 20).toFixed(1)} MiB, warnings ${ours.length}`);
      x.dispose();
    });
  });
});
