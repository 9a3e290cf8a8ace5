// Laundering: a hostile name read from one file must never be written as pickle text into another.
// The payload below is live (written raw, as the old writer did, Python runs it: checked first), so
// these tests fail if either the reader lets the name through or the writer emits it.
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError, PyGlobal, convert, save } from '../../../lib/io';
import { P, f32, torchFileOf } from '../../helpers/pickle-builder';
import { python, tmpDir } from '../../helpers/oracle';

const dir = tmpDir('squisher-launder-');
const MARKER = path.join(dir, 'code-ran');
const NAME = `strided\ncposix\nsystem\n(Vtouch ${MARKER}\ntR0`;

/** Runs torch.load(weights_only=False) (and plain pickle.loads for raw pickles) on each file that exists. */
function pythonLoads(files: string[], raw = false): void {
  python(`
import sys, json, pickle, torch
for f in sys.argv[2:]:
    try:
        if sys.argv[1] == 'raw': pickle.loads(open(f, 'rb').read())
        else: torch.load(f, weights_only=False)
    except Exception: pass
print(json.dumps(True))`, [raw ? 'raw' : 'torch', ...files.filter((f) => fs.existsSync(f))]);
}

test('the payload is live: written raw as a GLOBAL line, Python runs it', () => {
  const raw = path.join(dir, 'raw.pkl');
  fs.writeFileSync(raw, new P().proto().raw(0x63, Buffer.from(`torch\n${NAME}\n`)).stop().bytes());
  pythonLoads([raw], true);
  expect(fs.existsSync(MARKER)).toBe(true);
  fs.rmSync(MARKER);
});

test('convert refuses a _get_layout whose argument is not a torch layout; nothing is written, nothing runs', () => {
  const input = path.join(dir, 'launder.pt');
  const pkl = new P().proto().emptyDict()
    .str('layout').global('torch.serialization', '_get_layout').str(`torch.${NAME}`).tuple1().reduce().setitem()
    .str('w').tensor('0', 2, [2], [1]).setitem().stop().bytes();
  fs.writeFileSync(input, torchFileOf(pkl, { 0: f32(1, 2) }));
  const outs = [path.join(dir, 'out.pt'), path.join(dir, 'out.safetensors')];
  for (const out of outs) {
    expect(() => convert(input, out)).toThrow(CheckpointError);
    expect(() => convert(input, out)).toThrow(/launder\.pt: .*_get_layout.* is not a torch layout/);
    expect(fs.existsSync(out)).toBe(false);
  }
  pythonLoads(outs);
  expect(fs.existsSync(MARKER)).toBe(false);
});

test('the writer checks every global against its fixed table at write time', () => {
  const out = path.join(dir, 'direct.pt');
  for (const g of [new PyGlobal('torch', NAME), new PyGlobal('os', 'system'), new PyGlobal('torch', '_utils._rebuild_tensor_v2\nx')]) {
    expect(() => save(out, { g })).toThrow(/refusing to write the Python global/);
    expect(fs.existsSync(out)).toBe(false);
  }
  pythonLoads([out]);
  expect(fs.existsSync(MARKER)).toBe(false);
});

test('an honest layout and dtype survive convert and load in Python as the same objects', () => {
  const input = path.join(dir, 'honest.pt');
  const pkl = new P().proto().emptyDict()
    .str('layout').global('torch.serialization', '_get_layout').str('torch.sparse_csr').tuple1().reduce().setitem()
    .str('dtype').global('torch', 'bfloat16').setitem()
    .str('w').tensor('0', 2, [2], [1]).setitem().stop().bytes();
  fs.writeFileSync(input, torchFileOf(pkl, { 0: f32(1, 2) }));
  const out = path.join(dir, 'honest-out.pt');
  convert(input, out);
  const r = python(`
import sys, json, torch
d = torch.load(sys.argv[1], weights_only=True)
print(json.dumps([str(d['layout']), str(d['dtype']), d['w'].tolist()]))`, [out]);
  expect(r).toEqual(['torch.sparse_csr', 'torch.bfloat16', [1, 2]]);
});
