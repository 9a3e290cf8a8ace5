// Fisher data: one {x, y} pair of tensors (sliced into batches) or any (async) iterable of batches.
import { Tensor } from '../tensor/tensor';
import { OptionError, ShapeError } from '../errors';

export interface Batch { x: Tensor; y: Tensor; }
export type FisherData = Batch | Iterable<Batch> | AsyncIterable<Batch>;

function isBatch(d: unknown): d is Batch {
  return typeof d === 'object' && d !== null && (d as Batch).x instanceof Tensor && (d as Batch).y instanceof Tensor;
}

/** The batches, and N when known in advance (for progress). */
export function batchesOf(data: FisherData, batchSize: number): { total: number | null; iter: AsyncIterable<Batch> | Iterable<Batch> } {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new OptionError(`batchSize must be a positive integer, got ${batchSize}`);
  if (isBatch(data)) {
    const n = data.x.shape[0];
    if (data.y.shape[0] !== n) throw new ShapeError(`data: x has ${n} rows but y has ${data.y.shape[0]}`);
    const { x, y } = data;
    return {
      total: n,
      iter: (function* () {
        for (let s = 0; s < n; s += batchSize) {
          const len = Math.min(batchSize, n - s);
          yield { x: x.narrow(0, s, len), y: y.narrow(0, s, len) };
        }
      })(),
    };
  }
  if (data && (Symbol.iterator in (data as object) || Symbol.asyncIterator in (data as object))) return { total: null, iter: data as Iterable<Batch> };
  throw new OptionError('data must be {x: Tensor, y: Tensor} or an iterable of such batches');
}
