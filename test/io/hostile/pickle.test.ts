// Hostile pickles built opcode by opcode: each must load or be refused with a CheckpointError naming the
// file, quickly, never running anything; and the accept/refuse decision must be torch.load(weights_only=True)'s
// (checked for the whole batch in one Python process). Cases where this reader is deliberately stricter
// than torch (bounded work, no state changes on tensors) are listed apart with why.
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError, inspect } from '../../../lib/io';
import { loadTorch } from '../../../lib/io/torchsave';
import { P, f32, torchFileOf } from '../../helpers/pickle-builder';
import { python, tmpDir } from '../../helpers/oracle';
import { Tensor } from '../../../lib/tensor';
import { flattenTensors } from '../../../lib/io';

const dir = tmpDir('squisher-hostile-');
const MARKER = path.join(dir, 'code-ran');

const withTensor = (body: (p: P) => P): Buffer => torchFileOf(body(new P().proto()).stop().bytes(), { 0: f32(1, 2, 3, 4) });
const plain = (body: (p: P) => P): Buffer => torchFileOf(body(new P().proto()).stop().bytes());

/** Cases on which torch and this reader must agree. */
const agree: Record<string, Buffer> = {
  os_system: plain((p) => p.global('os', 'system').str(`touch ${MARKER}`).tuple1().reduce()),
  builtins_eval: plain((p) => p.global('builtins', 'eval').str(`open(${JSON.stringify(MARKER)},'w')`).tuple1().reduce()),
  reduce_dtype: plain((p) => p.global('torch', 'float32').emptyTuple().reduce()),
  reduce_non_global: plain((p) => p.emptyDict().emptyTuple().reduce()),
  build_on_list: plain((p) => p.emptyList().emptyDict().build()),
  build_on_dict: plain((p) => p.emptyDict().emptyDict().build()),
  newobj_ordered_dict: plain((p) => p.global('collections', 'OrderedDict').emptyTuple().newobj()),
  newobj_os: plain((p) => p.global('os', 'system').emptyTuple().newobj()),
  long4_huge: plain((p) => p.long(Buffer.alloc(256 << 10, 0x41), true)),
  long1_max: plain((p) => p.long(Buffer.alloc(255, 0x7f))),
  stack_global: plain((p) => p.str('os').str('system').raw(0x93)),
  memoize_opcode: plain((p) => p.emptyDict().raw(0x94)),
  frame_opcode: new P().proto(4).raw(0x95, Buffer.alloc(8)).none().stop().bytes(),
  binbytes: plain((p) => p.raw(0x42, Buffer.from([2, 0, 0, 0]), Buffer.from('hi'))),
  unknown_opcode: plain((p) => p.raw(0xff)),
  memo_unset: plain((p) => p.get(7)),
  memo_unset_long: plain((p) => p.get(70000)),
  truncated_string: plain((p) => p.raw(0x58, Buffer.from([0xff, 0xff, 0, 0]), Buffer.from('abc'))),
  truncated_stream: new P().proto().emptyDict().mark().str('a').bytes(),
  empty_stack_stop: new P().proto().stop().bytes(),
  setitems_on_list: plain((p) => p.emptyList().mark().str('a').int(1).setitems()),
  append_on_tuple: plain((p) => p.emptyTuple().int(1).append()),
  append_on_dict: plain((p) => p.emptyDict().int(1).append()),
  get_layout_crafted: plain((p) => p.global('torch.serialization', '_get_layout').str('torch\nos\nsystem').tuple1().reduce()),
  get_layout_ok: plain((p) => p.global('torch.serialization', '_get_layout').str('torch.strided').tuple1().reduce()),
  global_layout_direct: plain((p) => p.global('torch', 'strided')),
  global_dtype_alias: plain((p) => p.global('torch', 'float')),
  global_untyped_storage_alias: plain((p) => p.global('torch', 'UntypedStorage')),
  global_tensor_class: plain((p) => p.global('torch', 'FloatTensor')),
  global_qint_tensor_class: plain((p) => p.global('torch', 'QInt8Tensor')),
  global_dtype: plain((p) => p.global('torch', 'float8_e5m2')),
  set_of_int: plain((p) => p.global('builtins', 'set').int(5).tuple1().reduce()),
  set_of_lists: plain((p) => p.global('builtins', 'set').emptyList().emptyList().append().tuple1().reduce()),
  set_of_tuples: plain((p) => p.global('builtins', 'set').emptyList().int(1).int(2).tuple2().append().tuple1().reduce()),
  dict_list_key: plain((p) => p.emptyDict().emptyList().int(1).setitem()),
  dict_tuple_holding_list_key: plain((p) => p.emptyDict().int(1).emptyList().tuple2().int(1).setitem()),
  dict_tuple_key: plain((p) => p.emptyDict().int(1).int(2).tuple2().int(1).setitem()),
  ordered_dict_of_dict: plain((p) => p.global('collections', 'OrderedDict').emptyDict().str('a').int(1).setitem().tuple1().reduce()),
  ordered_dict_of_int: plain((p) => p.global('collections', 'OrderedDict').int(5).tuple1().reduce()),
  ordered_dict_list_key: plain((p) => p.global('collections', 'OrderedDict').emptyList().emptyList().int(1).tuple2().append().tuple1().reduce()),
  encode_non_latin1: plain((p) => p.global('_codecs', 'encode').str('\u20ac').str('latin1').tuple2().reduce()),
  encode_utf8: plain((p) => p.global('_codecs', 'encode').str('\u20ac').str('utf-8').tuple2().reduce()),
  encode_bogus_codec: plain((p) => p.global('_codecs', 'encode').str('a').str('no-such-codec').tuple2().reduce()),
  bytearray_str: plain((p) => p.global('builtins', 'bytearray').str('abc').tuple1().reduce()),
  bytearray_str_enc: plain((p) => p.global('builtins', 'bytearray').str('abc').str('latin1').tuple2().reduce()),
  complex_str: plain((p) => p.global('builtins', 'complex').str('x').tuple1().reduce()),
  complex_ok: plain((p) => p.global('builtins', 'complex').float(1).float(2).tuple2().reduce()),
  device_bogus: plain((p) => p.global('torch', 'device').str('nosuchdevice').tuple1().reduce()),
  device_ok: plain((p) => p.global('torch', 'device').str('cuda').int(1).tuple2().reduce()),
  codecs_encode: plain((p) => p.global('_codecs', 'encode').str('abc').str('latin1').tuple2().reduce()),
  set_of_list: plain((p) => p.global('builtins', 'set').emptyList().mark().int(1).int(2).appends().tuple1().reduce()),
  persid_not_tuple: plain((p) => p.str('storage').persid()),
  persid_not_storage: plain((p) => p.mark().str('module').str('x').tuple().persid()),
  persid_bogus_location: withTensor((p) => p.global('torch._utils', '_rebuild_tensor_v2').mark()
    .mark().str('storage').global('torch', 'FloatStorage').str('0').str('nowhere').int(4).tuple().persid()
    .int(0).mark().int(4).tuple().mark().int(1).tuple().bool(false).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce()),
  persid_missing_record: plain((p) => p.tensor('9', 4, [4], [1])),
  tensor_ok: withTensor((p) => p.tensor('0', 4, [2, 2], [2, 1])),
  tensor_out_of_storage: withTensor((p) => p.tensor('0', 4, [4], [2])),
  tensor_numel_beyond_record: withTensor((p) => p.tensor('0', 400, [400], [1])),
  tensor_expanded: withTensor((p) => p.tensor('0', 4, [1000, 4], [0, 1])),
  billion_laughs: plain((p) => {
    p.str('lol').put(0);
    for (let i = 0; i < 40; i++) p.get(i % 256 === i ? i : 0).get(i).tuple2().put(i + 1);
    return p;
  }),
  deep_lists: plain((p) => { for (let i = 0; i < 20000; i++) p.emptyList(); for (let i = 0; i < 19999; i++) p.append(); return p; }),
  rebuild_from_type_nested: withTensor((p) => {
    const n = 20;
    for (let i = 0; i < n; i++) p.global('torch._tensor', '_rebuild_from_type_v2');
    p.global('torch._utils', '_rebuild_tensor_v2');
    return p;
  }),
};

