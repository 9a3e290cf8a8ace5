// A pickle writer (protocol 2, what torch.save writes) for the value tree of values.ts. Tensors are
// written as torch._utils._rebuild_tensor_v2 calls over a persistent storage id supplied by the caller,
// exactly as torch.save does, so torch.load(weights_only=True) accepts the result.
//
// Nothing read from an input file is written back as pickle text: strings go out length-prefixed
// (BINUNICODE), and a global is written only if its (module, name) pair is in WRITABLE_GLOBALS, a fixed
// table checked here, at write time. So a hostile name smuggled through a reader ('torch', 'float32\n
// c os\nsystem...') cannot become opcodes in a converted file that Python would run.
import { Tensor } from '../tensor';
import { MAX_WRITE_DEPTH } from './limits';
import { OrderedDict, PyComplex, PyFloat, PyGlobal, Tuple } from './values';

// The dtype, storage and qscheme globals torch's weights_only loader accepts (no aliases: torch.float is
// written by torch.save as torch.float32, and torch.load(weights_only=True) refuses 'torch float').
const DTYPE_NAMES = ['float16', 'float32', 'float64', 'bfloat16', 'bool', 'complex32', 'complex64', 'complex128', 'int8',
  'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'bits8', 'bits16', 'float8_e4m3fn', 'float8_e4m3fnuz',
  'float8_e5m2', 'float8_e5m2fnuz', 'float8_e8m0fnu', 'qint8', 'qint32', 'quint8', 'quint4x2', 'quint2x4'];
const STORAGE_NAMES = ['FloatStorage', 'DoubleStorage', 'HalfStorage', 'BFloat16Storage', 'LongStorage', 'IntStorage',
  'ShortStorage', 'CharStorage', 'ByteStorage', 'BoolStorage', 'ComplexFloatStorage', 'ComplexDoubleStorage'];
const QSCHEME_NAMES = ['per_tensor_affine', 'per_tensor_symmetric', 'per_channel_affine', 'per_channel_symmetric',
  'per_channel_affine_float_qparams'];
/** Layouts are written as torch.save writes them: torch.serialization._get_layout('torch.<name>'). */
const LAYOUT_NAMES = new Set(['strided', 'sparse_coo', 'sparse_csr', 'sparse_csc', 'sparse_bsr', 'sparse_bsc', '_mkldnn', 'jagged']);

/** Every global this writer may emit, as (module, name) pairs: what torch.save itself writes for these values. */
export const WRITABLE_GLOBALS: readonly (readonly [string, string])[] = [
  ['collections', 'OrderedDict'], ['torch._utils', '_rebuild_tensor_v2'], ['torch._utils', '_rebuild_tensor_v3'], ['_codecs', 'encode'], ['builtins', 'set'],
  ['builtins', 'complex'], ['torch.serialization', '_get_layout'], ['torch.storage', 'UntypedStorage'],
  ...[...DTYPE_NAMES, ...STORAGE_NAMES, ...QSCHEME_NAMES].map((n) => ['torch', n] as const),
];
const WRITABLE = new Set(WRITABLE_GLOBALS.map(([m, n]) => `${m}\n${n}`));

export interface TensorRecord {
  /** ('storage', storage class, key, location, numel) */
  pid: [PyGlobal, string, string, number];
  offset: number;
  shape: number[];
  strides: number[];
  requiresGrad: boolean;
  /** Set for an untyped (byte) storage: written as _rebuild_tensor_v3(..., torch.<dtype>), as torch.save does. */
  dtype?: string;
}

export class PickleWriter {
  private parts: Buffer[] = [];
  private cur = Buffer.allocUnsafe(1 << 16);
  private n = 0;
  private memo = new Map<unknown, number>();
  private globals = new Map<string, number>();
  private depth = 0;

  constructor(private readonly tensorHook: (t: Tensor, path: string) => TensorRecord) {}

  private room(k: number): void {
    if (this.n + k <= this.cur.length) return;
    this.parts.push(this.cur.subarray(0, this.n));
    this.cur = Buffer.allocUnsafe(Math.max(1 << 16, k));
    this.n = 0;
  }
  private byte(b: number): void { this.room(1); this.cur[this.n++] = b; }
  private raw(b: Buffer): void { this.room(b.length); b.copy(this.cur, this.n); this.n += b.length; }
  private u32(v: number): void { this.room(4); this.cur.writeUInt32LE(v, this.n); this.n += 4; }

