// Opt-in globals for the restricted unpickler, read as inert data: the JS side of
// torch.serialization.add_safe_globals. Where torch would *call* an allow-listed class or function
// (cls.__new__, func(*args), obj.__setstate__), this file only records what the pickle says: a
// PyObject {cls, args, state}. Nothing named in a file is ever run, whatever the allow list holds.
//
// numpy's pickles are understood rather than recorded, when their names are allowed:
//   numpy.core.multiarray._reconstruct + numpy.ndarray + numpy.dtype  -> a NumpyArray (a Tensor after load)
//   numpy.core.multiarray.scalar                                      -> a number (bigint past 2^53, boolean, PyComplex)
// numpy 2 pickles these under numpy._core; either spelling on the list allows both, as numpy aliases them.
import { native } from '../native';
import { DType, DTYPE_SIZE, Tensor, dtypeCode } from '../tensor';
import { PyComplex, PyGlobal, Tuple } from './values';

type Fail = (msg: string) => never;

/** An instance of an allow-listed class, as the pickle describes it: nothing was constructed or called. */
export class PyObject {
  constructor(
    /** The class or function, 'module.qualname' as pickled (e.g. 'argparse.Namespace'). */
    readonly cls: string,
    /** The arguments of its NEWOBJ / REDUCE. */
    readonly args: unknown[],
    /** What BUILD would have set: usually a Map of attributes (its __dict__), else any value. */
    public state: unknown = undefined,
  ) {}
  /** The attributes in `state` as a Map (empty when state is not a dict). */
  get attrs(): Map<unknown, unknown> {
    if (this.state instanceof Map) return this.state;
    // BUILD's (dict, slotstate) pair: both are attributes
    if (Array.isArray(this.state) && this.state.length === 2) {
      return new Map([...(this.state[0] instanceof Map ? this.state[0] : []), ...(this.state[1] instanceof Map ? this.state[1] : [])]);
    }
    return new Map();
  }
  toString(): string {
    const a = this.attrs;
    const parts = a.size ? [...a].map(([k, v]) => `${String(k)}=${short(v)}`) : this.args.map(short);
    return `${this.cls}(${parts.join(', ')})`;
  }
}

function short(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null) return 'None';
  if (Array.isArray(v)) return `${v instanceof Tuple ? '(' : '['}${v.map(short).join(', ')}${v instanceof Tuple ? ')' : ']'}`;
  if (v instanceof Map) return `{${[...v].map(([k, x]) => `${short(k)}: ${short(x)}`).join(', ')}}`;
  return String(v);
}

// numpy's type codes (dtype.str without the byte-order character) -> the dtype of the tensor they become.
const NUMPY_DTYPES: Record<string, DType> = {
  f2: 'float16', f4: 'float32', f8: 'float64', i1: 'int8', i2: 'int16', i4: 'int32', i8: 'int64',
  u1: 'uint8', u2: 'uint16', u4: 'uint32', u8: 'uint64', b1: 'bool', c8: 'complex64', c16: 'complex128',
};

/** numpy.dtype(descr, align, copy), then BUILD (version, byteorder, subdescr, names, fields, ...). */
export class NumpyDType {
  byteorder = '=';
  structured = false;
  constructor(readonly descr: string) {}
  /** The tensor dtype, or a reason it has none. */
  resolve(): DType | string {
    const d = NUMPY_DTYPES[this.descr];
    if (!d) return `numpy dtype '${this.descr}' has no torch dtype`;
    if (this.structured) return `numpy structured dtype '${this.descr}' is not supported`;
    if (this.byteorder === '>' && DTYPE_SIZE[d] > 1) return `numpy dtype '>${this.descr}' is big-endian`;
    return d;
  }
  toString(): string { return `numpy.dtype('${this.descr}')`; }
}

/** An ndarray from numpy's pickle; load() turns it into a Tensor (inspect() keeps it as is). */
export class NumpyArray {
  shape: number[] = [];
  dtype: DType = 'uint8';
  fortran = false;
  data: Buffer = Buffer.alloc(0);
  built = false;
  get numel(): number { return this.shape.reduce((a, b) => a * b, 1); }
  /** A new CPU tensor with the array's elements (row-major; Fortran-order arrays are transposed back). */
  toTensor(): Tensor {
    if (!this.built) throw new Error('a numpy array whose data never arrived (corrupt pickle)');
    const dims = this.fortran ? [...this.shape].reverse() : this.shape;
    const t = new Tensor(native.fromBuffer(this.data, dtypeCode(this.dtype), dims));
    if (!this.fortran || this.shape.length < 2) return t;
    const p = t.permute(dims.map((_, i) => dims.length - 1 - i));
    const c = p.contiguous();
    t.dispose(); p.dispose();
    return c;
  }
  toString(): string { return `numpy.ndarray(${this.dtype}, [${this.shape}])`; }
}

const numpyAlias = (full: string): string => full.replace(/^numpy\.core\./, 'numpy._core.');

