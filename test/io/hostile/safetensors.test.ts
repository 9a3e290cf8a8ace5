// safetensors headers that two readers could read two ways: overlapping or gapped data_offsets, bytes
// no tensor covers, names or fields given twice (JSON.parse silently keeps the last). The accept/refuse
// decision must be the safetensors library's, checked for the whole batch in one Python process.
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError, inspect, loadSafetensors } from '../../../lib/io';
import { python, tmpDir } from '../../helpers/oracle';

const dir = tmpDir('squisher-st-');

function st(header: string, data: number): Buffer {
  const h = Buffer.from(header);
  const len = Buffer.alloc(8); len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, Buffer.alloc(data)]);
}
const T = (off: [number, number], n = (off[1] - off[0]) / 4): string => `{"dtype":"F32","shape":[${n}],"data_offsets":[${off[0]},${off[1]}]}`;

const cases: Record<string, Buffer> = {
  ok: st(`{"a":${T([0, 4])},"b":${T([4, 12])}}`, 12),
  overlap: st(`{"a":${T([0, 8])},"b":${T([0, 8])}}`, 8),
  overlap_partial: st(`{"a":${T([0, 8])},"b":${T([4, 12])}}`, 12),
  gap: st(`{"a":${T([0, 4])},"b":${T([8, 12])}}`, 12),
  trailing: st(`{"a":${T([0, 4])}}`, 8),
  unordered: st(`{"b":${T([4, 8])},"a":${T([0, 4])}}`, 8),
  empty_tensor_at_zero: st(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":${T([0, 4])}}`, 4),
  dup_key: st(`{"a":${T([0, 4])},"a":${T([4, 8])}}`, 8),
  dup_key_escaped: st(`{"a":${T([0, 4])},"\\u0061":${T([4, 8])}}`, 8),
  dup_field: st(`{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4),
  dup_metadata_block: st(`{"__metadata__":{"x":"1"},"__metadata__":{"y":"2"},"a":${T([0, 4])}}`, 4),
  dup_metadata_key: st(`{"__metadata__":{"x":"1","x":"2"},"a":${T([0, 4])}}`, 4),
  extra_field: st(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"z":1}}`, 4),
  strings_with_braces: st(`{"__metadata__":{"k":"}{\\"a\\":"},"a":${T([0, 4])}}`, 4),
};
const files: Record<string, string> = {};
for (const [k, b] of Object.entries(cases)) { files[k] = path.join(dir, `${k}.safetensors`); fs.writeFileSync(files[k], b); }

test('the same accept/refuse decision as the safetensors library; refusals are CheckpointErrors naming the file', () => {
  const lib = python<Record<string, boolean>>(`
import sys, json
from safetensors.torch import load_file
out = {}
for k, f in json.loads(sys.argv[1]).items():
    try: load_file(f); out[k] = True
    except Exception: out[k] = False
print(json.dumps(out))`, [JSON.stringify(files)]);
  const ours: Record<string, boolean> = {};
  for (const [k, f] of Object.entries(files)) {
    try {
      for (const t of loadSafetensors(f).values()) t.dispose();
      ours[k] = true;
    } catch (e) {
      expect([k, e]).toEqual([k, expect.any(CheckpointError)]);
      expect((e as Error).message.startsWith(f)).toBe(true);
      expect(() => inspect(f)).toThrow(CheckpointError);
      ours[k] = false;
    }
  }
  expect(ours).toEqual(lib);
  // The batch holds both decisions, and refusals of each kind.
  expect(Object.values(lib).filter((x) => !x).length).toBeGreaterThanOrEqual(7);
});

test('the messages say what is wrong', () => {
  expect(() => loadSafetensors(files.overlap)).toThrow(/overlap the tensor before it/);
  expect(() => loadSafetensors(files.gap)).toThrow(/leave a gap/);
  expect(() => loadSafetensors(files.trailing)).toThrow(/cover 4 of the 8 data bytes/);
  expect(() => loadSafetensors(files.dup_key)).toThrow(/names 'a' twice/);
  expect(() => loadSafetensors(files.dup_field)).toThrow(/field 'dtype' of tensor 'a' twice/);
});