  private put(obj: unknown): void {
    const i = this.memo.size;
    this.memo.set(obj, i);
    if (i < 256) { this.byte(0x71); this.byte(i); } else { this.byte(0x72); this.u32(i); }
  }
  /** Emits BINGET if `obj` was written before (shared objects stay shared, cycles terminate). */
  private get(obj: unknown): boolean {
    const i = this.memo.get(obj);
    if (i === undefined) return false;
    if (i < 256) { this.byte(0x68); this.byte(i); } else { this.byte(0x6a); this.u32(i); }
    return true;
  }
  private global(module: string, name: string): void {
    // The check is on the exact pair: no table entry holds a newline, so no text can break out of the line.
    if (!WRITABLE.has(`${module}\n${name}`)) {
      throw new TypeError(`save: refusing to write the Python global ${JSON.stringify(`${module}.${name}`).slice(0, 120)}: ` +
        'only dtypes, storage classes, layouts and the rebuild functions torch.save itself writes are written');
    }
    const key = `${module}\n${name}\n`;
    const i = this.globals.get(key);
    if (i !== undefined) { this.get(key); return; }
    this.byte(0x63);
    this.raw(Buffer.from(key, 'utf8'));
    this.globals.set(key, this.memo.size);
    this.put(key);
  }
  private int(v: number | bigint): void {
    if (typeof v === 'number' && v >= 0 && v < 256) { this.byte(0x4b); this.byte(v); return; }
    if (typeof v === 'number' && v >= 0 && v < 65536) { this.byte(0x4d); this.room(2); this.cur.writeUInt16LE(v, this.n); this.n += 2; return; }
    if (typeof v === 'number' && v >= -0x80000000 && v <= 0x7fffffff) { this.byte(0x4a); this.room(4); this.cur.writeInt32LE(v, this.n); this.n += 4; return; }
    // LONG1: little-endian two's complement, as few bytes as hold the sign.
    let b = BigInt(v);
    const bytes: number[] = [];
    for (;;) {
      bytes.push(Number(b & 0xffn));
      b >>= 8n;
      const sign = bytes[bytes.length - 1] & 0x80;
      if ((b === 0n && !sign) || (b === -1n && sign)) break;
    }
    this.byte(0x8a); this.byte(bytes.length); this.raw(Buffer.from(bytes));
  }
  private float(v: number): void { this.byte(0x47); this.room(8); this.cur.writeDoubleBE(v, this.n); this.n += 8; }
  private str(s: string): void { const b = Buffer.from(s, 'utf8'); this.byte(0x58); this.u32(b.length); this.raw(b); }
  private tupleOf(items: unknown[], path: string): void {
    if (items.length === 0) { this.byte(0x29); return; }
    if (items.length > 3) this.byte(0x28);
    items.forEach((x, i) => this.value(x, `${path}[${i}]`));
    this.byte(items.length === 1 ? 0x85 : items.length === 2 ? 0x86 : items.length === 3 ? 0x87 : 0x74);
  }
  private items(entries: Iterable<[unknown, unknown]>, path: string): void {
    let batch = 0;
    for (const [k, v] of entries) {
      if (batch === 0) this.byte(0x28);
      this.value(k, path);
      this.value(v, path ? `${path}.${String(k)}` : String(k));
      if (++batch === 1000) { this.byte(0x75); batch = 0; }
    }
    if (batch) this.byte(0x75);
  }

  value(v: unknown, path = ''): void {
    // Python's pickler stops at its recursion limit (~1000); so does this one, with an error, not a stack overflow.
    if (++this.depth > MAX_WRITE_DEPTH) {
      this.depth = 0;
      throw new TypeError(`save: the value at '${path.slice(0, 200)}' is nested more than ${MAX_WRITE_DEPTH} levels deep ` +
        '(torch.save cannot write it either)');
    }
    try {
      this.valueAt(v, path);
    } finally {
      if (this.depth > 0) this.depth--;
    }
  }

