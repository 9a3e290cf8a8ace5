// Opt-in globals (torch.serialization.add_safe_globals' names), read as inert data: timm training
// checkpoints with argparse args, the Hugging Face Trainer's rng_state.pth (numpy arrays), numpy scalars.
// Python's view of each file comes from scripts/fixtures/formats.py; nothing named in a file is called.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { CheckpointError, PyObject, Tuple, inspect, load, loadStateDict } from '../../lib/io';
import { Tensor } from '../../lib/tensor';
import { fixture, fixtureJson } from '../helpers/oracle';

const py = fixtureJson('formats_objects.json');
const f = (n: string): string => fixture(path.join('formats', n));
const sha = (t: Tensor): string => createHash('sha256').update(t.toBuffer()).digest('hex');
const NUMPY = ['numpy.core.multiarray._reconstruct', 'numpy.ndarray', 'numpy.dtype', 'numpy.core.multiarray.scalar'];
const TIMM = ['argparse.Namespace', ...NUMPY];

describe('the default stays strict', () => {
  test('a timm checkpoint is refused, naming the global and the option to pass', () => {
    expect(() => load(f('timm_checkpoint.pth.tar'))).toThrow(CheckpointError);
    expect(() => load(f('timm_checkpoint.pth.tar')))
      .toThrow(/refused global 'argparse\.Namespace'.*allowGlobals: \['argparse\.Namespace'\].*--allow-global argparse\.Namespace/);
  });
  test('a global not on the list is refused, by its own name', () => {
    expect(() => load(f('timm_checkpoint.pth.tar'), { allowGlobals: ['argparse.Namespace'] }))
      .toThrow(/refused global 'numpy\._core\.multiarray\.scalar'/);
    expect(() => load(f('rng_state.pth'), { allowGlobals: ['numpy.ndarray', 'numpy.dtype'] }))
      .toThrow(/refused global 'numpy\._core\.multiarray\._reconstruct'/);
  });
});

describe('timm training checkpoint (CheckpointSaver: epoch, arch, state_dict, optimizer, version, args, metric)', () => {
  test('args come back as an inert argparse.Namespace record; every weight is bit-identical', () => {
    const ck = load(f('timm_checkpoint.pth.tar'), { allowGlobals: TIMM }) as Map<string, any>;
    const args = ck.get('args');
    expect(args).toBeInstanceOf(PyObject);
    expect(args.cls).toBe('argparse.Namespace');
    const attrs = Object.fromEntries(args.attrs);
    expect(attrs.mean).toBeInstanceOf(Tuple);
    expect({ ...attrs, mean: [...attrs.mean] }).toEqual({ ...py.timm.args, input_size: null });
    expect(ck.get('metric')).toBe(py.timm.metric);
    expect(ck.get('epoch')).toBe(2);
    const sd = ck.get('state_dict') as Map<string, Tensor>;
    expect([...sd.keys()]).toEqual(Object.keys(py.timm.state_dict));
    for (const [k, t] of sd) expect([k, t.dtype, t.shape, sha(t)]).toEqual([k, py.timm.state_dict[k].dtype, py.timm.state_dict[k].shape, py.timm.state_dict[k].sha256]);
  });
  test('loadStateDict takes the same option: the weights by dotted name', () => {
    const flat = loadStateDict(f('timm_checkpoint.pth.tar'), { allowGlobals: TIMM });
    expect(sha(flat.get('state_dict.conv1.weight')!)).toBe(py.timm.state_dict['conv1.weight'].sha256);
    expect([...flat.keys()].filter((k) => k.startsWith('state_dict.')).length).toBe(Object.keys(py.timm.state_dict).length);
  });
  test('inspect lists the allowed objects among the values', () => {
    const r = inspect(f('timm_checkpoint.pth.tar'), { allowGlobals: TIMM });
    const args = r.values.find((v) => v.name === 'args');
    expect(String(args?.value)).toMatch(/^argparse\.Namespace\(model="resnet18", lr=0\.1, /);
    expect(r.objects).toContainEqual({ name: 'args', cls: 'argparse.Namespace' });
    expect(() => inspect(f('timm_checkpoint.pth.tar'))).toThrow(/--allow-global argparse\.Namespace/);
  });
});

describe("the Trainer's rng_state.pth (python, numpy and torch RNG states)", () => {
  // what transformers' trainer_pt_utils.safe_globals() allows (numpy 2 names)
  const TRAINER = ['numpy._core.multiarray._reconstruct', 'numpy.ndarray', 'numpy.dtype', 'numpy.dtypes.UInt32DType'];
  test('loads with the Trainer\'s allow list: every state equals Python\'s', () => {
    const rng = load(f('rng_state.pth'), { allowGlobals: TRAINER }) as Map<string, any>;
    const [ver, state, gauss] = rng.get('python');
    expect([ver, [...state], gauss]).toEqual([py.rng.python_version, py.rng.python_state, null]);
    const [name, keys, pos, hasGauss, cached] = rng.get('numpy');
    expect(keys).toBeInstanceOf(Tensor);
    expect([name, keys.dtype, keys.shape, sha(keys), pos, hasGauss, cached])
      .toEqual([py.rng.numpy.name, 'uint32', py.rng.numpy.keys.shape, py.rng.numpy.keys.sha256, py.rng.numpy.pos, py.rng.numpy.has_gauss, py.rng.numpy.cached]);
    const cpu = rng.get('cpu') as Tensor;
    expect([cpu.dtype, cpu.shape, sha(cpu)]).toEqual([py.rng.cpu.dtype, py.rng.cpu.shape, py.rng.cpu.sha256]);
  });
});

test('numpy scalars become numbers (bigint past 2^53), arrays tensors (Fortran order and 0-d too)', () => {
  const v = load(f('numpy_values.pt'), { allowGlobals: NUMPY }) as Map<string, any>;
  expect([v.get('f64'), v.get('f32'), v.get('i64'), v.get('u8'), v.get('b'), v.get('f16'), v.get('big')])
    .toEqual([1.5, -0.25, -7, 200, true, 0.5, 2n ** 60n + 1n]);
  for (const k of ['arr', 'arr_i', 'arr_f', 'arr_u2', 'arr_0d']) {
    const t = v.get(k) as Tensor, w = py.numpy_values[k];
    expect([k, t.dtype, t.shape, sha(t)]).toEqual([k, w.dtype, w.shape, w.sha256]);
  }
});

test('allowing a dangerous name still runs nothing: os.system comes back as a record', () => {
  const marker = '/tmp/squisher-pwned';
  if (fs.existsSync(marker)) fs.unlinkSync(marker);
  const v = load(fixture('checkpoints/evil_os_system.pt'), { allowGlobals: ['posix.system', 'os.system'] }) as Map<string, any>;
  const x = v.get('x');
  expect(x).toBeInstanceOf(PyObject);
  expect(x.cls).toMatch(/^(posix|os)\.system$/);
  expect(x.args).toEqual(['echo pwned > /tmp/squisher-pwned']);
  expect(fs.existsSync(marker)).toBe(false);
});
