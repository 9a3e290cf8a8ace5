// What every application takes: tensors by parameter name. A Fisher diagonal from any source (the
// Squisher, any exact variant, a file) is a Map<string, Tensor>; parameters come from a Module, a Map
// or [name, tensor] pairs. The checks here give errors that name the parameter, shape or dtype.
import { native } from '../native';
import { Module } from '../nn/module';
import { Tensor } from '../tensor/tensor';
import { OptionError, ShapeError } from '../errors';

export type NamedTensors = Map<string, Tensor>;
export type ParamsLike = Module | Map<string, Tensor> | [string, Tensor][];

/** The parameters of a Module (in PyTorch order), or the given Map / pairs, as a Map. */
export function namedTensors(p: ParamsLike): NamedTensors {
  if (p instanceof Module) return new Map(p.namedParameters());
  if (p instanceof Map) return p;
  if (Array.isArray(p)) return new Map(p);
  throw new OptionError('expected a Module, a Map of name -> Tensor, or [name, Tensor] pairs');
}

const FLOATS = new Set(['float32', 'float64', 'float16', 'bfloat16']);
export function isFloat(t: Tensor): boolean { return FLOATS.has(t.dtype); }

/** Throws unless `other` has a tensor of the same shape for `name`; returns it. */
export function matching(what: string, other: NamedTensors, name: string, like: Tensor): Tensor {
  const t = other.get(name);
  if (!t) throw new OptionError(`${what}: no tensor for parameter '${name}'`);
  if (t.shape.join(',') !== like.shape.join(',')) {
    throw new ShapeError(`${what}: '${name}' has shape [${t.shape}] but the parameter has shape [${like.shape}]`);
  }
  return t;
}

export function checkFraction(what: string, v: number, { open = false } = {}): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1 || (open && (v === 0 || v === 1))) {
    throw new OptionError(`${what} must be a number in ${open ? '(0, 1)' : '[0, 1]'}, got ${v}`);
  }
}

/**
 * Names that are the same tensor under another name: the same storage, offset, shape and strides (GPT-2's
 * `lm_head.weight` and `transformer.wte.weight` in a torch.save state_dict, as torch.load gives them).
 * Returns alias -> the first name with that view, in the map's order (the name named_parameters() keeps).
 * Writing into one writes the other, so each such group is one tensor: pruned, counted and merged once.
 */
export function storageAliases(m: NamedTensors): Map<string, string> {
  const first = new Map<string, string>();
  const out = new Map<string, string>();
  for (const [n, t] of m) {
    let key: string;
    try {
      const [id, , offset] = native.storageInfo(t.handle);
      key = `${id}|${offset}|${t.shape.join(',')}|${t.strides.join(',')}|${t.dtype}`;
    } catch { continue; }  // a tensor without storage cannot alias anything
    const f = first.get(key);
    if (f === undefined) first.set(key, n);
    else out.set(n, f);
  }
  return out;
}

/** "a = b" lines for a report (empty when nothing aliases). */
export function describeAliases(aliases: Map<string, string>): string[] {
  return [...aliases].map(([a, c]) => `${a} = ${c}`);
}