  private valueAt(v: unknown, path: string): void {
    if (v === null || v === undefined) { this.byte(0x4e); return; }
    if (v === true) { this.byte(0x88); return; }
    if (v === false) { this.byte(0x89); return; }
    if (typeof v === 'bigint') { this.int(v); return; }
    if (typeof v === 'number') {
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) this.int(v); else this.float(v);
      return;
    }
    if (v instanceof PyFloat) { this.float(v.value); return; }
    if (typeof v === 'string') { this.str(v); return; }
    if (v instanceof PyGlobal) {
      if (v.module === 'torch' && LAYOUT_NAMES.has(v.name)) {
        this.global('torch.serialization', '_get_layout'); this.str(`torch.${v.name}`); this.byte(0x85); this.byte(0x52);
      } else {
        this.global(v.module, v.name);
      }
      return;
    }
    if (v instanceof PyComplex) { this.global('builtins', 'complex'); this.tupleOf([new PyFloat(v.re), new PyFloat(v.im)], path); this.byte(0x52); return; }
    if (typeof v !== 'object') throw new TypeError(`save: cannot write a ${typeof v} at '${path}'`);
    if (this.get(v)) return;
    if (v instanceof Tensor) { this.tensor(v, path); return; }
    if (Buffer.isBuffer(v) || v instanceof Uint8Array) {
      // protocol 2 has no bytes opcode: Python 3 writes _codecs.encode(latin-1 text, 'latin1').
      this.global('_codecs', 'encode');
      this.str(Buffer.from(v).toString('latin1')); this.str('latin1'); this.byte(0x86); this.byte(0x52);
      this.put(v);
      return;
    }
    if (v instanceof Tuple) { this.tupleOf(v, path); this.put(v); return; }
    if (Array.isArray(v)) {
      this.byte(0x5d); this.put(v);
      if (v.length) { this.byte(0x28); v.forEach((x, i) => this.value(x, `${path}[${i}]`)); this.byte(0x65); }
      return;
    }
    if (v instanceof Set) {
      this.global('builtins', 'set'); this.byte(0x5d);
      if (v.size) { this.byte(0x28); for (const x of v) this.value(x, path); this.byte(0x65); }
      this.byte(0x85); this.byte(0x52); this.put(v);
      return;
    }
    if (v instanceof OrderedDict) {
      this.global('collections', 'OrderedDict'); this.byte(0x29); this.byte(0x52); this.put(v);
      this.items(v.entries(), path);
      if (v.attrs && v.attrs.size) { this.byte(0x7d); this.items(v.attrs.entries(), path); this.byte(0x62); }
      return;
    }
    if (v instanceof Map) { this.byte(0x7d); this.put(v); this.items(v.entries(), path); return; }
    if (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) {
      this.byte(0x7d); this.put(v); this.items(Object.entries(v), path);
      return;
    }
    throw new TypeError(`save: cannot write a ${(v as object).constructor?.name ?? 'value'} at '${path}' ` +
      '(supported: Tensor, Map, OrderedDict, plain objects, arrays, Tuple, Set, numbers, strings, booleans, null, Buffer)');
  }

  private tensor(t: Tensor, path: string): void {
    const r = this.tensorHook(t, path);
    this.global('torch._utils', r.dtype ? '_rebuild_tensor_v3' : '_rebuild_tensor_v2');
    this.byte(0x28);
    this.byte(0x28); this.str('storage'); this.value(r.pid[0]); this.str(r.pid[1]); this.str(r.pid[2]); this.int(r.pid[3]); this.byte(0x74);
    this.byte(0x51); // BINPERSID
    this.int(r.offset);
    this.tupleOf(r.shape, path);
    this.tupleOf(r.strides, path);
    this.value(r.requiresGrad);
    this.global('collections', 'OrderedDict'); this.byte(0x29); this.byte(0x52); // backward_hooks
    if (r.dtype) this.global('torch', r.dtype);
    this.byte(0x74); this.byte(0x52);
    this.put(t);
  }

  /** The whole pickle: PROTO 2, the value, STOP. */
  dump(v: unknown): Buffer {
    this.byte(0x80); this.byte(2);
    this.value(v);
    this.byte(0x2e);
    this.parts.push(this.cur.subarray(0, this.n));
    return Buffer.concat(this.parts);
  }
}
