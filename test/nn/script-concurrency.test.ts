// Issue 9 item 9: forwardAsync racing functionalCall on the same ScriptModule. An async forward runs on
// a snapshot of the module's attribute slots taken when it is called, so a functionalCall (which swaps
// parameters in and out on the JS thread) neither leaks its parameters into a forward in flight nor has
// to wait or be refused; in-place writes to the parameters a forward reads are refused (BusyError).
import { ScriptModule, functionalCall, randn, Tensor, BusyError, noGrad } from '../../lib';
import { fixture } from '../helpers/oracle';
import { maxDiff } from '../helpers/tensors';

describe('ScriptModule async forward vs attribute swaps', () => {
  const m = ScriptModule.load(fixture('mlp.jit.pt'));
  m.eval();
  const x = randn([3000, 20]);
  const y0: Tensor = m.forward(x);
  const swapped = new Map(m.namedParameters().map(([n, p]) => [n, p.mul(-1.5).add(0.25)]));
  const y1: Tensor = functionalCall(m, swapped, x);

  test('every forwardAsync sees the parameters it was called with; every functionalCall its own', async () => {
    expect(maxDiff(y0, y1)).toBeGreaterThan(0.1);  // the swap changes the output
    for (let round = 0; round < 12; round++) {
      const pending = [m.forwardAsync<Tensor>(x), m.forwardAsync<Tensor>(x)];
      const during: Tensor[] = [];
      for (let k = 0; k < 3; k++) during.push(functionalCall(m, swapped, x));
      const outs = await Promise.all(pending);
      for (const o of outs) expect(maxDiff(o, y0)).toBeLessThan(1e-6);
      for (const d of during) expect(maxDiff(d, y1)).toBeLessThan(1e-6);
    }
    expect(maxDiff(m.forward(x), y0)).toBe(0);  // the module's own parameters are back
  });
  test('a forwardAsync started inside functionalCall sees the swapped-in parameters', async () => {
    let p!: Promise<Tensor>;
    functionalCall(m, swapped, x);
    m.withTensors(swapped, () => { p = m.forwardAsync(x); });
    expect(maxDiff(await p, y1)).toBeLessThan(1e-6);
  });
  test('in-place writes to a parameter, and module.to, are refused while a forward reads them', async () => {
    const [, w] = m.namedParameters()[0];
    const p = m.forwardAsync<Tensor>(x);
    expect(() => noGrad(() => w.mul_(2))).toThrow(BusyError);
    expect(() => m.to('float64')).toThrow(BusyError);
    expect(maxDiff(await p, y0)).toBeLessThan(1e-6);
    noGrad(() => w.mul_(1));  // allowed again
  });
});
