// A restricted unpickler, the JS twin of torch.load(weights_only=True) (torch/_weights_only_unpickler.py).
//
// It never runs code: GLOBAL only resolves names from the allow-list below (what plain checkpoints use:
// OrderedDict, torch's tensor rebuild functions, storage classes, dtypes, torch.Size, set, ...), and
// REDUCE / NEWOBJ / BUILD only do what those globals mean. Anything else (os.system, builtins.eval, a
// model class) is refused with an error naming the global. Every length and index read from the stream
// is checked, so a truncated or corrupt pickle gives an error, never a crash, hang or huge allocation.
// Only the opcodes torch's weights_only unpickler reads are read (so LONG4, whose decoding is quadratic,
// and protocol 4's framing are refused as torch refuses them), and the work done is counted against a
// budget linear in the pickle's size (limits.ts), so no sequence of opcodes can make it quadratic.
import { DType } from '../tensor';
import { MAX_REBUILD_DEPTH, UNPICKLE_WORK_BASE, UNPICKLE_WORK_PER_BYTE } from './limits';
import { dtypeOfGlobal, storageAs } from './dtype-records';
import { InertGlobals, refusedGlobalMessage } from './inert';
import { CheckpointError } from './source';
import { OrderedDict, PyComplex, PyGlobal, ScriptObject, StorageRef, TensorRef, Tuple } from './values';

/** The storage classes PyTorch pickles, with the dtype of their elements. */
export const STORAGE_DTYPE: Record<string, DType> = {
  FloatStorage: 'float32', DoubleStorage: 'float64', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8',
  BoolStorage: 'bool', ComplexFloatStorage: 'complex64', ComplexDoubleStorage: 'complex128',
};

// torch dtype and qscheme objects allowed as values: exactly the names torch's weights_only unpickler
// allows (str(dtype) of each; aliases such as torch.float or torch.long are not globals torch writes).
const TORCH_DTYPES = new Set(['float16', 'float32', 'float64', 'bfloat16', 'bool', 'complex32', 'complex64', 'complex128',
  'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16', 'uint32', 'uint64', 'bits8', 'bits16', 'bits1x8', 'bits2x4', 'bits4x2',
  'float8_e4m3fn', 'float8_e4m3fnuz', 'float8_e5m2', 'float8_e5m2fnuz', 'float8_e8m0fnu', 'float4_e2m1fn_x2',
  'qint8', 'qint32', 'quint8', 'quint4x2', 'quint2x4', 'int1', 'int2', 'int3', 'int4', 'int5', 'int6', 'int7',
  'uint1', 'uint2', 'uint3', 'uint4', 'uint5', 'uint6', 'uint7',
  'per_tensor_affine', 'per_tensor_symmetric', 'per_channel_affine', 'per_channel_symmetric', 'per_channel_affine_float_qparams']);
// The legacy tensor classes torch allows (torch.FloatTensor, torch.cuda.FloatTensor).
const TENSOR_CLASSES = new Set(['BFloat16Tensor', 'BoolTensor', 'ByteTensor', 'CharTensor', 'DoubleTensor', 'FloatTensor',
  'HalfTensor', 'IntTensor', 'LongTensor', 'ShortTensor']);

// Allowed by torch's weights_only loader but meaning tensors this library cannot build.
const UNSUPPORTED_REBUILD: Record<string, string> = {
  _rebuild_qtensor: 'quantized tensors', _rebuild_sparse_tensor: 'sparse tensors',
  _rebuild_meta_tensor_no_storage: 'meta tensors', _rebuild_nested_tensor: 'nested tensors',
  _rebuild_wrapper_subclass: 'tensor subclasses',
  _rebuild_device_tensor_from_numpy: 'numpy-backed device tensors',
  _rebuild_device_tensor_from_cpu_tensor: 'device tensors rebuilt from CPU tensors',
};

// Python 2 module names that protocol-2 pickles (all torch.save files) may use.
const IMPORT_MAPPING: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

