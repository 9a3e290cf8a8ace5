// ZIP reading and writing for torch.save / TorchScript archives.
//
// Why not an npm library: PyTorch's archives are uncompressed ("stored") zips, often zip64, whose
// records we must read by position, one tensor at a time, without loading the file; the common
// packages (adm-zip, jszip) read the whole file into memory, and yauzl only streams. The subset we
// need (central directory, zip64, stored + deflate entries, stored writes with aligned data) is small.
//
// Every number read from the file is checked against the file's size before it is used, so a
// corrupt or hostile zip gives a CheckpointError, never a huge allocation or a read past the end.
// Deflated entries may claim at most MAX_INFLATE_RATIO times their compressed size, and zlib stops
// inflating at the claimed size, so a bomb is refused while it inflates, not after. An archive that
// names an entry twice is refused: torch's reader picks either copy depending on the directory's
// order (a binary search), so no answer would match it reliably.
import * as fs from 'fs';
import * as zlib from 'zlib';
import { INFLATE_SLACK, MAX_INFLATE_RATIO } from './limits';
import { CheckpointError, Source } from './source';

export interface ZipEntry {
  name: string;
  method: number; // 0 = stored, 8 = deflate
  compressedSize: number;
  size: number;
  crc: number;
  headerOffset: number;
}

const EOCD_SIG = 0x06054b50;
const EOCD64_LOC_SIG = 0x07064b50;
const EOCD64_SIG = 0x06064b50;
const CDH_SIG = 0x02014b50;
const LFH_SIG = 0x04034b50;

