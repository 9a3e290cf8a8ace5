// Factory functions: tensors from JS data, and the usual zeros/ones/rand/arange family.
import { native } from '../native';
import { AnyTypedArray, DType, DTYPE_SIZE, dtypeCode, dtypeOfArray } from './dtype';
import { op } from './ops';
import { Device, Shape, Tensor, wrap } from './tensor';
import { ShapeError } from '../errors';
import { checkOptions, optionKeys } from '../options';

export interface TensorOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
}
const TENSOR_OPTIONS = optionKeys<TensorOptions>('zeros', { dtype: true, device: true, requiresGrad: true });
/** tensor()'s options: TensorOptions, and the shape of a flat typed array. */
export interface FromDataOptions extends TensorOptions { shape?: Shape; }
const FROM_DATA_OPTIONS = optionKeys<FromDataOptions>('tensor', { dtype: true, device: true, requiresGrad: true, shape: true });

type Nested = number | boolean | bigint | Nested[];

function finish(t: Tensor, o: TensorOptions): Tensor {
  let out = t;
  if (o.device && o.device !== 'cpu') {
    out = t.to(o.device);
    t.dispose();
  }
  if (o.requiresGrad) out.requiresGrad_(true);
  return out;
}

function inferShape(data: Nested): number[] {
  const shape: number[] = [];
  let cur: Nested = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

function flatten(data: Nested, shape: number[], depth: number, out: Nested[]): void {
  if (depth === shape.length) {
    if (Array.isArray(data)) throw new ShapeError('tensor: ragged nested array (sub-arrays of different lengths)');
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth]) {
    throw new ShapeError(`tensor: ragged nested array at depth ${depth}: expected ${shape[depth]} elements`);
  }
  for (const e of data) flatten(e, shape, depth + 1, out);
}

/**
 * A new tensor holding a copy of `data`: a TypedArray/Buffer (with `shape`, default 1-d) or nested JS
 * arrays. Numbers default to float32 (JS cannot tell 1 from 1.0); booleans to bool; bigints to int64.
 * For float16/bfloat16, pass a Uint16Array of bit patterns, or numbers (converted through float32).
 */
export function tensor(data: Nested | ArrayBufferView, opts: FromDataOptions = {}): Tensor {
  checkOptions('tensor', opts, FROM_DATA_OPTIONS);
  if (ArrayBuffer.isView(data)) {
    let dtype = opts.dtype ?? dtypeOfArray(data);
    if (data instanceof Uint8Array && !opts.dtype) dtype = 'uint8';
    const n = data.byteLength / DTYPE_SIZE[dtype];
    const shape = opts.shape ? [...opts.shape] : [n];
    return finish(new Tensor(native.fromBuffer(data, dtypeCode(dtype), shape)), opts);
  }
  const shape = opts.shape ? [...opts.shape] : inferShape(data as Nested);
  const flat: Nested[] = [];
  if (opts.shape) {
    if (Array.isArray(data)) for (const e of (data as unknown[]).flat(Infinity as 1) as Nested[]) flat.push(e);
    else flat.push(data as Nested);
  } else flatten(data as Nested, shape, 0, flat);
  const first = flat[0];
  const dtype: DType = opts.dtype ?? (typeof first === 'boolean' ? 'bool' : typeof first === 'bigint' ? 'int64' : 'float32');
  let arr: AnyTypedArray;
  let via: DType = dtype;
  switch (dtype) {
    case 'float64': arr = Float64Array.from(flat as number[]); break;
    case 'int64': arr = BigInt64Array.from(flat as any[], (x) => BigInt(x)); break;
    case 'int32': arr = Int32Array.from(flat as number[]); break;
    case 'int16': arr = Int16Array.from(flat as number[]); break;
    case 'int8': arr = Int8Array.from(flat as number[]); break;
    case 'uint8': arr = Uint8Array.from(flat as number[]); break;
    case 'bool': arr = Uint8Array.from(flat as any[], (x) => (x ? 1 : 0)); break;
    default: arr = Float32Array.from(flat as number[]); via = 'float32';
  }
  let t = new Tensor(native.fromBuffer(arr, dtypeCode(via), shape));
  if (via !== dtype) {
    const c = t.to(dtype);
    t.dispose();
    t = c;
  }
  return finish(t, opts);
}

