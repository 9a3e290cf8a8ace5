// Hostile files at the container level: FIFOs and other non-regular paths, duplicate zip entries,
// deflate bombs. Each must be refused with a CheckpointError naming the file, before the work is done.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError, inspect, load } from '../../../lib/io';
import { P, f32, torchFileOf, zipOf } from '../../helpers/pickle-builder';
import { python, tmpDir } from '../../helpers/oracle';

const dir = tmpDir('squisher-hostile-files-');
const pkl = new P().proto().emptyDict().str('w').tensor('0', 2, [2], [1]).setitem().stop().bytes();

function refusal(f: string): Error {
  let err: unknown;
  try { load(f); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(CheckpointError);
  expect((err as Error).message.startsWith(f)).toBe(true);
  return err as Error;
}

test('a FIFO is refused at once, not waited on (no writer ever opens it)', () => {
  const f = path.join(dir, 'pipe.pt');
  expect(spawnSync('mkfifo', [f]).status).toBe(0);
  expect(refusal(f).message).toMatch(/not a regular file/);
  expect(() => inspect(f)).toThrow(CheckpointError);
});

test('a directory is refused as not a regular file', () => {
  expect(refusal(dir).message).toMatch(/not a regular file|cannot open/);
});

test('a zip naming data/0 twice is refused (torch picks either copy depending on the directory order)', () => {
  const f = path.join(dir, 'dup.pt');
  fs.writeFileSync(f, torchFileOf(pkl, { 0: f32(1, 2) }, [{ name: 'archive/data/0', data: f32(3, 4) }]));
  expect(refusal(f).message).toMatch(/entry 'archive\/data\/0' appears twice/);
  // torch's own reader gives different answers for the same duplicate in two directory orders (its
  // lookup is a binary search): the reason a single answer cannot match it.
  const a = path.join(dir, 'dup-a.pt');
  const b = path.join(dir, 'dup-b.pt');
  const seen = python<number[]>(`
import sys, io, json, struct, warnings, zipfile, torch
warnings.filterwarnings('ignore')
buf = io.BytesIO(); torch.save({'w': torch.tensor([1., 2.]), 'v': torch.tensor([5., 6.])}, buf)
zin = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
base = [(n, zin.read(n)) for n in zin.namelist() if not n.endswith('data/0')]
A, B = struct.pack('<2f', 10., 20.), struct.pack('<2f', 30., 40.)
for f, order in [(sys.argv[1], [('archive/data/0', A), ('archive/data/0', B)] + base),
                 (sys.argv[2], [('archive/data/0', A)] + base + [('archive/data/0', B)])]:
    with zipfile.ZipFile(f, 'w') as z:
        for n, d in order: z.writestr(n, d)
print(json.dumps([torch.load(f, weights_only=True)['w'][0].item() for f in sys.argv[1:]]))`, [a, b]);
  expect(seen).toEqual([10, 30]);
  refusal(a); refusal(b);
});

test('a 1 MB deflate bomb claiming 1 GiB for data.pkl is refused before inflating', () => {
  const f = path.join(dir, 'bomb.pt');
  // 1 MiB of zeros deflates to ~1 KB; 1024 copies of that stream make a ~1 MB body, declared as 1 GiB.
  // (Only the first stream would inflate; the reader must refuse on the claim, before reading any.)
  const chunk: Buffer = require('zlib').deflateRawSync(Buffer.alloc(1 << 20), { level: 9 });
  const body = Buffer.concat(Array.from({ length: 1024 }, () => chunk));
  const z = zipOf([{ name: 'archive/data.pkl', data: Buffer.alloc(0) }]);
  // Rewrite the one entry: method 8, the body, 1 GiB claimed (zipOf wrote a stored empty entry).
  const name = Buffer.from('archive/data.pkl');
  const lh = Buffer.from(z.subarray(0, 30 + name.length));
  lh.writeUInt16LE(8, 8); lh.writeUInt32LE(body.length, 18); lh.writeUInt32LE(1 << 30, 22);
  const ch = Buffer.from(z.subarray(30 + name.length, 30 + name.length + 46 + name.length));
  ch.writeUInt16LE(8, 10); ch.writeUInt32LE(body.length, 20); ch.writeUInt32LE(1 << 30, 24);
  const eocd = Buffer.from(z.subarray(z.length - 22));
  eocd.writeUInt32LE(lh.length + body.length, 16);
  fs.writeFileSync(f, Buffer.concat([lh, body, ch, eocd]));
  const before = process.memoryUsage().rss;
  expect(refusal(f).message).toMatch(/claims 1073741824 bytes from \d+ compressed bytes, over the 100:1 inflation limit/);
  expect(process.memoryUsage().rss - before).toBeLessThan(256 << 20);
});

test('a deflated data.pkl within the ratio still loads (the limit does not refuse honest compression)', () => {
  const f = path.join(dir, 'deflated.pt');
  fs.writeFileSync(f, torchFileOf(pkl, { 0: f32(1, 2) }, [], true));
  const v = load(f) as Map<string, any>;
  expect(v.get('w').toList()).toEqual([1, 2]);
  v.get('w').dispose();
});
