// Builds Tensors from the {dtype, shape, data|bits} JSON that scripts/fixtures/_common.py writes.
import { tensor, Tensor, DType } from '../../lib';

export function fromJson(j: { dtype: string; shape: number[]; data: any[]; bits?: number[] }): Tensor {
  const dtype = j.dtype as DType;
  if (j.bits) return tensor(Uint16Array.from(j.bits), { dtype, shape: j.shape });
  if (dtype === 'int64') return tensor(BigInt64Array.from(j.data.map((x: number) => BigInt(x))), { shape: j.shape });
  return tensor(j.data, { dtype, shape: j.shape });
}

export function stateFromJson(state: Record<string, any>): Map<string, Tensor> {
  return new Map(Object.entries(state).map(([k, v]) => [k, fromJson(v)]));
}

/** Largest |a - b| between two tensors of the same shape (as float64). */
export function maxDiff(a: Tensor, b: Tensor): number {
  if (a.shape.join() !== b.shape.join()) throw new Error(`shape mismatch [${a.shape}] vs [${b.shape}]`);
  return a.to('float64').sub(b.to('float64')).abs().max().item();
}
