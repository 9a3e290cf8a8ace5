// Checkpoints from memory (an upload, a fetch body): load / loadStateDict / loadSafetensors take a Buffer
// or Uint8Array and give what the same file gives; errors carry the name the caller passes. And convert
// keeps a state_dict's _metadata, as torch.save(torch.load(x)) does.
import * as fs from 'fs';
import * as path from 'path';
import { BufferSource, CheckpointError, OrderedDict, convert, load, loadSafetensors, loadStateDict } from '../../lib/io';
import { Tensor } from '../../lib/tensor';
import { fixture, fixtureJson, python, tmpDir } from '../helpers/oracle';
import { compareValue, newCtx } from './compare';

const described = fixtureJson('checkpoints.json');
const ck = (n: string): string => fixture(path.join('checkpoints', n));

describe('load(bytes)', () => {
  test('torch.save bytes: every value equals what Python saved (Buffer and plain Uint8Array)', () => {
    for (const n of ['state_dict.pt', 'training.pt', 'views.pt', 'optim_adam.pt']) {
      const buf = fs.readFileSync(ck(n));
      compareValue(load(buf), described[n], '', newCtx());
      const u8 = new Uint8Array(buf.length + 3).subarray(3); // not a Buffer, not at offset 0 of its ArrayBuffer
      u8.set(buf);
      compareValue(load(u8), described[n], '', newCtx());
    }
  });
  test('safetensors bytes: load, loadSafetensors and loadStateDict equal the file', () => {
    const file = ck('model.safetensors');
    const want = loadSafetensors(file);
    for (const got of [load(fs.readFileSync(file)) as Map<string, Tensor>, loadSafetensors(fs.readFileSync(file)),
      loadStateDict(new Uint8Array(fs.readFileSync(file)))]) {
      expect([...got.keys()]).toEqual([...want.keys()]);
      for (const [k, t] of want) expect([k, got.get(k)!.toBuffer().equals(t.toBuffer())]).toEqual([k, true]);
    }
    expect((loadSafetensors(fs.readFileSync(file))).metadata).toEqual(want.metadata);
  });
  test('TorchScript bytes: its parameters and buffers, as from the file', () => {
    const a = load(ck('scripted.pt')) as Map<string, Tensor>;
    const b = load(fs.readFileSync(ck('scripted.pt'))) as Map<string, Tensor>;
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [k, t] of a) expect(b.get(k)!.toBuffer().equals(t.toBuffer())).toBe(true);
  });
  test('bad bytes: a CheckpointError with the name the caller gave', () => {
    const junk = Buffer.from('this is not a checkpoint, just some uploaded text');
    expect(() => load(junk, { name: 'upload-42.pt' })).toThrow(CheckpointError);
    expect(() => load(junk, { name: 'upload-42.pt' })).toThrow(/^upload-42\.pt: /);
    expect(() => load(junk)).toThrow(/^<buffer>: /);
    const trunc = fs.readFileSync(ck('state_dict.pt')).subarray(0, 400);
    expect(() => load(trunc, { name: 'cut.pt' })).toThrow(/^cut\.pt: /);
    expect(() => loadSafetensors(fs.readFileSync(ck('model.safetensors')).subarray(0, 100), { name: 'cut.safetensors' })).toThrow(/^cut\.safetensors: safetensors: /);
    expect(() => load(fs.readFileSync(ck('evil_os_system.pt')), { name: 'evil.pt' })).toThrow(/^evil\.pt: .*refused global/);
  });
  test('BufferSource is public: reads by position with its name in errors', () => {
    const s = new BufferSource(new Uint8Array([1, 2, 3, 4]), 'four.bin');
    expect([...s.read(1, 2)]).toEqual([2, 3]);
    expect(() => s.read(3, 2)).toThrow(/^four\.bin: read of 2 bytes at 3 is past the end/);
  });
});

test("convert x.pth x.pt keeps the state_dict's _metadata (Python sees the same as torch.load(x)._metadata)", () => {
  const out = path.join(tmpDir(), 'copy.pt');
  convert(ck('state_dict.pt'), out);
  expect((load(out) as OrderedDict).attrs?.get('_metadata')).toBeInstanceOf(OrderedDict);
  const same = python<[boolean, boolean]>(`import sys, json, torch
a = torch.load(sys.argv[1], weights_only=True); b = torch.load(sys.argv[2], weights_only=True)
print(json.dumps([hasattr(b, '_metadata') and a._metadata == b._metadata, all(torch.equal(a[k], b[k]) for k in a)]))`, [ck('state_dict.pt'), out]);
  expect(same).toEqual([true, true]);
});
