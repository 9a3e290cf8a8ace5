// What every application takes: tensors by parameter name. A Fisher diagonal from any source (the
// Squisher, any exact variant, a file) is a Map<string, Tensor>; parameters come from a Module, a Map
// or [name, tensor] pairs. The checks here give errors that name the parameter, shape or dtype.
import { Module } from '../nn/module';
import { Tensor } from '../tensor/tensor';

export type NamedTensors = Map<string, Tensor>;
export type ParamsLike = Module | Map<string, Tensor> | [string, Tensor][];

/** The parameters of a Module (in PyTorch order), or the given Map / pairs, as a Map. */
export function namedTensors(p: ParamsLike): NamedTensors {
  if (p instanceof Module) return new Map(p.namedParameters());
  if (p instanceof Map) return p;
  if (Array.isArray(p)) return new Map(p);
  throw new TypeError('expected a Module, a Map of name -> Tensor, or [name, Tensor] pairs');
}

const FLOATS = new Set(['float32', 'float64', 'float16', 'bfloat16']);
export function isFloat(t: Tensor): boolean { return FLOATS.has(t.dtype); }

/** Throws unless `other` has a tensor of the same shape for `name`; returns it. */
export function matching(what: string, other: NamedTensors, name: string, like: Tensor): Tensor {
  const t = other.get(name);
  if (!t) throw new Error(`${what}: no tensor for parameter '${name}'`);
  if (t.shape.join(',') !== like.shape.join(',')) {
    throw new Error(`${what}: '${name}' has shape [${t.shape}] but the parameter has shape [${like.shape}]`);
  }
  return t;
}

export function checkFraction(what: string, v: number, { open = false } = {}): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1 || (open && (v === 0 || v === 1))) {
    throw new RangeError(`${what} must be a number in ${open ? '(0, 1)' : '[0, 1]'}, got ${v}`);
  }
}
