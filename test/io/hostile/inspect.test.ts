// `squisher inspect` on files built to break a printer: 130k tensors (a spread of that many arguments
// overflowed the stack), cyclic and very deep hyperparameters, dicts shared thousands of times, and
// names carrying terminal escape sequences. Each must print, bounded, with every control character escaped.
import * as fs from 'fs';
import * as path from 'path';
import { inspect } from '../../../lib/io';
import { runCli } from '../../helpers/cli';
import { P, f32, torchFileOf } from '../../helpers/pickle-builder';
import { tmpDir } from '../../helpers/oracle';

const dir = tmpDir('squisher-inspect-');
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

test('a valid safetensors file of 130,000 tensors inspects (no stack overflow)', async () => {
  const n = 130_000;
  const header: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) header[`layers.${i}.w`] = { dtype: 'F32', shape: [1], data_offsets: [4 * i, 4 * i + 4] };
  let json = Buffer.from(JSON.stringify(header));
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(json.length));
  const f = path.join(dir, 'many.safetensors');
  fs.writeFileSync(f, Buffer.concat([len, json, Buffer.alloc(4 * n)]));
  const r = await runCli('inspect', f);
  expect(r.out.split('\n')[0]).toMatch(/many\.safetensors: safetensors, 130000 tensors/);
  expect(r.out.split('\n').length).toBe(n + 1);
});

test('cyclic and 50,000-deep hyperparameters print bounded; shared dicts are walked once', async () => {
  const p = new P().proto().emptyDict();
  p.str('param_groups').emptyList().emptyDict();
  p.str('params').emptyList().int(0).append().setitem();
  p.str('lr').float(0.1).setitem();
  p.str('cyclic').emptyList().put(0).get(0).append().setitem(); // a list that contains itself
  p.str('deep');
  for (let i = 0; i < 50_000; i++) p.emptyList();
  for (let i = 0; i < 49_999; i++) p.append();
  p.setitem().append().setitem();
  // 'shared': 12 levels of a dict whose 1000 keys all name the same dict below (1000^12 paths, 12 dicts).
  // (Built inside a holder dict, since torch's opcode set has no POP to drop the levels from the stack.)
  p.str('shared').emptyDict().str('l0').emptyDict().put(1).setitem();
  for (let lvl = 1; lvl <= 12; lvl++) {
    p.str(`l${lvl}`).emptyDict().mark();
    for (let k = 0; k < 1000; k++) p.str(`k${k}`).get(1);
    p.setitems().put(1).setitem();
  }
  p.setitem();
  p.str('w').tensor('0', 2, [2], [1]).setitem();
  const f = path.join(dir, 'groups.pt');
  fs.writeFileSync(f, torchFileOf(p.stop().bytes(), { 0: f32(1, 2) }));
  const r = await runCli('inspect', f);
  expect(r.err).toBe('');
  const line = r.out.split('\n').find((l) => l.startsWith('hyperparameters param_groups.0:'))!;
  expect(line).toMatch(/lr=0\.1/);
  expect(line).toMatch(/cyclic=\[<cycle>\]/);
  expect(line.length).toBeLessThan(2000);
  expect(inspect(f).values.length).toBeLessThan(20_000);
});

test('names and strings with terminal escapes are printed escaped, never raw', async () => {
  const evil = ['\u001b[31mred\u001b[0m', 'a\u202eb', '\u009bc', 'bell\u0007', 'nl\nx'];
  const p = new P().proto().emptyDict();
  evil.forEach((k, i) => p.str(k).tensor(String(i), 1, [1], [1]).setitem());
  p.str('note').str('\u001b]0;owned\u0007').setitem();
  const f = path.join(dir, 'escapes.pt');
  fs.writeFileSync(f, torchFileOf(p.stop().bytes(), Object.fromEntries(evil.map((_, i) => [String(i), f32(i)]))));
  for (const args of [['inspect', f], ['inspect', '--json', f]]) {
    const r = await runCli(...args);
    expect(RAW_CONTROL.test(r.out)).toBe(false);
    expect(r.out.includes('\n') && r.out.split('\n').some((l) => l.startsWith('x '))).toBe(false); // 'nl\nx' stays one line
    expect(r.out).toMatch(/\\x1b\[31mred|\\u001b\[31mred/);
  }
  // --json stays valid JSON with the exact names.
  const j = JSON.parse((await runCli('inspect', '--json', f)).out);
  expect(j.tensors.map((t: { name: string }) => t.name)).toEqual(evil);
});