/** Whether `module.name` is on the allow-list (exported so inspect/tests can ask). */
export function isAllowedGlobal(module: string, name: string): boolean {
  const full = `${module}.${name}`;
  if (ALLOWED_CALLABLES.has(full)) return true;
  if (module === 'torch._utils' && name in UNSUPPORTED_REBUILD) return true;
  if (module === 'torch') {
    if (TORCH_DTYPES.has(name) || name in STORAGE_DTYPE || TENSOR_CLASSES.has(name)) return true;
  }
  if (module === 'torch.cuda' && (TENSOR_CLASSES.has(name) || name in STORAGE_DTYPE)) return true;
  if (module === 'torch.storage' && (name === 'UntypedStorage' || name === 'TypedStorage')) return true;
  return false;
}

const ALLOWED_CALLABLES = new Set([
  'collections.OrderedDict', 'collections.Counter', 'torch.nn.parameter.Parameter', 'torch.serialization._get_layout',
  'torch.Size', 'torch.Tensor', 'torch.device', '_codecs.encode', 'builtins.bytearray', 'builtins.set',
  'builtins.complex', 'torch._utils._rebuild_tensor', 'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter', 'torch._utils._rebuild_parameter_with_state', 'torch._tensor._rebuild_from_type_v2',
  'torch._utils._rebuild_tensor_v3',
]);

export interface UnpickleOptions {
  /** The file's name, for error messages (and the record, e.g. 'archive/data.pkl'). */
  file: string;
  record?: string;
  /** torch.save's persistent_load: turns a persistent id into a StorageRef (or refuses it). */
  persistentLoad?: (pid: unknown) => unknown;
  /**
   * A TorchScript archive's data.pkl: `__torch__.*` classes become inert ScriptObjects (NEWOBJ with no
   * arguments, then BUILD sets their state as data), and torch.jit._pickle's list builders and type tags
   * return their argument. Nothing else changes: these names run no code here.
   */
  torchscript?: boolean;
  /** Globals the caller trusts, read as inert data (inert.ts), e.g. ['argparse.Namespace']. */
  allowGlobals?: readonly string[];
}

/** torch.jit._pickle helpers that the TorchScript pickler writes; each returns its first argument. */
const JIT_PICKLE = new Set(['build_intlist', 'build_doublelist', 'build_boollist', 'build_tensorlist', 'restore_type_tag']);

const MARK = Symbol('mark');

/** torch.serialization._get_layout looks its argument up among torch's layouts (a KeyError otherwise). */
const LAYOUTS = new Set(['strided', 'sparse_coo', 'sparse_csr', 'sparse_csc', 'sparse_bsr', 'sparse_bsc', '_mkldnn', 'jagged']);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Device types torch.device accepts, optionally with an index ('cuda:1'). */
const DEVICE_TYPE = /^(cpu|cuda|mps|meta|xpu|hpu|xla|lazy|ipu|mtia|maia|vulkan|mkldnn|opengl|opencl|ideep|hip|ve|fpga|privateuseone)(:\d+)?$/;

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

