// PyTorch's dtypes by their Python names, with libtorch's ScalarType codes and the TypedArray that
// holds each one's elements in JS (float16/bfloat16 as raw uint16 bit patterns and the float8 formats as
// raw uint8 bit patterns: JS has no such floats).
import { DTypeError } from '../errors';

export type DType =
  | 'float32' | 'float64' | 'float16' | 'bfloat16'
  | 'int8' | 'uint8' | 'int16' | 'int32' | 'int64'
  | 'bool' | 'complex64' | 'complex128'
  // Storage formats checkpoints hold (quantized weights, token ids, hashes): they load, save and convert,
  // though few maths kernels exist for them in libtorch.
  | 'uint16' | 'uint32' | 'uint64'
  | 'float8_e4m3fn' | 'float8_e5m2' | 'float8_e4m3fnuz' | 'float8_e5m2fnuz';

export const DTYPE_CODE: Record<DType, number> = {
  uint8: 0, int8: 1, int16: 2, int32: 3, int64: 4, float16: 5, float32: 6, float64: 7,
  complex64: 9, complex128: 10, bool: 11, bfloat16: 15,
  // c10::ScalarType's numbering (AT_FORALL_SCALAR_TYPES_WITH_COMPLEX_AND_QINTS), fixed by its serialization.
  float8_e5m2: 23, float8_e4m3fn: 24, float8_e5m2fnuz: 25, float8_e4m3fnuz: 26, uint16: 27, uint32: 28, uint64: 29,
};

const CODE_DTYPE: Record<number, DType> = Object.fromEntries(
  Object.entries(DTYPE_CODE).map(([k, v]) => [v, k as DType])) as Record<number, DType>;

export const DTYPE_SIZE: Record<DType, number> = {
  uint8: 1, int8: 1, int16: 2, int32: 4, int64: 8, float16: 2, float32: 4, float64: 8,
  complex64: 8, complex128: 16, bool: 1, bfloat16: 2,
  float8_e5m2: 1, float8_e4m3fn: 1, float8_e5m2fnuz: 1, float8_e4m3fnuz: 1, uint16: 2, uint32: 4, uint64: 8,
};

/** Float formats JS has no number type for: their elements come out of toArray() as raw bit patterns. */
export const BIT_PATTERN_FLOATS: ReadonlySet<DType> = new Set<DType>(
  ['float16', 'bfloat16', 'float8_e4m3fn', 'float8_e5m2', 'float8_e4m3fnuz', 'float8_e5m2fnuz']);

export type TypedArrayFor<D extends DType> =
  D extends 'float32' ? Float32Array : D extends 'float64' ? Float64Array :
  D extends 'float16' | 'bfloat16' | 'uint16' ? Uint16Array : D extends 'int8' ? Int8Array :
  D extends 'uint8' | 'bool' | 'float8_e4m3fn' | 'float8_e5m2' | 'float8_e4m3fnuz' | 'float8_e5m2fnuz' ? Uint8Array :
  D extends 'int16' ? Int16Array : D extends 'int32' ? Int32Array : D extends 'int64' ? BigInt64Array :
  D extends 'uint32' ? Uint32Array : D extends 'uint64' ? BigUint64Array :
  D extends 'complex64' ? Float32Array : D extends 'complex128' ? Float64Array : never;

export type AnyTypedArray = Float32Array | Float64Array | Uint16Array | Int8Array | Uint8Array |
  Int16Array | Int32Array | BigInt64Array | Uint32Array | BigUint64Array;

export function dtypeFromCode(code: number): DType {
  const d = CODE_DTYPE[code];
  if (!d) throw new DTypeError(`unsupported libtorch dtype code ${code}`);
  return d;
}

export function dtypeCode(d: DType): number {
  const c = DTYPE_CODE[d];
  if (c === undefined) {
    throw new DTypeError(`unknown dtype '${String(d)}'; expected one of ${Object.keys(DTYPE_CODE).join(', ')}`);
  }
  return c;
}

export function isFloating(d: DType): boolean {
  return d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
}

/** Views `buf` as the TypedArray that holds `dtype`'s elements. */
export function typedView(dtype: DType, buf: ArrayBuffer, byteOffset = 0, length?: number): AnyTypedArray {
  const n = length ?? (buf.byteLength - byteOffset) / DTYPE_SIZE[dtype];
  switch (dtype) {
    case 'float32': return new Float32Array(buf, byteOffset, n);
    case 'float64': return new Float64Array(buf, byteOffset, n);
    case 'float16': case 'bfloat16': case 'uint16': return new Uint16Array(buf, byteOffset, n);
    case 'int8': return new Int8Array(buf, byteOffset, n);
    case 'uint8': case 'bool': case 'float8_e4m3fn': case 'float8_e5m2': case 'float8_e4m3fnuz': case 'float8_e5m2fnuz':
      return new Uint8Array(buf, byteOffset, n);
    case 'uint32': return new Uint32Array(buf, byteOffset, n);
    case 'uint64': return new BigUint64Array(buf, byteOffset, n);
    case 'int16': return new Int16Array(buf, byteOffset, n);
    case 'int32': return new Int32Array(buf, byteOffset, n);
    case 'int64': return new BigInt64Array(buf, byteOffset, n);
    case 'complex64': return new Float32Array(buf, byteOffset, n * 2);
    case 'complex128': return new Float64Array(buf, byteOffset, n * 2);
  }
}

/** The dtype a TypedArray holds when none is named (Uint16Array is ambiguous, so it is refused). */
export function dtypeOfArray(a: ArrayBufferView): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Uint8Array) return 'uint8';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Uint32Array) return 'uint32';
  if (a instanceof BigUint64Array) return 'uint64';
  if (a instanceof Uint16Array) {
    throw new DTypeError('a Uint16Array may hold float16 or bfloat16 bits or uint16 values: pass { dtype: "float16" }, ' +
      '{ dtype: "bfloat16" } or { dtype: "uint16" }');
  }
  throw new DTypeError(`cannot infer a dtype from ${a.constructor.name}; pass { dtype }`);
}
