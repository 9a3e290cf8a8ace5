// Hostile-file construction for the security tests: a pickle assembled opcode by opcode (so a test can
// say exactly which construct it abuses, not rely on mutating good files), and zip archives written
// byte by byte (so a test can make what no well-behaved writer makes: duplicate names, deflate bombs).
import * as zlib from 'zlib';

/** Builds a pickle one opcode at a time; every method returns `this` so cases read as opcode lists. */
export class P {
  private parts: Buffer[] = [];
  raw(...bytes: (number | Buffer)[]): this {
    for (const b of bytes) this.parts.push(typeof b === 'number' ? Buffer.from([b]) : b);
    return this;
  }
  proto(n = 2): this { return this.raw(0x80, n); }
  stop(): this { return this.raw(0x2e); }
  mark(): this { return this.raw(0x28); }
  none(): this { return this.raw(0x4e); }
  bool(v: boolean): this { return this.raw(v ? 0x88 : 0x89); }
  int(v: number): this {
    if (v >= 0 && v < 256) return this.raw(0x4b, v);
    if (v >= -(2 ** 31) && v < 2 ** 31) { const b = Buffer.alloc(4); b.writeInt32LE(v); return this.raw(0x4a, b); }
    const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(v)); return this.raw(0x8a, 8, b); // LONG1
  }
  float(v: number): this { const b = Buffer.alloc(8); b.writeDoubleBE(v); return this.raw(0x47, b); }
  /** LONG1 (n <= 255 bytes) or LONG4 with `payload` as the little-endian bytes. */
  long(payload: Buffer, four = false): this {
    if (!four) return this.raw(0x8a, payload.length, payload);
    const n = Buffer.alloc(4); n.writeInt32LE(payload.length); return this.raw(0x8b, n, payload);
  }
  str(s: string): this { const b = Buffer.from(s, 'utf8'); const n = Buffer.alloc(4); n.writeUInt32LE(b.length); return this.raw(0x58, n, b); }
  global(module: string, name: string): this { return this.raw(0x63, Buffer.from(`${module}\n${name}\n`, 'utf8')); }
  emptyTuple(): this { return this.raw(0x29); }
  tuple(): this { return this.raw(0x74); }
  tuple1(): this { return this.raw(0x85); }
  tuple2(): this { return this.raw(0x86); }
  tuple3(): this { return this.raw(0x87); }
  emptyList(): this { return this.raw(0x5d); }
  append(): this { return this.raw(0x61); }
  appends(): this { return this.raw(0x65); }
  emptyDict(): this { return this.raw(0x7d); }
  setitem(): this { return this.raw(0x73); }
  setitems(): this { return this.raw(0x75); }
  reduce(): this { return this.raw(0x52); }
  newobj(): this { return this.raw(0x81); }
  build(): this { return this.raw(0x62); }
  persid(): this { return this.raw(0x51); }
  put(i: number): this { if (i < 256) return this.raw(0x71, i); const b = Buffer.alloc(4); b.writeUInt32LE(i); return this.raw(0x72, b); }
  get(i: number): this { if (i < 256) return this.raw(0x68, i); const b = Buffer.alloc(4); b.writeUInt32LE(i); return this.raw(0x6a, b); }
  /** A storage persistent id as torch.save writes it: ('storage', torch.<cls>, key, 'cpu', numel). */
  storage(key: string, numel: number, cls = 'FloatStorage'): this {
    return this.mark().str('storage').global('torch', cls).str(key).str('cpu').int(numel).tuple().persid();
  }
  /** _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict()). */
  tensor(key: string, numel: number, shape: number[], stride: number[], offset = 0): this {
    this.global('torch._utils', '_rebuild_tensor_v2').mark().storage(key, numel).int(offset);
    this.mark(); for (const d of shape) this.int(d); this.tuple();
    this.mark(); for (const d of stride) this.int(d); this.tuple();
    return this.bool(false).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
  }
  bytes(): Buffer { return Buffer.concat(this.parts); }
}

export interface ZipItem { name: string; data: Buffer; deflate?: boolean; /** claim this inflated size */ claimSize?: number }

/** A zip written byte by byte: any names (duplicates too), stored or deflated entries, no checks. */
export function zipOf(items: ZipItem[]): Buffer {
  const out: Buffer[] = [];
  const central: Buffer[] = [];
  let pos = 0;
  for (const it of items) {
    const body = it.deflate ? zlib.deflateRawSync(it.data) : it.data;
    const name = Buffer.from(it.name, 'utf8');
    const crc = zlib.crc32(it.data) >>> 0;
    const size = it.claimSize ?? it.data.length;
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt16LE(20, 4); lh.writeUInt16LE(it.deflate ? 8 : 0, 8);
    lh.writeUInt32LE(crc, 14); lh.writeUInt32LE(body.length, 18); lh.writeUInt32LE(size, 22); lh.writeUInt16LE(name.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt16LE(20, 4); ch.writeUInt16LE(20, 6); ch.writeUInt16LE(it.deflate ? 8 : 0, 10);
    ch.writeUInt32LE(crc, 16); ch.writeUInt32LE(body.length, 20); ch.writeUInt32LE(size, 24); ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(pos, 42);
    central.push(ch, name);
    out.push(lh, name, body);
    pos += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0); eocd.writeUInt16LE(items.length, 8); eocd.writeUInt16LE(items.length, 10);
  eocd.writeUInt32LE(cd.length, 12); eocd.writeUInt32LE(pos, 16);
  return Buffer.concat([...out, cd, eocd]);
}

/** A torch.save-layout archive ('archive/data.pkl', 'archive/data/<key>', ...) around a pickle. */
export function torchFileOf(pkl: Buffer, storages: Record<string, Buffer> = {}, extra: ZipItem[] = [], deflatePickle = false): Buffer {
  return zipOf([
    { name: 'archive/data.pkl', data: pkl, deflate: deflatePickle },
    { name: 'archive/byteorder', data: Buffer.from('little') },
    ...Object.entries(storages).map(([k, d]) => ({ name: `archive/data/${k}`, data: d })),
    { name: 'archive/version', data: Buffer.from('3\n') },
    ...extra,
  ]);
}

export function f32(...v: number[]): Buffer { const b = Buffer.alloc(4 * v.length); v.forEach((x, i) => b.writeFloatLE(x, 4 * i)); return b; }
