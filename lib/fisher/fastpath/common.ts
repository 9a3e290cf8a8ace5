// Shared by the fast-path rules: the result type and chunking over samples so a rule that must form
// per-sample gradients of one layer (shared dims) keeps them under a fixed memory budget.
import { Tensor } from '../../tensor/tensor';

/** Σ_n g_n² per local parameter name ('weight', 'bias'). */
export type SumSq = Record<string, Tensor>;

/** Bytes of per-sample gradients one rule may hold at once. */
export const CHUNK_BYTES = 64 * 2 ** 20;

/** Sums f(start, count) over sample chunks sized so count·bytesPerSample ≤ CHUNK_BYTES. */
export function chunked(n: number, bytesPerSample: number, f: (start: number, count: number) => Tensor): Tensor {
  const step = Math.max(1, Math.floor(CHUNK_BYTES / Math.max(bytesPerSample, 1)));
  let acc: Tensor | null = null;
  for (let s = 0; s < n; s += step) {
    const part = f(s, Math.min(step, n - s));
    if (acc) { acc.add_(part); part.dispose(); } else acc = part;
  }
  return acc!;
}
