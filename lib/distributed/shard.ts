// Which examples each rank takes. Per-example sums (empirical, mc, exact) split the examples as PyTorch's
// DistributedSampler(shuffle=False) does, rank r taking indices r, r+W, r+2W, ... — but WITHOUT its
// padding: DistributedSampler repeats the first examples until N is a multiple of W, which would count
// them twice in a sum; here the first N mod W ranks simply take one example more. The 'batched' Fisher
// squares each mini-batch's gradient, so its unit is the batch: global batches of batchSize consecutive
// examples (the single-process batches), batch b to rank b mod W. An iterable of batches is split the
// same way, batch by batch. A folder of safetensors shards is read one file at a time.
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError, OptionError, ShapeError } from '../errors';
import { checkOptions, optionKeys } from '../options';
import { Batch, FisherData } from '../fisher/data';
import { inspectSafetensors, loadSafetensors } from '../io/safetensors';
import { arange, cat } from '../tensor';
import { Tensor } from '../tensor/tensor';

export interface ShardSpec { rank: number; worldSize: number; }

/** The example indices rank r takes out of n (DistributedSampler without shuffling or padding). */
export function exampleIndices(n: number, s: ShardSpec): number[] {
  const out: number[] = [];
  for (let i = s.rank; i < n; i += s.worldSize) out.push(i);
  return out;
}

/** The global batches [start, end) rank r takes: batch b (batchSize consecutive examples) goes to b mod W. */
export function batchRanges(n: number, batchSize: number, s: ShardSpec): [number, number][] {
  const out: [number, number][] = [];
  for (let b = s.rank, start = b * batchSize; start < n; b += s.worldSize, start = b * batchSize) {
    out.push([start, Math.min(start + batchSize, n)]);
  }
  return out;
}

/** A folder of safetensors files, each holding rows of 'x' and 'y', read in file-name order. */
export class SafetensorsFolder {
  readonly files: { file: string; rows: number; start: number }[];
  readonly total: number;
  /** The dtype of 'y' (the same in every file). */
  readonly yDtype: string;

  /** batchSize: rows per batch when the folder is iterated as a whole (single-process use). */
  constructor(readonly dir: string, readonly batchSize = 64) {
    let names: string[];
    try {
      names = fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort();
    } catch (e) {
      throw new CheckpointError(dir, `cannot list the data folder: ${(e as Error).message}`);
    }
    if (!names.length) throw new CheckpointError(dir, 'the data folder holds no .safetensors files');
    let start = 0;
    let rowShape: string | null = null;
    let yDtype = '';
    this.files = names.map((name) => {
      const file = path.join(dir, name);
      const h = inspectSafetensors(file);
      const x = h.tensors.find((t) => t.name === 'x'), y = h.tensors.find((t) => t.name === 'y');
      if (!x || !y) throw new CheckpointError(file, `needs tensors 'x' and 'y'; found ${h.tensors.map((t) => t.name).slice(0, 8).join(', ') || 'none'}`);
      if (!x.shape.length || !y.shape.length || x.shape[0] !== y.shape[0]) {
        throw new CheckpointError(file, `x [${x.shape}] and y [${y.shape}] must have the same number of rows`);
      }
      const shape = `${x.dtype} [${x.shape.slice(1)}] / ${y.dtype} [${y.shape.slice(1)}]`;
      if (rowShape !== null && shape !== rowShape) throw new CheckpointError(file, `rows are ${shape} but earlier files have ${rowShape}`);
      rowShape = shape;
      yDtype = y.dtype;
      const f = { file, rows: x.shape[0], start };
      start += f.rows;
      return f;
    });
    this.total = start;
    this.yDtype = yDtype;
  }

  private load(i: number): Batch {
    const m = loadSafetensors(this.files[i].file, { keys: ['x', 'y'] });
    return { x: m.get('x')!, y: m.get('y')! };
  }

  /** Rows [s, e) as one batch, from the one or more files they lie in (loaded one at a time). */
  private *ranges(ranges: [number, number][]): Generator<Batch> {
    let cur = -1;
    let data: Batch | null = null;
    try {
      for (const [s, e] of ranges) {
        const xs: Tensor[] = [], ys: Tensor[] = [];
        for (let i = 0; i < this.files.length; i++) {
          const f = this.files[i];
          const lo = Math.max(s, f.start), hi = Math.min(e, f.start + f.rows);
          if (lo >= hi) continue;
          if (cur !== i) {
            if (data) { data.x.dispose(); data.y.dispose(); }
            data = null;
            data = this.load(i);
            cur = i;
          }
          xs.push(data!.x.narrow(0, lo - f.start, hi - lo));
          ys.push(data!.y.narrow(0, lo - f.start, hi - lo));
        }
        yield xs.length === 1 ? { x: xs[0], y: ys[0] } : { x: cat(xs), y: cat(ys) };
      }
    } finally {
      if (data) { data.x.dispose(); data.y.dispose(); }
    }
  }

