// What the demo needs from the rest of the library, as a small interface: Adam (whose state is the
// Squisher), MNIST, the exact Fisher, and the comparison/plot of two diagonals. defaults.ts wires the real
// implementations; tests may pass their own.
import { Module } from '../nn/module';
import { Tensor } from '../tensor';

export interface AdamState { step: number | Tensor; exp_avg: Tensor; exp_avg_sq: Tensor; }
export interface AdamLike {
  step(): void;
  zeroGrad(): void;
  state(): Map<string, AdamState>;
}
export interface Dataset { x: Tensor; y: Tensor; }

export interface Comparison {
  pearson: number;
  spearman: number;
  /** Fraction of the top 1% / 10% entries of one that are in the other's. */
  top1: number;
  top10: number;
  relL2: number;
  scale: number;
}

export interface DemoDeps {
  adam(model: Module, lr: number): AdamLike;
  mnist(split: 'train' | 'test', limit: number): Dataset;
  /** The Squisher from Adam's state: N·B·v (summed-Fisher scale) or B·v (per-example mean scale). */
  squisher(opt: AdamLike, o: { batchSize: number; datasetSize: number; scale: 'sum' | 'mean' }): Map<string, Tensor>;
  /** Exact (expectation over classes) Fisher, summed over the examples ('sum') or their mean ('mean'). */
  fisher(model: Module, data: Dataset, o: { batchSize: number; reduction: 'sum' | 'mean'; signal?: AbortSignal }): Promise<Map<string, Tensor>>;
  compare(a: Map<string, Tensor>, b: Map<string, Tensor>): Comparison;
  /** Writes a log-log scatter plot of b against a (SVG). */
  plot(a: Map<string, Tensor>, b: Map<string, Tensor>, file: string, labels: { x: string; y: string; title: string }): void;
}
