// safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian header length, a
// JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}, then the
// raw little-endian bytes. Reading parses only the header and reads each tensor by position, so a
// file larger than RAM can be inspected and loaded tensor by tensor.
import * as fs from 'fs';
import { DType, DTYPE_SIZE, Tensor } from '../tensor';
import { WriteOptions, writeAtomic } from './atomic';
import { safetensorsDuplicateKey } from './json-keys';
import { CheckpointError, Source, openSource } from './source';
import { Scratch, readTensorBytes } from './tensor-bytes';
import { checkOptions, optionKeys } from '../options';

const ST_TO_DTYPE: Record<string, DType> = {
  F64: 'float64', F32: 'float32', F16: 'float16', BF16: 'bfloat16', I64: 'int64', I32: 'int32', I16: 'int16',
  I8: 'int8', U8: 'uint8', BOOL: 'bool', C64: 'complex64',
  // The names the safetensors library gives torch's float8 and unsigned dtypes (safetensors/torch.py _TYPES).
  F8_E4M3: 'float8_e4m3fn', F8_E5M2: 'float8_e5m2', F8_E4M3FNUZ: 'float8_e4m3fnuz', F8_E5M2FNUZ: 'float8_e5m2fnuz',
  U16: 'uint16', U32: 'uint32', U64: 'uint64',
};
const DTYPE_TO_ST: Record<string, string> = Object.fromEntries(Object.entries(ST_TO_DTYPE).map(([k, v]) => [v, k]));
/** The safetensors format itself caps its header at 100 MB. */
const MAX_HEADER = 100_000_000;

export interface SafetensorsEntry {
  name: string;
  dtype: DType;
  shape: number[];
  /** Absolute file offset of the first byte, and the byte length. */
  offset: number;
  nbytes: number;
}
export interface SafetensorsHeader {
  tensors: SafetensorsEntry[];
  metadata: Record<string, string>;
}

/** A Map of name -> Tensor that also carries the file's __metadata__. */
export class TensorMap extends Map<string, Tensor> {
  metadata: Record<string, string> = {};
}

