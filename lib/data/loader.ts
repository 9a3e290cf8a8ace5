// Mini-batches over in-memory tensors, like torch.utils.data.DataLoader over a TensorDataset: batch size,
// seeded shuffling (a new permutation each epoch, reproducible from the seed), drop-last. Batches are
// views (narrow) when not shuffled and gathered copies (index_select) when shuffled; they belong to the
// caller's tidy() scope, so wrap each training step in tidy().
import { Tensor } from '../tensor/tensor';
import { tensor } from '../tensor/create';
import { OptionError, ShapeError } from '../errors';
import { checkOptions, optionKeys } from '../options';

/** Inputs and targets with the same first dimension. */
export interface TensorData { x: Tensor; y: Tensor; }
export interface Batch extends TensorData { /** Position of the batch in the epoch. */ index: number; }

export interface LoaderOptions {
  batchSize: number;
  /** Shuffle each epoch (default false). */
  shuffle?: boolean;
  /** Seed of the shuffling (default 0): the same seed gives the same batches. */
  seed?: number;
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
}
const LOADER_OPTIONS = optionKeys<LoaderOptions>('DataLoader', { batchSize: true, shuffle: true, seed: true, dropLast: true });

/** SplitMix32-seeded xoshiro128**: a small, well-tested PRNG; deterministic across platforms. */
export function seededRandom(seed: number): () => number {
  let z = (seed >>> 0) ^ 0x9e3779b9;
  const split = () => {
    z = (z + 0x9e3779b9) >>> 0;
    let t = z;
    t = Math.imul(t ^ (t >>> 16), 0x85ebca6b) >>> 0;
    t = Math.imul(t ^ (t >>> 13), 0xc2b2ae35) >>> 0;
    return (t ^ (t >>> 16)) >>> 0;
  };
  let a = split(), b = split(), c = split(), d = split();
  return () => {
    const r = Math.imul(((Math.imul(b, 5) << 7) | (Math.imul(b, 5) >>> 25)), 9) >>> 0;
    const t = b << 9;
    c ^= a; d ^= b; b ^= c; a ^= d; c ^= t;
    d = (d << 11) | (d >>> 21);
    return r / 4294967296;
  };
}

/** A permutation of 0..n-1 (Fisher-Yates) from `seed`. */
export function permutation(n: number, seed: number): Int32Array {
  const rand = seededRandom(seed);
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i]; p[i] = p[j]; p[j] = t;
  }
  return p;
}

export class DataLoader implements Iterable<Batch> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  /** How many epochs were iterated so far (the next epoch's permutation depends on it). */
  epoch = 0;

  constructor(readonly data: TensorData, o: LoaderOptions) {
    checkOptions('DataLoader', o, LOADER_OPTIONS);
    const n = data.x.shape[0];
    if (data.x.ndim === 0 || data.y.ndim === 0) throw new ShapeError('DataLoader: x and y need a first (sample) dimension');
    if (data.y.shape[0] !== n) throw new ShapeError(`DataLoader: x has ${n} samples but y has ${data.y.shape[0]}`);
    if (!(Number.isInteger(o.batchSize) && o.batchSize > 0)) throw new OptionError(`DataLoader: batchSize must be a positive integer, got ${o.batchSize}`);
    this.batchSize = o.batchSize;
    this.shuffle = !!o.shuffle;
    this.seed = o.seed ?? 0;
    this.dropLast = !!o.dropLast;
  }

  get size(): number { return this.data.x.shape[0]; }
  /** Batches per epoch (len(DataLoader)). */
  get length(): number { return this.dropLast ? Math.floor(this.size / this.batchSize) : Math.ceil(this.size / this.batchSize); }

  /** The sample order of epoch `e` (identity without shuffling). */
  order(e: number): Int32Array {
    if (!this.shuffle) return Int32Array.from({ length: this.size }, (_, i) => i);
    // one stream per (seed, epoch): epochs differ, and epoch e is reproducible on its own
    return permutation(this.size, (Math.imul(this.seed, 0x9e3779b1) + e) >>> 0);
  }

  /** Iterates the batches of epoch `e`. */
  *batches(e: number): Generator<Batch> {
    const n = this.size, bs = this.batchSize;
    const perm = this.shuffle ? tensor(BigInt64Array.from(this.order(e), (i) => BigInt(i)), { device: this.data.x.device }) : null;
    try {
      for (let b = 0; b < this.length; b++) {
        const s = b * bs, len = Math.min(bs, n - s);
        if (perm) {
          const idx = perm.narrow(0, s, len);
          const batch = { x: this.data.x.indexSelect(0, idx), y: this.data.y.indexSelect(0, idx), index: b };
          idx.dispose();
          yield batch;
        } else yield { x: this.data.x.narrow(0, s, len), y: this.data.y.narrow(0, s, len), index: b };
      }
    } finally {
      perm?.dispose();
    }
  }

  /** Iterates the next epoch (each for-of over the loader is one epoch, reshuffled). */
  [Symbol.iterator](): Iterator<Batch> { return this.batches(this.epoch++); }
}
