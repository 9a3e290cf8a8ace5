// The registered accumulator rules, tried in this order (Adafactor before Adam: its 1-d parameters
// also hold an exp_avg_sq). Anything else (SGD's momentum_buffer, ...) is refused by name.
import { AccumulatorRule } from './types';
import { adafactor } from './adafactor';
import { adam } from './adam';
import { adagrad } from './adagrad';
import { rmsprop } from './rmsprop';

export const ACCUMULATORS: AccumulatorRule[] = [adafactor, adam, adagrad, rmsprop];
export type { AccumulatorRule, TakeContext } from './types';
