// Shared by the fast-path rules: where they add their result, and chunking over samples so a rule that
// must form per-sample gradients of one layer (shared dims) keeps them under a fixed memory budget.
import { Tensor } from '../../tensor/tensor';
import { tidy } from '../../tensor/scope';

/**
 * The running sums Σ_n g_n² of one layer's parameters ('weight', 'bias'), added to in place: a rule
 * never holds a second parameter-sized result, so the fast path's extra memory stays at activations
 * plus one set of sums.
 */
export type Acc = Partial<Record<'weight' | 'bias', Tensor>>;

/** Bytes of per-sample gradients one rule may hold at once. */
export const CHUNK_BYTES = 64 * 2 ** 20;

/** Runs f(start, count) over sample chunks sized so count·bytesPerSample ≤ CHUNK_BYTES, each in its own scope. */
export function chunked(n: number, bytesPerSample: number, f: (start: number, count: number) => void): void {
  const step = Math.max(1, Math.floor(CHUNK_BYTES / Math.max(bytesPerSample, 1)));
  for (let s = 0; s < n; s += step) tidy(() => f(s, Math.min(step, n - s)));
}