function decide(file: string): { ok: boolean; err?: unknown } {
  try {
    const v = loadTorch(file);
    for (const t of flattenTensors(v).values()) (t as Tensor).dispose();
    return { ok: true };
  } catch (e) {
    return { ok: false, err: e };
  }
}

const files: Record<string, string> = {};
for (const [k, b] of Object.entries(agree)) { files[k] = path.join(dir, `${k}.pt`); fs.writeFileSync(files[k], b); }

test('every hostile pickle: loaded, or a CheckpointError naming the file; nothing runs', () => {
  for (const [k, f] of Object.entries(files)) {
    const r = decide(f);
    if (!r.ok) {
      expect([k, r.err]).toEqual([k, expect.any(CheckpointError)]);
      expect((r.err as Error).message.startsWith(f)).toBe(true);
    }
    let ie: unknown;
    try { inspect(f); } catch (e) { ie = e; }
    if (ie) expect([k, ie]).toEqual([k, expect.any(CheckpointError)]);
  }
  expect(fs.existsSync(MARKER)).toBe(false);
});

test('the same accept/refuse decision as torch.load(weights_only=True), for the whole batch', () => {
  const torch = python<Record<string, boolean>>(`
import sys, json, warnings, torch
warnings.filterwarnings('ignore')
files = json.loads(sys.argv[1]); out = {}
for k, f in files.items():
    try: torch.load(f, weights_only=True); out[k] = True
    except Exception: out[k] = False
print(json.dumps(out))`, [JSON.stringify(files)]);
  const ours = Object.fromEntries(Object.keys(files).map((k) => [k, decide(files[k]).ok]));
  expect(ours).toEqual(torch);
  expect(fs.existsSync(MARKER)).toBe(false);
});

