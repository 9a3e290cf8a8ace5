// The argument trees the transforms accept: a Tensor, or arrays / Maps / plain objects of them (a
// parameter Map is the common case). Like torch.utils._pytree, but only for the shapes we use.
import { Tensor } from '../tensor/tensor';

export type TensorTree = Tensor | TensorTree[] | Map<string, TensorTree> | { [k: string]: TensorTree } | null | undefined | number | string | boolean;

/** Applies fn to every Tensor leaf, rebuilding the same structure; other leaves pass through. */
export function mapTree<R = unknown>(v: unknown, fn: (t: Tensor, path: string) => unknown, path = ''): R {
  // R is what the caller knows the rebuilt tree to be (fn may change the leaves' type): not checked.
  return mapAny(v, fn, path) as R;
}

function mapAny(v: unknown, fn: (t: Tensor, path: string) => unknown, path: string): unknown {
  if (v instanceof Tensor) return fn(v, path);
  if (Array.isArray(v)) return v.map((e, i) => mapAny(e, fn, `${path}[${i}]`));
  if (v instanceof Map) return new Map([...v].map(([k, e]) => [k, mapAny(e, fn, `${path}.${k}`)]));
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, mapAny(e, fn, `${path}.${k}`)]));
  }
  return v;
}

/** The Tensor leaves, in the order mapTree visits them. */
export function leaves(v: unknown): Tensor[] {
  const out: Tensor[] = [];
  mapTree(v, (t) => { out.push(t); return t; });
  return out;
}

/** Rebuilds v's structure with the leaves replaced, in order, by `values`. */
export function replaceLeaves<T>(v: T, values: Tensor[]): T {
  let i = 0;
  return mapTree<T>(v, () => values[i++]);
}
