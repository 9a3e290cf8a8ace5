// What an accumulator rule supplies: how to recognise an optimizer's squared-gradient state, the
// parameter shape one state entry implies (the id -> name mapping checks it), and the Fisher estimate
// E[ḡ²] it holds, scaled. ḡ is the gradient of the batch-MEAN loss for every optimizer here, so B·E[ḡ²]
// estimates the per-example (mean) Fisher and N·B·E[ḡ²] one summed over N examples.
import { Tensor } from '../../../tensor/tensor';
import { Entry, Group } from '../optimizer-state';

export interface TakeContext {
  /** B·N (or 1): the multiplier asked for. */
  multiplier: number;
  biasCorrection: boolean;
  useMax: boolean;
  /** The largest step over all parameters (Adam-like bias correction uses it, as before). */
  step: number;
}

export interface AccumulatorRule {
  /** 'adam', 'adagrad', 'rmsprop', 'adafactor'. */
  kind: string;
  /** The state key(s) read, for the metadata. */
  accumulator: string;
  /** What the raw accumulator is and what the output is (metadata and README). */
  convention: string;
  matches(keys: Set<string>, groups: Group[]): boolean;
  /** The shape of the parameter an entry belongs to, or null when the entry has no accumulator. */
  paramShape(e: Entry, useMax: boolean): number[] | null;
  /** The decay of the running average (beta2, alpha) recorded in the metadata, if the rule has one. */
  decay?(groups: Group[]): number;
  /** A new tensor: the estimate times its factor; `factor` is that one double multiplier. */
  take(e: Entry, group: Group, name: string, ctx: TakeContext): { tensor: Tensor; factor: number; step: number };
}

export function stepOf(e: Entry): number {
  const s = e.get('step');
  if (s instanceof Tensor) return s.item();
  return Number(s ?? 0);
}

export function tensorOf(e: Entry, key: string): Tensor | null {
  const t = e.get(key);
  return t instanceof Tensor ? t : null;
}

/** One multiplication by a double, as PyTorch's `t * f`, so the result is bit-equal to Python's. */
export function times(t: Tensor, f: number): Tensor {
  return f === 1 ? t.detach().clone() : t.detach().mul(f);
}