// ---- deliberately stricter than torch (documented in the README's SECURITY section) ----

test('copies of a memoized value beyond the linear work budget are refused (torch would grind through them)', () => {
  const p = new P().proto().emptyList().put(0).mark();
  for (let i = 0; i < 2000; i++) p.mark().str(`k${i}`).int(i).tuple();
  p.appends(); // memo 0: a list of 2000 pairs
  p.global('collections', 'OrderedDict').put(1).emptyList();
  for (let i = 0; i < 20000; i++) p.get(1).get(0).tuple1().reduce().append(); // 7 bytes, 2000 copies each
  const f = path.join(dir, 'memo-copies.pt');
  fs.writeFileSync(f, torchFileOf(p.stop().bytes()));
  expect(() => loadTorch(f)).toThrow(CheckpointError);
  expect(() => loadTorch(f)).toThrow(/memo-copies\.pt: .*more work than its \d+ bytes/);
});

test('BUILD on a tensor (torch would call set_() with file-chosen arguments) is refused', () => {
  const f = path.join(dir, 'build-tensor.pt');
  fs.writeFileSync(f, withTensor((p) => p.tensor('0', 4, [4], [1]).emptyTuple().build()));
  expect(() => loadTorch(f)).toThrow(/build-tensor\.pt: .*BUILD on a tensor/);
});

test('a billion-laughs tree of shared tuples: inspect and load stay linear (each shared value visited once)', () => {
  const r = inspect(files.billion_laughs);
  // 2^40 leaves if shared references were expanded; here one name per distinct path-first visit.
  expect(r.values.length).toBeLessThan(100);
  expect(decide(files.billion_laughs).ok).toBe(true);
});

test('OrderedDict(dict) keeps the dict\'s items (it came back empty), as Python does', () => {
  const v = loadTorch(files.ordered_dict_of_dict) as Map<string, number>;
  expect([...v]).toEqual([['a', 1]]);
});