function u64(b: Buffer, off: number, src: Source, what: string): number {
  const v = b.readBigUInt64LE(off);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CheckpointError(src.name, `zip: ${what} ${v} is not a plausible size`);
  return Number(v);
}

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private dataOffsets = new Map<string, number>();

  constructor(readonly src: Source) {
    const fail = (p: string): never => { throw new CheckpointError(src.name, `not a valid zip archive: ${p}`); };
    if (src.size < 22) fail(`only ${src.size} bytes`);
    // The end-of-central-directory record is within the last 22 + 65535 bytes (its comment is <= 64 KiB).
    const tailLen = Math.min(src.size, 22 + 65535);
    const tail = Buffer.from(src.read(src.size - tailLen, tailLen));
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD_SIG) { eocd = i; break; }
    }
    if (eocd < 0) fail('no end-of-central-directory record (truncated, or not a zip)');
    let count = tail.readUInt16LE(eocd + 10);
    let cdSize = tail.readUInt32LE(eocd + 12);
    let cdOffset = tail.readUInt32LE(eocd + 16);
    const eocdPos = src.size - tailLen + eocd;
    // zip64: the locator sits just before the EOCD and points at the zip64 EOCD record.
    if (eocdPos >= 20) {
      const loc = src.read(eocdPos - 20, 20);
      if (loc.readUInt32LE(0) === EOCD64_LOC_SIG) {
        const recPos = u64(loc, 8, src, 'zip64 record offset');
        if (recPos + 56 > src.size) fail('zip64 end record is past the end of the file');
        const rec = src.read(recPos, 56);
        if (rec.readUInt32LE(0) !== EOCD64_SIG) fail('bad zip64 end record signature');
        count = u64(rec, 32, src, 'entry count');
        cdSize = u64(rec, 40, src, 'central directory size');
        cdOffset = u64(rec, 48, src, 'central directory offset');
      }
    }
    if (cdOffset + cdSize > src.size) fail(`central directory (${cdSize} bytes at ${cdOffset}) is past the end of the file`);
    if (count * 46 > cdSize) fail(`${count} entries cannot fit in a ${cdSize}-byte central directory`);
    const cd = Buffer.from(src.read(cdOffset, cdSize));
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cd.length || cd.readUInt32LE(p) !== CDH_SIG) fail(`central directory entry ${i} is damaged`);
      const method = cd.readUInt16LE(p + 10);
      const crc = cd.readUInt32LE(p + 16);
      let compressedSize = cd.readUInt32LE(p + 20);
      let size = cd.readUInt32LE(p + 24);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      let headerOffset = cd.readUInt32LE(p + 42);
      const end = p + 46 + nameLen + extraLen + commentLen;
      if (end > cd.length) fail(`central directory entry ${i} runs past the directory`);
      const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
      // zip64 extra field: the 64-bit values appear only for the fields whose 32-bit slot is 0xFFFFFFFF.
      let e = p + 46 + nameLen;
      const eEnd = e + extraLen;
      while (e + 4 <= eEnd) {
        const id = cd.readUInt16LE(e);
        const len = cd.readUInt16LE(e + 2);
        if (e + 4 + len > eEnd) fail(`entry '${name}' has a damaged extra field`);
        if (id === 0x0001) {
          let q = e + 4;
          const take = (): number => {
            if (q + 8 > e + 4 + len) fail(`entry '${name}' has a short zip64 field`);
            const v = u64(cd, q, src, `entry '${name}' size`);
            q += 8;
            return v;
          };
          if (size === 0xffffffff) size = take();
          if (compressedSize === 0xffffffff) compressedSize = take();
          if (headerOffset === 0xffffffff) headerOffset = take();
        }
        e += 4 + len;
      }
      if (method !== 0 && method !== 8) fail(`entry '${name}' uses compression method ${method} (only stored and deflate are read)`);
      if (headerOffset + 30 + compressedSize > src.size) fail(`entry '${name}' (${compressedSize} bytes at ${headerOffset}) is past the end of the file`);
      if (method === 0 && size !== compressedSize) fail(`stored entry '${name}' has size ${size} but ${compressedSize} stored bytes`);
      if (method === 8 && size > compressedSize * MAX_INFLATE_RATIO + INFLATE_SLACK) {
        fail(`entry '${name}' claims ${size} bytes from ${compressedSize} compressed bytes, over the ${MAX_INFLATE_RATIO}:1 ` +
          'inflation limit (a zip bomb?)');
      }
      if (this.entries.has(name)) fail(`entry '${name}' appears twice (readers disagree on which copy to use)`);
      this.entries.set(name, { name, method, compressedSize, size, crc, headerOffset });
      p = end;
    }
  }

  /** The file offset of an entry's first data byte (read from its local header, checked). */
  dataOffset(e: ZipEntry): number {
    let off = this.dataOffsets.get(e.name);
    if (off !== undefined) return off;
    const h = this.src.read(e.headerOffset, 30);
    if (h.readUInt32LE(0) !== LFH_SIG) throw new CheckpointError(this.src.name, `zip: entry '${e.name}' has a damaged local header`);
    off = e.headerOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
    if (off + e.compressedSize > this.src.size) {
      throw new CheckpointError(this.src.name, `zip: entry '${e.name}' data runs past the end of the file (truncated?)`);
    }
    this.dataOffsets.set(e.name, off);
    return off;
  }

  /**
   * An entry's bytes. Stored entries are read by position (into `into` when given, to reuse memory);
   * deflated ones are inflated with the output capped at the declared size, so a bomb cannot grow.
   */
  read(name: string, opts: { into?: Buffer; verifyCrc?: boolean; maxBytes?: number } = {}): Buffer {
    const e = this.entries.get(name);
    if (!e) throw new CheckpointError(this.src.name, `zip: no entry '${name}'`);
    if (opts.maxBytes !== undefined && e.size > opts.maxBytes) {
      throw new CheckpointError(this.src.name, `zip: entry '${name}' is ${e.size} bytes, over the ${opts.maxBytes}-byte limit for it`);
    }
    const off = this.dataOffset(e);
    let out: Buffer;
    if (e.method === 0) {
      out = this.src.read(off, e.size, opts.into);
    } else {
      const raw = this.src.read(off, e.compressedSize);
      try {
        out = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
      } catch (err) {
        throw new CheckpointError(this.src.name, `zip: entry '${name}' does not inflate to its declared ${e.size} bytes: ${(err as Error).message}`);
      }
      if (out.length !== e.size) throw new CheckpointError(this.src.name, `zip: entry '${name}' inflates to ${out.length} bytes, not the declared ${e.size}`);
    }
    if (opts.verifyCrc && (zlib.crc32(out) >>> 0) !== e.crc) {
      throw new CheckpointError(this.src.name, `zip: entry '${name}' fails its CRC-32 check (corrupt)`);
    }
    return out;
  }
}

// ---- writing ----

/**
 * Writes a zip of stored entries the way PyTorch's writer does: each entry's data starts on a multiple
 * of `align` bytes (padding goes into the local header's extra field), zip64 only when needed.
 * Entries are streamed to `fd`: only one record is in memory at a time.
 */
export class ZipWriter {
  private pos = 0;
  private central: Buffer[] = [];
  private count = 0;
  constructor(private readonly fd: number, private readonly align = 64) {}

  private write(b: Buffer): void {
    let done = 0;
    while (done < b.length) done += fs.writeSync(this.fd, b, done, b.length - done, this.pos + done);
    this.pos += b.length;
  }

