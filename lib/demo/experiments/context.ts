// What every experiment gets: the sizes, the library pieces, the data, and where to report progress.
import { DemoConfig } from '../config';
import { Dataset, DemoDeps } from '../deps';

export interface DemoProgress { stage: string; done: number; total: number; }

export interface Ctx {
  cfg: DemoConfig;
  /** Where models and data live ('cpu', 'cuda', ...). */
  device: string;
  deps: DemoDeps;
  train: Dataset;
  test: Dataset;
  progress(p: DemoProgress): void;
  signal?: AbortSignal;
}

/** A Fisher summed over M examples, rescaled to a sum over N (the Squisher's N·B·v scale). */
export function rescale(d: Map<string, import('../../tensor').Tensor>, factor: number): Map<string, import('../../tensor').Tensor> {
  if (factor === 1) return d;
  const out = new Map([...d].map(([k, v]) => [k, v.mul(factor)]));
  for (const v of d.values()) v.dispose();
  return out;
}