/** The allow list of one load, and what its names mean. */
export class InertGlobals {
  private readonly names: Set<string>;
  constructor(allow: readonly string[]) {
    this.names = new Set(allow.map((n) => numpyAlias(String(n).trim())));
  }
  allows(module: string, name: string): boolean {
    return this.names.has(numpyAlias(`${module}.${name}`));
  }
  /** REDUCE of an allowed global: numpy's own, else an inert PyObject. */
  reduce(g: PyGlobal, args: unknown[], fail: Fail): unknown {
    switch (numpyAlias(g.fullName)) {
      case 'numpy.dtype': {
        if (typeof args[0] !== 'string') fail('numpy.dtype: the type code is not a string');
        return new NumpyDType((args[0] as string).replace(/^[<>=|]/, ''));
      }
      case 'numpy._core.multiarray._reconstruct': {
        if (!(args[0] instanceof PyGlobal) || args[0].fullName !== 'numpy.ndarray') {
          fail(`numpy _reconstruct of '${String(args[0])}': only numpy.ndarray is read`);
        }
        return new NumpyArray();
      }
      case 'numpy._core.multiarray.scalar': return numpyScalar(args, fail);
      default: return new PyObject(g.fullName, [...args]);
    }
  }
  /** NEWOBJ: cls.__new__(cls, *args) in Python; a record here. */
  newobj(g: PyGlobal, args: unknown[]): PyObject {
    return new PyObject(g.fullName, [...args]);
  }
  /** BUILD on an object this file made; false when `inst` is not one (the caller refuses it). */
  build(inst: unknown, state: unknown, fail: Fail): boolean {
    if (inst instanceof PyObject) { inst.state = state; return true; }
    if (inst instanceof NumpyDType) {
      if (!Array.isArray(state) || state.length < 5) fail('numpy.dtype: unexpected state');
      const s = state as unknown[];
      if (typeof s[1] === 'string') inst.byteorder = s[1];
      if (s[3] !== null || s[4] !== null) inst.structured = true;
      return true;
    }
    if (inst instanceof NumpyArray) { buildArray(inst, state, fail); return true; }
    return false;
  }
}

function buildArray(a: NumpyArray, state: unknown, fail: Fail): void {
  // (version, shape, dtype, is_fortran, data); pickles of numpy < 1.? have no version
  if (!Array.isArray(state) || (state.length !== 5 && state.length !== 4)) fail('numpy.ndarray: unexpected state');
  const [shape, dt, fortran, data] = (state as unknown[]).slice(state.length - 4);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) fail('numpy.ndarray: bad shape');
  if (!(dt instanceof NumpyDType)) fail('numpy.ndarray: the dtype is not a numpy.dtype');
  const dtype = (dt as NumpyDType).resolve();
  if (!(dtype in DTYPE_SIZE)) fail(`numpy.ndarray: ${dtype}`);
  const bytes = Buffer.isBuffer(data) ? data : typeof data === 'string' ? Buffer.from(data, 'latin1') : null;
  if (!bytes) fail('numpy.ndarray: object arrays (elements that are Python objects) are not supported');
  a.shape = shape as number[];
  a.dtype = dtype as DType;
  a.fortran = fortran === true;
  const need = a.numel * DTYPE_SIZE[a.dtype];
  if (!Number.isSafeInteger(need) || bytes!.length !== need) {
    fail(`numpy.ndarray: shape [${a.shape}] of ${a.dtype} needs ${need} bytes, the pickle holds ${bytes!.length}`);
  }
  a.data = bytes!;
  a.built = true;
}

function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** numpy.core.multiarray.scalar(dtype, bytes): the value as JS holds it. */
function numpyScalar(args: unknown[], fail: Fail): unknown {
  const [dt, raw] = args;
  if (!(dt instanceof NumpyDType)) fail('numpy scalar: the dtype is not a numpy.dtype');
  const dtype = (dt as NumpyDType).resolve();
  if (!(dtype in DTYPE_SIZE)) fail(`numpy scalar: ${dtype}`);
  const b = Buffer.isBuffer(raw) ? raw : typeof raw === 'string' ? Buffer.from(raw, 'latin1') : null;
  if (!b || b.length !== DTYPE_SIZE[dtype as DType]) fail(`numpy scalar of ${dtype}: wrong byte count`);
  const big = (v: bigint): number | bigint => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
  switch (dtype as DType) {
    case 'float64': return b!.readDoubleLE(0);
    case 'float32': return b!.readFloatLE(0);
    case 'float16': return halfToNumber(b!.readUInt16LE(0));
    case 'int8': return b!.readInt8(0);
    case 'int16': return b!.readInt16LE(0);
    case 'int32': return b!.readInt32LE(0);
    case 'int64': return big(b!.readBigInt64LE(0));
    case 'uint8': return b!.readUInt8(0);
    case 'uint16': return b!.readUInt16LE(0);
    case 'uint32': return b!.readUInt32LE(0);
    case 'uint64': return big(b!.readBigUInt64LE(0));
    case 'bool': return b![0] !== 0;
    case 'complex64': return new PyComplex(b!.readFloatLE(0), b!.readFloatLE(4));
    case 'complex128': return new PyComplex(b!.readDoubleLE(0), b!.readDoubleLE(8));
    default: return fail(`numpy scalar of ${dtype} is not supported`);
  }
}

/** The class an inert value stands for (PyObject, numpy array or dtype), for listings; undefined otherwise. */
export function inertClassOf(v: unknown): string | undefined {
  if (v instanceof PyObject) return v.cls;
  if (v instanceof NumpyArray) return 'numpy.ndarray';
  if (v instanceof NumpyDType) return 'numpy.dtype';
  return undefined;
}

/** The refusal for a global that is neither a checkpoint's own nor on the caller's list. */
export function refusedGlobalMessage(full: string): string {
  return `refused global '${full}': only the globals plain PyTorch checkpoints use are allowed ` +
    `(as torch.load(weights_only=True)); nothing was run. If you trust this file, allow it as inert data with ` +
    `{ allowGlobals: ['${full}'] } (CLI: --allow-global ${full}): it is then read as a record, never called`;
}
