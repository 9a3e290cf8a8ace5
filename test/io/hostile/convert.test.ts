// convert on hostile inputs: an expanded (stride-0) view whose few stored bytes declare gigabytes, and
// values nested deeper than any pickler writes. Refused with a CheckpointError naming the input, or
// written as torch writes them (the storage as is), never materialised and never a stack overflow.
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError, convert } from '../../../lib/io';
import { P, f32, torchFileOf } from '../../helpers/pickle-builder';
import { python, tmpDir } from '../../helpers/oracle';

const dir = tmpDir('squisher-convert-');
const BIG = 2 ** 30; // 4 GiB of float32 if materialised

const expanded = path.join(dir, 'expanded.pt');
fs.writeFileSync(expanded, torchFileOf(new P().proto().emptyDict().str('w').tensor('0', 1, [BIG], [0]).setitem().stop().bytes(), { 0: f32(7) }));

test('an expanded view declaring 4 GiB from 4 stored bytes: to safetensors is refused before any copy', () => {
  const out = path.join(dir, 'expanded.safetensors');
  const before = process.memoryUsage().rss;
  let err: unknown;
  try { convert(expanded, out); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(CheckpointError);
  expect((err as Error).message).toMatch(/expanded\.pt: tensor 'w' of shape \[1073741824\] is an expanded view of a 4-byte storage/);
  expect(process.memoryUsage().rss - before).toBeLessThan(256 << 20);
  expect(fs.existsSync(out)).toBe(false);
});

test('to .pt the storage is written as is (4 bytes), and torch reads back the same view', () => {
  const out = path.join(dir, 'expanded-out.pt');
  const before = process.memoryUsage().rss;
  convert(expanded, out);
  expect(process.memoryUsage().rss - before).toBeLessThan(256 << 20);
  expect(fs.statSync(out).size).toBeLessThan(4096);
  const r = python(`
import sys, json, torch
t = torch.load(sys.argv[1], weights_only=True)['w']
print(json.dumps([list(t.shape), list(t.stride()), t[0].item(), t[-1].item()]))`, [out]);
  expect(r).toEqual([[BIG], [0], 7, 7]);
});

test('values nested 5,000 deep: convert to .pt is a CheckpointError naming the input, not a stack overflow', () => {
  const p = new P().proto().emptyDict().str('deep');
  for (let i = 0; i < 5000; i++) p.emptyList();
  for (let i = 0; i < 4999; i++) p.append();
  p.setitem().str('w').tensor('0', 1, [1], [1]).setitem();
  const f = path.join(dir, 'deep.pt');
  fs.writeFileSync(f, torchFileOf(p.stop().bytes(), { 0: f32(1) }));
  const out = path.join(dir, 'deep-out.pt');
  let err: unknown;
  try { convert(f, out); } catch (e) { err = e; }
  expect(err).toBeInstanceOf(CheckpointError);
  expect((err as Error).message).toMatch(/deep\.pt: cannot convert: .*nested more than 1000 levels deep/);
  expect(fs.existsSync(out)).toBe(false);
  // To safetensors only the tensors are written: the deep value is dropped (and reported), not a failure.
  const r = convert(f, path.join(dir, 'deep.safetensors'));
  expect(r.tensors).toBe(1);
});