  /** Every row, in consecutive batches of this.batchSize (so the folder is FisherData itself). */
  [Symbol.iterator](): Iterator<Batch> { return this.batches(this.batchSize)[Symbol.iterator](); }

  /** All rows in consecutive batches (what a single process computes over). */
  batches(batchSize: number): Iterable<Batch> {
    return this.ranges(batchRanges(this.total, batchSize, { rank: 0, worldSize: 1 }));
  }

  /** This rank's examples (r, r+W, ... over the concatenated files), batchSize at a time, file by file. */
  *examples(batchSize: number, s: ShardSpec): Generator<Batch> {
    for (let i = 0; i < this.files.length; i++) {
      const f = this.files[i];
      const first = f.start + ((((s.rank - f.start) % s.worldSize) + s.worldSize) % s.worldSize);
      if (first >= f.start + f.rows) continue;
      const d = this.load(i);
      const idx = arange(first - f.start, f.rows, s.worldSize, { dtype: 'int64' });
      let x: Tensor, y: Tensor;
      try {
        x = d.x.indexSelect(0, idx);
        y = d.y.indexSelect(0, idx);
      } finally { idx.dispose(); d.x.dispose(); d.y.dispose(); }
      try {
        for (let b = 0; b < x.shape[0]; b += batchSize) {
          const len = Math.min(batchSize, x.shape[0] - b);
          yield { x: x.narrow(0, b, len), y: y.narrow(0, b, len) };
        }
      } finally { x.dispose(); y.dispose(); }
    }
  }

  /** This rank's global batches (for 'batched'). */
  shardBatches(batchSize: number, s: ShardSpec): Iterable<Batch> {
    return this.ranges(batchRanges(this.total, batchSize, s));
  }
}

export interface SafetensorsFolderOptions { /** Rows per batch when the folder is iterated as a whole (default 64). */ batchSize?: number; }
const FOLDER_OPTIONS = optionKeys<SafetensorsFolderOptions>('safetensorsFolder', { batchSize: true });

/** Opens a folder of safetensors data shards (files with 'x' and 'y', read in name order). */
export function safetensorsFolder(dir: string, o: SafetensorsFolderOptions = {}): SafetensorsFolder {
  checkOptions('safetensorsFolder', o, FOLDER_OPTIONS);
  return new SafetensorsFolder(dir, o.batchSize);
}

function isBatch(d: unknown): d is Batch {
  return typeof d === 'object' && d !== null && (d as Batch).x instanceof Tensor && (d as Batch).y instanceof Tensor;
}

/**
 * This rank's share of `data`, as data fisherDiagonal takes, plus the number of examples it holds when
 * known. byBatch: split whole global batches (the 'batched' variant) instead of examples.
 */
export function shardData(data: FisherData | SafetensorsFolder, batchSize: number, s: ShardSpec, byBatch: boolean): FisherData {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new OptionError(`batchSize must be a positive integer, got ${batchSize}`);
  if (data instanceof SafetensorsFolder) return byBatch ? data.shardBatches(batchSize, s) : data.examples(batchSize, s);
  if (isBatch(data)) {
    const n = data.x.shape[0];
    if (data.y.shape[0] !== n) throw new ShapeError(`data: x has ${n} rows but y has ${data.y.shape[0]}`);
    if (byBatch) {
      const { x, y } = data;
      return (function* () {
        for (const [s0, e] of batchRanges(n, batchSize, s)) yield { x: x.narrow(0, s0, e - s0), y: y.narrow(0, s0, e - s0) };
      })();
    }
    // Strided rows as one tensor pair: the engine slices them into batches as it would the whole set.
    const idx = arange(s.rank, Math.max(n, s.rank), s.worldSize, { dtype: 'int64', device: data.x.device });
    try {
      return { x: data.x.indexSelect(0, idx), y: data.y.indexSelect(0, idx.device === data.y.device ? idx : idx.to(data.y.device)) };
    } finally { idx.dispose(); }
  }
  if (data && (Symbol.iterator in (data as object) || Symbol.asyncIterator in (data as object))) {
    return (async function* () {
      let b = 0;
      for await (const batch of data as AsyncIterable<Batch>) {
        if (b++ % s.worldSize === s.rank) yield batch;
      }
    })();
  }
  throw new OptionError('data must be {x: Tensor, y: Tensor}, an iterable of such batches, or a SafetensorsFolder');
}
