// Grad-mode scopes restore the previous mode on return, on throw, and when refusing an async function.
import { noGrad, enableGrad, isGradEnabled, tensor } from '../../lib';

test('noGrad records nothing inside and restores the mode afterwards, also on throw', () => {
  const w = tensor([1, 2]).requiresGrad_();
  expect(noGrad(() => w.mul(2)).requiresGrad).toBe(false);
  expect(isGradEnabled()).toBe(true);
  expect(() => noGrad(() => { throw new Error('boom'); })).toThrow('boom');
  expect(isGradEnabled()).toBe(true);
  expect(noGrad(() => enableGrad(() => w.mul(2))).requiresGrad).toBe(true);
});

test('an async function is refused (grad mode is per thread, not per async context) and the mode restored', async () => {
  let p: Promise<void> | undefined;
  expect(() => noGrad(() => (p = (async () => undefined)()))).toThrow(/synchronous function/);
  await p;
  expect(isGradEnabled()).toBe(true);
});
