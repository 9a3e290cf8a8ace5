// Sizes of the demo's runs. quick: under a minute on 2 CPU cores; full: a few minutes, closer to the paper.
export interface DemoConfig {
  name: 'quick' | 'full';
  hidden: number;
  batchSize: number;
  lr: number;
  /** Main run: training examples, epochs, test examples, examples the exact Fisher sums over. */
  trainN: number;
  epochs: number;
  testN: number;
  fisherN: number;
  sparsities: number[];
  /** Split MNIST (5 tasks of 2 digits): training examples per task, epochs per task, EWC λ. */
  ewcPerTask: number;
  ewcEpochs: number;
  ewcLambda: number;
  /** Merging: pre-training examples (all digits), fine-tuning examples per digit subset, epochs. */
  mergeBaseN: number;
  mergeFinetuneN: number;
  mergeEpochs: number;
  /** Fine-tuning learning rate (lower than pre-training, so both copies stay near the base, as merging assumes). */
  mergeLr: number;
  seed: number;
}

export const QUICK: DemoConfig = {
  name: 'quick', hidden: 256, batchSize: 64, lr: 1e-3,
  trainN: 20000, epochs: 1, testN: 10000, fisherN: 2000, sparsities: [0.5, 0.75, 0.9],
  ewcPerTask: 2000, ewcEpochs: 1, ewcLambda: 1000,
  mergeBaseN: 10000, mergeFinetuneN: 5000, mergeEpochs: 1, mergeLr: 1e-4, seed: 0,
};

export const FULL: DemoConfig = {
  name: 'full', hidden: 400, batchSize: 128, lr: 1e-3,
  trainN: 60000, epochs: 3, testN: 10000, fisherN: 10000, sparsities: [0.5, 0.75, 0.9],
  ewcPerTask: 12000, ewcEpochs: 2, ewcLambda: 1000,
  mergeBaseN: 30000, mergeFinetuneN: 15000, mergeEpochs: 2, mergeLr: 1e-4, seed: 0,
};
