// Calls any ATen operator by name through libtorch's dispatcher. Handles are looked up once and cached.
import { Handle, native } from '../native';

const cache = new Map<string, Handle>();

/** The dispatcher handle of `name.overload` (e.g. op('aten::add', 'Tensor')). */
export function op(name: string, overload = ''): Handle {
  const key = name + '.' + overload;
  let h = cache.get(key);
  if (!h) {
    h = native.findOp(name, overload);
    cache.set(key, h);
  }
  return h;
}

/** The operator's schema as libtorch prints it: what callOp expects, argument by argument. */
export function schema(name: string, overload = ''): string {
  return native.opSchema(op(name, overload));
}