export function readSafetensorsHeader(src: Source): SafetensorsHeader {
  const fail = (p: string): never => { throw new CheckpointError(src.name, `safetensors: ${p}`); };
  if (src.size < 8) fail(`only ${src.size} bytes: not a safetensors file`);
  const n = src.read(0, 8).readBigUInt64LE(0);
  if (n > BigInt(Math.min(MAX_HEADER, src.size - 8))) fail(`header length ${n} is larger than the file or the 100 MB limit`);
  let h: any;
  const text = src.read(8, Number(n)).toString('utf8');
  try {
    h = JSON.parse(text);
  } catch (e) {
    return fail(`the header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof h !== 'object' || h === null || Array.isArray(h)) fail('the header is not a JSON object');
  const dup = safetensorsDuplicateKey(text);
  if (dup) fail(`the header names ${dup.length === 1 ? `'${dup[0]}'` : `field '${dup[1]}' of tensor '${dup[0]}'`} twice (the safetensors library refuses it)`);
  const base = 8 + Number(n);
  const dataSize = src.size - base;
  const metadata: Record<string, string> = {};
  const tensors: SafetensorsEntry[] = [];
  for (const [name, v] of Object.entries<any>(h)) {
    if (name === '__metadata__') {
      if (typeof v !== 'object' || v === null) fail('__metadata__ is not an object');
      for (const [k, x] of Object.entries(v)) {
        if (typeof x !== 'string') fail(`__metadata__ value '${k}' is not a string`);
        metadata[k] = x as string;
      }
      continue;
    }
    const dtype = ST_TO_DTYPE[v?.dtype];
    if (!dtype) fail(`tensor '${name}': dtype ${JSON.stringify(v?.dtype)} is not supported`);
    const shape = v.shape;
    if (!Array.isArray(shape) || !shape.every((d: unknown) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      fail(`tensor '${name}': bad shape ${JSON.stringify(shape)}`);
    }
    const offs = v.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d: unknown) => Number.isSafeInteger(d) && (d as number) >= 0) ||
        offs[0] > offs[1] || offs[1] > dataSize) {
      fail(`tensor '${name}': data_offsets ${JSON.stringify(offs)} are outside the ${dataSize}-byte data section`);
    }
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    const nbytes = numel * DTYPE_SIZE[dtype];
    if (nbytes !== offs[1] - offs[0]) {
      fail(`tensor '${name}': shape [${shape}] of ${dtype} needs ${nbytes} bytes but data_offsets span ${offs[1] - offs[0]}`);
    }
    tensors.push({ name, dtype, shape, offset: base + offs[0], nbytes });
  }
  // As the safetensors library: the tensors, in offset order, tile the data section exactly: no overlap
  // (two names reading the same bytes), no gap, nothing after the last.
  const byOffset = [...tensors].sort((a, b) => a.offset - b.offset || a.nbytes - b.nbytes);
  let end = base;
  for (const t of byOffset) {
    if (t.offset !== end) {
      fail(`tensor '${t.name}': data_offsets [${t.offset - base}, ${t.offset - base + t.nbytes}] ` +
        `${t.offset < end ? 'overlap the tensor before it' : 'leave a gap after the tensor before it'} (the safetensors library refuses it)`);
    }
    end = t.offset + t.nbytes;
  }
  if (end !== src.size) fail(`the tensors cover ${end - base} of the ${dataSize} data bytes (the safetensors library refuses a file not fully covered)`);
  return { tensors, metadata };
}

/** Reads the header of a safetensors file (no tensor data). */
export function inspectSafetensors(file: string | Uint8Array, name?: string): SafetensorsHeader {
  const src = openSource(file, name);
  try { return readSafetensorsHeader(src); } finally { src.close(); }
}

export interface SafetensorsLoadOptions {
  /** Only these tensors (the others are never read). Unknown names are an error. */
  keys?: string[];
  /** 'cpu' (default) or a CUDA device. */
  device?: string;
  /** For a Buffer / Uint8Array input: the name error messages give it (default '<buffer>'). */
  name?: string;
}
const LOAD_ST_OPTIONS = optionKeys<SafetensorsLoadOptions>('loadSafetensors', { keys: true, device: true, name: true });

/** Loads tensors from a safetensors file, each read by position. */
export function loadSafetensors(file: string | Uint8Array, opts: SafetensorsLoadOptions = {}): TensorMap {
  checkOptions('loadSafetensors', opts, LOAD_ST_OPTIONS);
  const src = openSource(file, opts.name);
  const out = new TensorMap();
  try {
    const h = readSafetensorsHeader(src);
    out.metadata = h.metadata;
    let entries = h.tensors;
    if (opts.keys) {
      const by = new Map(entries.map((e) => [e.name, e]));
      entries = opts.keys.map((k) => by.get(k) ?? (() => { throw new CheckpointError(src.name, `safetensors: no tensor '${k}'`); })());
    }
    const scratch: Scratch = { buf: null };
    for (const e of entries) {
      const flat = readTensorBytes(src, e.offset, e.nbytes, e.dtype, scratch);
      let t = flat.reshape(e.shape);
      flat.dispose();
      if (opts.device && opts.device !== 'cpu') { const m = t.to(opts.device); t.dispose(); t = m; }
      out.set(e.name, t);
    }
    return out;
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  } finally {
    src.close();
  }
}

export interface SafetensorsSaveOptions extends WriteOptions {
  metadata?: Record<string, string>;
}
const SAVE_ST_OPTIONS = optionKeys<SafetensorsSaveOptions>('saveSafetensors', { overwrite: true, metadata: true });

/**
 * Writes tensors as safetensors (each as a contiguous copy: the format cannot share storage). The
 * header is padded with spaces to a multiple of 8 bytes, as the reference writer does.
 */
export function saveSafetensors(file: string, tensors: Map<string, Tensor> | Record<string, Tensor>,
  opts: SafetensorsSaveOptions = {}): void {
  checkOptions('saveSafetensors', opts, SAVE_ST_OPTIONS);
  const items = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (opts.metadata) {
    for (const [k, v] of Object.entries(opts.metadata)) {
      if (typeof v !== 'string') throw new TypeError(`saveSafetensors: metadata '${k}' must be a string`);
    }
    header.__metadata__ = opts.metadata;
  }
  let off = 0;
  for (const [name, t] of items) {
    if (!(t instanceof Tensor)) throw new TypeError(`saveSafetensors: '${name}' is not a Tensor`);
    if (name === '__metadata__') throw new TypeError("saveSafetensors: '__metadata__' is reserved");
    const st = DTYPE_TO_ST[t.dtype];
    if (!st) throw new TypeError(`saveSafetensors: '${name}' has dtype ${t.dtype}, which safetensors cannot hold`);
    header[name] = { dtype: st, shape: t.shape, data_offsets: [off, off + t.nbytes] };
    off += t.nbytes;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeAtomic(file, opts, (fd) => {
    let pos = 0;
    const put = (b: Buffer): void => { let d = 0; while (d < b.length) d += fs.writeSync(fd, b, d, b.length - d, pos + d); pos += b.length; };
    put(len);
    put(json);
    for (const [, t] of items) put(t.toBuffer());
  });
}
