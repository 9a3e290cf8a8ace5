// The argument trees the transforms accept: a Tensor, or arrays / Maps / plain objects of them (a
// parameter Map is the common case). Like torch.utils._pytree, but only for the shapes we use.
import { Tensor } from '../tensor/tensor';

export type TensorTree = Tensor | TensorTree[] | Map<string, TensorTree> | { [k: string]: TensorTree } | null | undefined | number | string | boolean;

/** Applies fn to every Tensor leaf, rebuilding the same structure; other leaves pass through. */
export function mapTree(v: any, fn: (t: Tensor, path: string) => unknown, path = ''): any {
  if (v instanceof Tensor) return fn(v, path);
  if (Array.isArray(v)) return v.map((e, i) => mapTree(e, fn, `${path}[${i}]`));
  if (v instanceof Map) return new Map([...v].map(([k, e]) => [k, mapTree(e, fn, `${path}.${k}`)]));
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, mapTree(e, fn, `${path}.${k}`)]));
  }
  return v;
}

/** The Tensor leaves, in the order mapTree visits them. */
export function leaves(v: any): Tensor[] {
  const out: Tensor[] = [];
  mapTree(v, (t) => { out.push(t); return t; });
  return out;
}

/** Rebuilds v's structure with the leaves replaced, in order, by `values`. */
export function replaceLeaves(v: any, values: Tensor[]): any {
  let i = 0;
  return mapTree(v, () => values[i++]);
}