/** Unpickles `data` (protocols 2 to 5, the opcodes PyTorch checkpoints use) with the allow-list above. */
export function unpickle(data: Buffer, o: UnpickleOptions): unknown {
  const where = o.record ? `${o.record}: ` : '';
  let pos = 0;
  const fail = (p: string): never => { throw new CheckpointError(o.file, `${where}${p} (pickle offset ${pos})`); };
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  // The work budget: charged by every opcode for what it builds or copies (see limits.ts).
  let work = UNPICKLE_WORK_BASE + UNPICKLE_WORK_PER_BYTE * data.length;
  const charge = (n: number): void => {
    work -= n;
    if (work < 0) {
      fail(`the pickle asks for more work than its ${data.length} bytes can justify (over ${UNPICKLE_WORK_PER_BYTE} units a byte): ` +
        'copies of shared values, refused as a decompression-bomb-like input');
    }
  };
  const text = (b: Buffer): string => {
    try { return utf8.decode(b); } catch { return fail('a string is not valid UTF-8'); }
  };
  const inert = o.allowGlobals?.length ? new InertGlobals(o.allowGlobals) : null;

  const need = (n: number): void => { if (pos + n > data.length) fail(`the pickle stops mid-stream (needs ${n} more bytes)`); };
  const u8 = (): number => { need(1); return data[pos++]; };
  const u16 = (): number => { need(2); const v = data.readUInt16LE(pos); pos += 2; return v; };
  const u32 = (): number => { need(4); const v = data.readUInt32LE(pos); pos += 4; return v; };
  const i32 = (): number => { need(4); const v = data.readInt32LE(pos); pos += 4; return v; };
  const bytes = (n: number): Buffer => { need(n); const b = data.subarray(pos, pos + n); pos += n; return b; };
  const line = (): string => {
    const end = data.subarray(pos, pos + 1025).indexOf(0x0a); // bounded search: no rescans of a long tail
    if (end < 0) fail('a GLOBAL name is not terminated');
    const s = text(data.subarray(pos, pos + end));
    pos += end + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('stack underflow (corrupt pickle)');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow (corrupt pickle)');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    if (metastack.length === 0) fail('no MARK on the stack (corrupt pickle)');
    stack = metastack.pop()!;
    return items;
  };
  const longFrom = (b: Buffer): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const findGlobal = (module: string, name: string): PyGlobal => {
    module = IMPORT_MAPPING[module] ?? module;
    if (o.torchscript && (module === '__torch__' || module.startsWith('__torch__.')) && /^[A-Za-z_]\w*$/.test(name)) {
      return new PyGlobal(module, name);
    }
    if (o.torchscript && module === 'torch.jit._pickle' && JIT_PICKLE.has(name)) return new PyGlobal(module, name);
    if (!isAllowedGlobal(module, name) && !inert?.allows(module, name)) fail(refusedGlobalMessage(`${module}.${name}`));
    return new PyGlobal(module, name);
  };
  // Python refuses unhashable dict keys and set items (lists, dicts, sets, tuples holding them): so do we.
  const hashable = (k: unknown): boolean => {
    const todo = [k];
    while (todo.length) {
      const v = todo.pop();
      if (v instanceof Tuple) { charge(v.length); for (const x of v) todo.push(x); continue; }
      if (Array.isArray(v) || v instanceof Map || v instanceof Set) return false;
    }
    return true;
  };
  const key = (k: unknown, what: string): unknown => {
    if (!hashable(k)) fail(`${what}: an unhashable ${Array.isArray(k) && !(k instanceof Tuple) ? 'list' : 'value'} as a key`);
    return k;
  };
  const setItems = (target: unknown, items: unknown[]): void => {
    if (!(target instanceof Map)) fail('SETITEM(S) on something that is not a dict');
    if (items.length % 2) fail('SETITEMS with an odd number of items');
    const m = target as Map<unknown, unknown>;
    charge(items.length);
    for (let i = 0; i < items.length; i += 2) m.set(key(items[i], 'SETITEM'), items[i + 1]);
  };
  // _codecs.encode(text, encoding) as Python does it, for the encodings checkpoints use; others are refused.
  const encode = (text: unknown, encoding: unknown, fn: string): Buffer => {
    if (typeof text !== 'string') fail(`${fn}: the argument is not a str`);
    const enc = typeof encoding === 'string' ? encoding.toLowerCase().replace(/_/g, '-') : encoding === undefined ? 'utf-8' : null;
    const t = text as string;
    charge(t.length); // a new copy each call
    if (enc === 'latin1' || enc === 'latin-1' || enc === 'iso-8859-1' || enc === 'iso8859-1' || enc === 'l1') {
      if (/[^\u0000-\u00ff]/.test(t)) fail(`${fn}: a character outside latin-1 (Python raises UnicodeEncodeError)`);
      return Buffer.from(t, 'latin1');
    }
    if (enc === 'ascii') {
      if (/[^\u0000-\u007f]/.test(t)) fail(`${fn}: a character outside ASCII (Python raises UnicodeEncodeError)`);
      return Buffer.from(t, 'latin1');
    }
    if (enc === 'utf-8' || enc === 'utf8') return Buffer.from(t, 'utf8');
    return fail(`${fn}: encoding ${JSON.stringify(String(encoding)).slice(0, 40)} is not supported`);
  };
  const append = (target: unknown, items: unknown[]): void => {
    if (!Array.isArray(target) || target instanceof Tuple) fail('APPEND(S) on something that is not a list');
    charge(items.length);
    for (const x of items) (target as unknown[]).push(x);
  };

  // ---- what the allowed callables do ----
  const shapeArg = (v: unknown, what: string): number[] => {
    if (!Array.isArray(v) || !v.every((x) => isInt(x) && x >= 0)) fail(`${what} must be a tuple of non-negative integers`);
    return v as number[];
  };
  const rebuildTensor = (args: unknown[], fn: string): TensorRef => {
    const [storage, offset, size, stride, requiresGrad] = args;
    if (!(storage instanceof StorageRef)) fail(`${fn}: the first argument is not a storage`);
    const st = storage as StorageRef;
    if (!isInt(offset) || offset < 0) fail(`${fn}: bad storage offset ${String(offset)}`);
    const shape = shapeArg(size, `${fn}: size`);
    const strides = shapeArg(stride, `${fn}: stride`);
    if (shape.length !== strides.length) fail(`${fn}: size has ${shape.length} dims but stride has ${strides.length}`);
    charge(shape.length);
    // The element count must be representable (libtorch refuses an int64 overflow; so do we, first).
    let count = 1;
    for (const d of shape) { count *= d; if (!Number.isSafeInteger(count)) fail(`${fn}: size [${shape}] has more elements than 2^53`); }
    // Every element the view can touch must lie inside the storage (unless the tensor is empty).
    if (!shape.includes(0)) {
      let last = offset as number;
      for (let i = 0; i < shape.length; i++) last += (shape[i] - 1) * strides[i];
      if (!Number.isSafeInteger(last) || last >= st.numel) {
        fail(`tensor of shape [${shape}] strides [${strides}] at offset ${offset} needs ${last + 1} elements, ` +
          `but storage '${st.key}' has ${st.numel}`);
      }
    }
    return new TensorRef(st, offset as number, shape, strides, requiresGrad === true);
  };
  const call = (fnObj: unknown, args: unknown, depth = 0): unknown => {
    if (!(fnObj instanceof PyGlobal)) fail('REDUCE on something that is not an allowed global');
    if (!Array.isArray(args)) fail('REDUCE arguments are not a tuple');
    if (depth > MAX_REBUILD_DEPTH) fail(`rebuild calls nested more than ${MAX_REBUILD_DEPTH} deep`);
    const a = args as unknown[];
    const fn = (fnObj as PyGlobal).fullName;
    charge(a.length);
    switch (fn) {
      case 'collections.OrderedDict':
      case 'collections.Counter': {
        const d = new OrderedDict();
        if (a.length > 1) fail(`${fn}: more than one positional argument`);
        if (a.length === 0 || a[0] === null) return d;
        if (a[0] instanceof Map) { charge(a[0].size); for (const [k, v] of a[0]) d.set(k, v); return d; }
        if (!Array.isArray(a[0])) fail(`${fn}: the argument is neither a dict nor a list of pairs`);
        charge((a[0] as unknown[]).length);
        for (const kv of a[0] as unknown[]) {
          if (!Array.isArray(kv) || kv.length !== 2) fail(`${fn}: items must be pairs`);
          d.set(key((kv as unknown[])[0], fn), (kv as unknown[])[1]);
        }
        return d;
      }
      case 'torch._utils._rebuild_tensor':
      case 'torch._utils._rebuild_tensor_v2':
        return rebuildTensor(fn.endsWith('v2') ? a : [...a.slice(0, 4), false], fn);
      case 'torch._utils._rebuild_tensor_v3': { // float8, uint16/32/64: bytes read as a dtype (dtype-records.ts)
        const dtype = dtypeOfGlobal(a[6]);
        if (!(a[0] instanceof StorageRef)) fail(`${fn}: the first argument is not a storage`);
        if (!dtype) fail(`${fn}: dtype ${String(a[6])} is not supported`);
        const st = storageAs(a[0] as StorageRef, dtype!);
        if (typeof st === 'string') fail(`${fn}: ${st}`);
        return rebuildTensor([st, ...a.slice(1, 5)], fn);
      }
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
      case 'torch.nn.parameter.Parameter': {
        if (!(a[0] instanceof TensorRef)) fail(`${fn}: the data is not a tensor`);
        const t = a[0] as TensorRef;
        t.requiresGrad = a.length > 1 ? a[1] === true : true;
        t.isParameter = true;
        return t;
      }
      case 'torch._tensor._rebuild_from_type_v2': {
        const [inner, type, innerArgs] = a;
        if (!(type instanceof PyGlobal) || !['torch.Tensor', 'torch.nn.parameter.Parameter'].includes(type.fullName)) {
          fail(`${fn}: tensor subclass '${String(type)}' is not supported`);
        }
        return call(inner, innerArgs, depth + 1);
      }
      case 'torch.jit._pickle.build_intlist':
      case 'torch.jit._pickle.build_doublelist':
      case 'torch.jit._pickle.build_boollist':
      case 'torch.jit._pickle.build_tensorlist':
      case 'torch.jit._pickle.restore_type_tag':
        if (!o.torchscript) fail(`calling '${fn}' is not supported`);
        return a[0];
      case 'torch.Size': {
        const dims = shapeArg(a[0] ?? [], 'torch.Size');
        charge(dims.length);
        return Tuple.from(dims) as Tuple<number>;
      }
      case 'torch.device': {
        // torch.device refuses unknown device types; so do we (a device string is later used to place tensors).
        const t = a[0];
        if (typeof t !== 'string' || !DEVICE_TYPE.test(t)) fail(`torch.device: ${JSON.stringify(String(t)).slice(0, 40)} is not a device type`);
        const idx = a[1];
        if (a.length > 1 && idx !== null && !(isInt(idx) && idx >= 0)) fail('torch.device: the index is not a non-negative integer');
        if (a.length > 1 && idx !== null && (t as string).includes(':')) fail('torch.device: an index given twice');
        return a.length > 1 && idx !== null ? `${t}:${String(idx)}` : t;
      }
      case 'builtins.set': {
        if (a.length === 0) return new Set();
        const src = a[0] instanceof Map ? [...a[0].keys()] : a[0] instanceof Set ? [...a[0]] : Array.isArray(a[0]) ? a[0] as unknown[] : null;
        if (src === null || a.length > 1) fail('builtins.set: the argument is not a list, tuple, set or dict');
        charge(src!.length);
        for (const x of src!) key(x, 'builtins.set');
        return new Set(src);
      }
      case 'builtins.bytearray':
        if (a.length === 0) return Buffer.alloc(0);
        if (Buffer.isBuffer(a[0]) && a.length === 1) { charge(a[0].length); return Buffer.from(a[0]); }
        if (typeof a[0] === 'string' && a.length >= 2) return encode(a[0], a[1], fn);
        return fail(`${fn}: unsupported argument (Python needs bytes, or a str with an encoding)`);
      case '_codecs.encode':
        return encode(a[0], a[1], fn);
      case 'builtins.complex': {
        const num = (x: unknown): number => (typeof x === 'number' ? x : typeof x === 'boolean' ? Number(x) : typeof x === 'bigint' ? Number(x)
          : fail('builtins.complex: an argument is not a number'));
        if (a.length > 2) fail('builtins.complex: more than two arguments');
        return new PyComplex(a.length > 0 ? num(a[0]) : 0, a.length > 1 ? num(a[1]) : 0);
      }
      case 'torch.serialization._get_layout': {
        // torch looks the name up among its layouts; anything else is a KeyError there, refused here.
        // Only a known layout name becomes a PyGlobal, so no text from the file can reach a writer.
        const name = typeof a[0] === 'string' ? a[0].replace(/^torch\./, '') : '';
        if (typeof a[0] !== 'string' || !a[0].startsWith('torch.') || !LAYOUTS.has(name)) {
          fail(`${fn}: ${JSON.stringify(String(a[0])).slice(0, 80)} is not a torch layout`);
        }
        return new PyGlobal('torch', name);
      }
      default: {
        const g = fnObj as PyGlobal;
        if (inert && !isAllowedGlobal(g.module, g.name)) return inert.reduce(g, a, fail);
        const short = fn.replace('torch._utils.', '');
        if (short in UNSUPPORTED_REBUILD) fail(`${fn}: ${UNSUPPORTED_REBUILD[short]} are not supported`);
        return fail(`calling '${fn}' is not supported`);
      }
    }
  };

  // The opcodes of torch/_weights_only_unpickler.py, and only those: what torch refuses is refused.
  for (;;) {
    const opPos = pos;
    const op = u8();
    charge(1);
    switch (op) {
      case 0x80: u8(); break; // PROTO (torch reads any protocol number here and only warns)
      case 0x2e: // STOP
        if (stack.length === 0) fail('STOP with an empty stack (corrupt pickle)');
        return stack[stack.length - 1];
      case 0x28: metastack.push(stack); stack = []; break; // MARK
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: stack.push(longFrom(bytes(u8()))); break; // LONG1 (at most 255 bytes)
      case 0x47: need(8); stack.push(data.readDoubleBE(pos)); pos += 8; break; // BINFLOAT
      case 0x58: { const b = bytes(u32()); charge(b.length >> 4); stack.push(text(b)); break; } // BINUNICODE
      case 0x55: stack.push(text(bytes(u8()))); break; // SHORT_BINSTRING (torch decodes it as UTF-8)
      case 0x29: stack.push(new Tuple()); break; // EMPTY_TUPLE
      case 0x74: { const items = popMark(); charge(items.length); stack.push(Tuple.from(items)); break; } // TUPLE (popMark first: it swaps `stack`)
      case 0x85: { const a = pop(); stack.push(Tuple.from([a])); break; } // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(Tuple.from([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(Tuple.from([a, b, c])); break; } // TUPLE3
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x61: { const v = pop(); append(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); append(top(), items); break; } // APPENDS
      case 0x7d: stack.push(new Map()); break; // EMPTY_DICT
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
      case 0x8f: stack.push(new Set()); break; // EMPTY_SET
      case 0x63: { const m = line(); const n = line(); stack.push(findGlobal(m, n)); break; } // GLOBAL
      case 0x52: { const args = pop(); const fn = pop(); stack.push(call(fn, args)); break; } // REDUCE
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args), which for the allowed containers is an empty one
        const args = pop(); const cls = pop();
        if (inert && cls instanceof PyGlobal && !isAllowedGlobal(cls.module, cls.name)) {
          if (!Array.isArray(args)) fail('NEWOBJ arguments are not a tuple');
          charge((args as unknown[]).length);
          stack.push(inert.newobj(cls, args as unknown[]));
          break;
        }
        const name = cls instanceof PyGlobal ? cls.fullName : '';
        if (name === 'torch.nn.parameter.Parameter') stack.push(call(cls, args));
        else if (name === 'collections.OrderedDict' || name === 'collections.Counter') stack.push(new OrderedDict());
        else if (name === 'builtins.set') stack.push(new Set());
        else if (o.torchscript && name.startsWith('__torch__.') && Array.isArray(args) && (args as unknown[]).length === 0) {
          stack.push(new ScriptObject(cls as PyGlobal));
        }
        else fail(`NEWOBJ of '${String(cls)}' is refused (only torch.nn.Parameter and plain containers)`);
        break;
      }
      case 0x62: { // BUILD: set an object's state; only an OrderedDict's attributes (a state_dict's _metadata)
        const state = pop(); const inst = top();
        if (inst instanceof ScriptObject && inst.state === undefined) {
          inst.state = state; // kept as data; a TorchScript class's own __setstate__ is never run
        } else if (inst instanceof OrderedDict && state instanceof Map) {
          charge(state.size);
          if (!inst.attrs) inst.attrs = new Map();
          for (const [k, v] of state as Map<string, unknown>) inst.attrs.set(k, v); // in place: repeated BUILDs stay linear
        } else if (inert?.build(inst, state, fail)) {
          // an allow-listed object's state, recorded as data (inert.ts)
        } else {
          // torch would call set_()/__setstate__ on a tensor with this state, changing what it holds:
          // plain checkpoints never do that, so it is refused rather than silently read differently.
          const what = inst === null ? 'None' : inst instanceof TensorRef ? 'tensor' : (inst as object)?.constructor?.name ?? typeof inst;
          fail(`BUILD on a ${what} with a ${state === null ? 'None' : (state as object)?.constructor?.name ?? typeof state} state is refused`);
        }
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!o.persistentLoad) fail('a persistent id appears but this pickle may not reference storages');
        stack.push(o.persistentLoad!(pid));
        break;
      }
      case 0x68: { const i = u8(); if (!memo.has(i)) fail(`BINGET ${i} of an unset memo slot`); stack.push(memo.get(i)); break; }
      case 0x6a: { const i = u32(); if (!memo.has(i)) fail(`LONG_BINGET ${i} of an unset memo slot`); stack.push(memo.get(i)); break; }
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      default:
        pos = opPos;
        fail(`pickle opcode 0x${op.toString(16).padStart(2, '0')} is refused (torch.load(weights_only=True) does not read it either)`);
    }
  }
}