function factory(name: string, overload: string, shape: Shape, extra: unknown[], o: TensorOptions): Tensor {
  const t = wrap(native.callOp(op(name, overload), [...shape], ...extra, dtypeCode(o.dtype ?? 'float32'), null, o.device ?? null, null)) as Tensor;
  if (o.requiresGrad) t.requiresGrad_(true);
  return t;
}

export function zeros(shape: Shape, o: TensorOptions = {}): Tensor {
  checkOptions('zeros', o, TENSOR_OPTIONS);
  return factory('aten::zeros', '', shape, [], o);
}
export function ones(shape: Shape, o: TensorOptions = {}): Tensor {
  checkOptions('ones', o, TENSOR_OPTIONS);
  return factory('aten::ones', '', shape, [], o);
}
export function empty(shape: Shape, o: TensorOptions = {}): Tensor {
  checkOptions('empty', o, TENSOR_OPTIONS);
  return wrap(native.callOp(op('aten::empty', 'memory_format'), [...shape], dtypeCode(o.dtype ?? 'float32'), null, o.device ?? null, null, null));
}
export function full(shape: Shape, value: number | boolean, o: TensorOptions = {}): Tensor {
  checkOptions('full', o, TENSOR_OPTIONS);
  return factory('aten::full', '', shape, [value], o);
}
/** Standard normal samples (uses the global generator: see manualSeed). */
export function randn(shape: Shape, o: TensorOptions = {}): Tensor {
  checkOptions('randn', o, TENSOR_OPTIONS);
  return factory('aten::randn', '', shape, [], o);
}
/** Uniform samples in [0, 1). */
export function rand(shape: Shape, o: TensorOptions = {}): Tensor {
  checkOptions('rand', o, TENSOR_OPTIONS);
  return factory('aten::rand', '', shape, [], o);
}
/** Integers uniform in [low, high). */
export function randint(low: number, high: number, shape: Shape, o: TensorOptions = {}): Tensor {
  checkOptions('randint', o, TENSOR_OPTIONS);
  return wrap(native.callOp(op('aten::randint', 'low'), low, high, [...shape], dtypeCode(o.dtype ?? 'int64'), null, o.device ?? null, null));
}
export function randperm(n: number, o: TensorOptions = {}): Tensor {
  checkOptions('randperm', o, TENSOR_OPTIONS);
  return wrap(native.callOp(op('aten::randperm'), n, dtypeCode(o.dtype ?? 'int64'), null, o.device ?? null, null));
}
export function arange(start: number, end?: number, step = 1, o: TensorOptions = {}): Tensor {
  checkOptions('arange', o, TENSOR_OPTIONS);
  if (end === undefined) { end = start; start = 0; }
  const dt = o.dtype ?? (Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step) ? 'int64' : 'float32');
  return wrap(native.callOp(op('aten::arange', 'start_step'), start, end, step, dtypeCode(dt), null, o.device ?? null, null));
}
export function linspace(start: number, end: number, steps: number, o: TensorOptions = {}): Tensor {
  checkOptions('linspace', o, TENSOR_OPTIONS);
  return wrap(native.callOp(op('aten::linspace'), start, end, steps, dtypeCode(o.dtype ?? 'float32'), null, o.device ?? null, null));
}
export function eye(n: number, o: TensorOptions = {}): Tensor {
  checkOptions('eye', o, TENSOR_OPTIONS);
  return wrap(native.callOp(op('aten::eye'), n, dtypeCode(o.dtype ?? 'float32'), null, o.device ?? null, null));
}
export function zerosLike(t: Tensor): Tensor { return wrap(native.callOp(op('aten::zeros_like'), t.handle)); }
export function onesLike(t: Tensor): Tensor { return wrap(native.callOp(op('aten::ones_like'), t.handle)); }
export function fullLike(t: Tensor, v: number): Tensor { return wrap(native.callOp(op('aten::full_like'), t.handle, v)); }
export function randnLike(t: Tensor): Tensor { return wrap(native.callOp(op('aten::randn_like'), t.handle)); }
