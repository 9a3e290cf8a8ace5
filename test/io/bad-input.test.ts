// Hostile and broken files: each gives a CheckpointError naming the file and the problem, quickly, with
// bounded memory. Files are built from real fixtures, with one thing broken each.
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError, load } from '../../lib/io';
import { BufferSource } from '../../lib/io/source';
import { ZipReader, ZipWriter } from '../../lib/io/zip';
import { fixture, tmpDir } from '../helpers/oracle';
import { P } from '../helpers/pickle-builder';

const dir = tmpDir();
const good = fs.readFileSync(fixture('checkpoints/state_dict.pt'));

/** A torch.save-shaped zip with the given records (name -> bytes), written by our ZipWriter. */
function zipOf(name: string, records: [string, Buffer][]): string {
  const p = path.join(dir, name);
  const fd = fs.openSync(p, 'w');
  const z = new ZipWriter(fd);
  for (const [n, b] of records) z.add(n, b);
  z.finish();
  fs.closeSync(fd);
  return p;
}
/** The records of the good fixture, with `change` applied. */
function variant(name: string, change: (recs: Map<string, Buffer>) => void): string {
  const zr = new ZipReader(new BufferSource(good));
  const recs = new Map([...zr.entries.keys()].map((k) => [k, Buffer.from(zr.read(k))]));
  change(recs);
  return zipOf(name, [...recs]);
}
/** A pickle of one tensor whose persistent id / view are whatever the test says (built opcode by opcode:
 *  the library's writer refuses to emit globals outside its table, such as an unknown storage class). */
function tensorPickle(pid: [string, string, number], shape: number[], strides: number[], offset = 0): Buffer {
  const p = new P().proto().emptyDict().str('w').global('torch._utils', '_rebuild_tensor_v2').mark().storage(pid[1], pid[2], pid[0]).int(offset);
  p.mark(); for (const d of shape) p.int(d); p.tuple();
  p.mark(); for (const d of strides) p.int(d); p.tuple();
  return p.bool(false).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce().setitem().stop().bytes();
}

const cases: [string, () => string, RegExp][] = [
  ['truncated zip', () => { const p = path.join(dir, 'trunc.pt'); fs.writeFileSync(p, good.subarray(0, good.length >> 1)); return p; },
    /trunc\.pt: not a valid zip archive: no end-of-central-directory record/],
  ['empty file', () => { const p = path.join(dir, 'empty.pt'); fs.writeFileSync(p, ''); return p; }, /empty\.pt: not a PyTorch checkpoint/],
  ['pickle stops mid-stream', () => variant('midstream.pt', (r) => r.set('state_dict/data.pkl', r.get('state_dict/data.pkl')!.subarray(0, 100))),
    /midstream\.pt: state_dict\/data\.pkl: the pickle stops mid-stream/],
  ['storage shorter than declared', () => variant('short.pt', (r) => r.set('state_dict/data/0', r.get('state_dict/data/0')!.subarray(0, 8))),
    /short\.pt: .*storage '0' declares 30 float32 elements \(120 bytes\) but the archive holds 8 bytes/],
  ['view past the storage', () => zipOf('extent.pt', [['a/data.pkl', tensorPickle(['FloatStorage', '0', 4], [3, 3], [3, 1])], ['a/data/0', Buffer.alloc(16)]]),
    /extent\.pt: .*shape \[3,3\] strides \[3,1\] at offset 0 needs 9 elements, but storage '0' has 4/],
  ['petabyte storage', () => zipOf('peta.pt', [['a/data.pkl', tensorPickle(['FloatStorage', '0', 2 ** 48], [2 ** 48], [1])], ['a/data/0', Buffer.alloc(16)]]),
    /peta\.pt: .*storage '0' declares 281474976710656 float32 elements .* but the archive holds 16 bytes/],
  ['missing storage record', () => zipOf('nostore.pt', [['a/data.pkl', tensorPickle(['FloatStorage', '7', 1], [1], [1])]]),
    /nostore\.pt: .*storage '7' is missing from the archive/],
  ['unknown storage type', () => zipOf('fp8.pt', [['a/data.pkl', tensorPickle(['Float8_e4m3fnStorage', '0', 1], [1], [1])], ['a/data/0', Buffer.alloc(1)]]),
    /fp8\.pt: .*refused global 'torch\.Float8_e4m3fnStorage'/],
  ['zip bomb (claimed size beyond deflate)', () => {
    const p = variant('bomb.pt', () => undefined);
    const b = fs.readFileSync(p);
    // Mark data.pkl deflated with a 4 GB claimed size in the central directory.
    const cd = b.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    b.writeUInt16LE(8, cd + 10); b.writeUInt32LE(0xfffffff0, cd + 24);
    fs.writeFileSync(p, b);
    return p;
  }, /bomb\.pt: not a valid zip archive: entry 'state_dict\/data\.pkl' claims \d+ bytes from \d+ compressed bytes.*zip bomb/],
];

for (const [what, make, msg] of cases) {
  test(what, () => {
    const p = make();
    let err: unknown;
    try { load(p); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(msg);
  });
}

test('a real deflate bomb: inflation stops at the declared size', () => {
  const zlib = require('zlib');
  const p = variant('realbomb.pt', () => undefined);
  const b = fs.readFileSync(p);
  const zr = new ZipReader(new BufferSource(b));
  const e = zr.entries.get('state_dict/data.pkl')!;
  const bomb: Buffer = zlib.deflateRawSync(Buffer.alloc(50 << 20)); // 50 MB of zeros in ~50 KB
  expect(bomb.length).toBeGreaterThan(e.size);
  // Splice the bomb in place of data.pkl's bytes, declaring the original (small) size.
  const off = zr.dataOffset(e);
  const out = Buffer.concat([b.subarray(0, off), bomb, b.subarray(off + e.size)]);
  const shift = bomb.length - e.size;
  const cd = out.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), off + bomb.length);
  out.writeUInt16LE(8, cd + 10); out.writeUInt32LE(bomb.length, cd + 20);
  // Later entries' header offsets and the directory's own offset move by `shift`.
  let q = cd;
  while (out.readUInt32LE(q) === 0x02014b50) {
    const ho = out.readUInt32LE(q + 42);
    if (ho > off) out.writeUInt32LE(ho + shift, q + 42);
    q += 46 + out.readUInt16LE(q + 28) + out.readUInt16LE(q + 30) + out.readUInt16LE(q + 32);
  }
  out.writeUInt32LE(out.readUInt32LE(q + 16) + shift, q + 16);
  fs.writeFileSync(p, out);
  expect(() => load(p)).toThrow(/realbomb\.pt: zip: entry 'state_dict\/data\.pkl' does not inflate to its declared \d+ bytes/);
});
