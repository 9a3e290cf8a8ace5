// functorch's layer stack (thread-local in libtorch) and the guard every transform runs under: any
// exception pops exactly the layers pushed since the guard opened, so a throwing model never leaves a
// vmap or grad level behind to corrupt the next, unrelated, computation.
import { native } from '../native';
import { OptionError } from '../errors';

/** How many functorch layers (vmap or grad levels) are active on this thread. */
export function depth(): number { return native.functorchDepth(); }

/**
 * Runs fn with a new layer pushed by `push` (which returns the level), popping it afterwards. On error
 * the stack is reset to the depth it had on entry (also popping layers an inner transform leaked).
 */
export function withLayer<T>(push: () => number, fn: (level: number) => T): T {
  const before = native.functorchDepth();
  let level: number;
  try {
    level = push();
  } catch (e) {
    native.functorchResetDepth(before);
    throw e;
  }
  let ok = false;
  try {
    const r = fn(level);
    if (r instanceof Promise) throw new OptionError('functorch transforms take synchronous functions (the layer stack is per thread, not per async context)');
    ok = true;
    return r;
  } finally {
    if (ok && native.functorchDepth() === before + 1) native.decrementNesting();
    else native.functorchResetDepth(before);
  }
}

/** Runs fn with `setInplaceRequiresGradAllowed(on)`, restoring the previous value (Python's enable_inplace_requires_grad). */
export function withInplaceRequiresGrad<T>(on: boolean, fn: () => T): T {
  const prev = native.setInplaceRequiresGradAllowed(on);
  try { return fn(); } finally { native.setInplaceRequiresGradAllowed(prev); }
}