  /** Adds one entry whose data is the concatenation of `parts`. */
  add(name: string, parts: Buffer | Buffer[]): void {
    const chunks = Array.isArray(parts) ? parts : [parts];
    let size = 0;
    let crc = 0;
    for (const c of chunks) { size += c.length; crc = zlib.crc32(c, crc); }
    const nameBuf = Buffer.from(name, 'utf8');
    const offset = this.pos;
    const big = size >= 0xffffffff || offset >= 0xffffffff;
    // Local header: zip64 extra (sizes) when big, then padding ("FB" field, as PyTorch) to align the data.
    const z64Local = size >= 0xffffffff ? 20 : 0;
    let pad = (this.align - ((offset + 30 + nameBuf.length + z64Local + 4) % this.align)) % this.align;
    const extra = Buffer.alloc(z64Local + 4 + pad);
    let x = 0;
    if (z64Local) {
      extra.writeUInt16LE(0x0001, 0); extra.writeUInt16LE(16, 2);
      extra.writeBigUInt64LE(BigInt(size), 4); extra.writeBigUInt64LE(BigInt(size), 12);
      x = 20;
    }
    extra.writeUInt16LE(0x4246, x); extra.writeUInt16LE(pad, x + 2);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(LFH_SIG, 0);
    lh.writeUInt16LE(z64Local ? 45 : 20, 4); // version needed
    lh.writeUInt16LE(0x0800, 6); // UTF-8 names
    lh.writeUInt32LE(crc >>> 0, 14);
    lh.writeUInt32LE(z64Local ? 0xffffffff : size, 18);
    lh.writeUInt32LE(z64Local ? 0xffffffff : size, 22);
    lh.writeUInt16LE(nameBuf.length, 26);
    lh.writeUInt16LE(extra.length, 28);
    this.write(Buffer.concat([lh, nameBuf, extra]));
    for (const c of chunks) this.write(c);

    const cExtra = Buffer.alloc(big ? 28 : 0);
    if (big) {
      cExtra.writeUInt16LE(0x0001, 0); cExtra.writeUInt16LE(24, 2);
      cExtra.writeBigUInt64LE(BigInt(size), 4); cExtra.writeBigUInt64LE(BigInt(size), 12);
      cExtra.writeBigUInt64LE(BigInt(offset), 20);
    }
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(CDH_SIG, 0);
    ch.writeUInt16LE(45, 4); ch.writeUInt16LE(big ? 45 : 20, 6);
    ch.writeUInt16LE(0x0800, 8);
    ch.writeUInt32LE(crc >>> 0, 16);
    ch.writeUInt32LE(big ? 0xffffffff : size, 20);
    ch.writeUInt32LE(big ? 0xffffffff : size, 24);
    ch.writeUInt16LE(nameBuf.length, 28);
    ch.writeUInt16LE(cExtra.length, 30);
    ch.writeUInt32LE(big ? 0xffffffff : offset, 42);
    this.central.push(ch, nameBuf, cExtra);
    this.count++;
  }

  /** Writes the central directory and end records. */
  finish(): void {
    const cdOffset = this.pos;
    const cd = Buffer.concat(this.central);
    this.write(cd);
    const need64 = cdOffset >= 0xffffffff || this.count >= 0xffff || this.pos >= 0xffffffff;
    if (need64) {
      const recPos = this.pos;
      const rec = Buffer.alloc(56);
      rec.writeUInt32LE(EOCD64_SIG, 0); rec.writeBigUInt64LE(44n, 4);
      rec.writeUInt16LE(45, 12); rec.writeUInt16LE(45, 14);
      rec.writeBigUInt64LE(BigInt(this.count), 24); rec.writeBigUInt64LE(BigInt(this.count), 32);
      rec.writeBigUInt64LE(BigInt(cd.length), 40); rec.writeBigUInt64LE(BigInt(cdOffset), 48);
      const loc = Buffer.alloc(20);
      loc.writeUInt32LE(EOCD64_LOC_SIG, 0); loc.writeBigUInt64LE(BigInt(recPos), 8); loc.writeUInt32LE(1, 16);
      this.write(Buffer.concat([rec, loc]));
    }
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(EOCD_SIG, 0);
    eocd.writeUInt16LE(Math.min(this.count, 0xffff), 8);
    eocd.writeUInt16LE(Math.min(this.count, 0xffff), 10);
    eocd.writeUInt32LE(Math.min(cd.length, 0xffffffff), 12);
    eocd.writeUInt32LE(need64 ? 0xffffffff : cdOffset, 16);
    this.write(eocd);
  }
}
