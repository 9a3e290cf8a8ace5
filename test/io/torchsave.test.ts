// torch.save files made by Python torch: every value loaded here equals what Python saved; every file
// written here is loaded back by Python's torch.load(weights_only=True) and compared with the original.
import * as fs from 'fs';
import * as path from 'path';
import { cuda } from '../../lib/device';
import { CheckpointError, OrderedDict, Tuple, inspect, load, loadAsync, loadStateDict, save, saveStateDict, tuple } from '../../lib/io';
import { Tensor, tensor } from '../../lib/tensor';
import { fixture, fixtureJson, python, tmpDir } from '../helpers/oracle';
import { compareValue, newCtx } from './compare';

const described = fixtureJson('checkpoints.json');
const ck = (n: string): string => fixture(path.join('checkpoints', n));
const TORCH_FILES = Object.keys(described).filter((n) => n.endsWith('.pt') && n !== 'scripted.pt');

describe('loadAsync: the same values, with the tensor bytes read on worker threads', () => {
  for (const name of TORCH_FILES) {
    test(`${name}: every value equals what Python saved`, async () => {
      compareValue(await loadAsync(ck(name)), described[name], '', newCtx());
    });
  }
  test('the event loop keeps turning while a large file loads', async () => {
    const file = path.join(tmpDir(), 'big.pt');
    save(file, new Map([['a', tensor(new Float32Array(8 << 20))], ['b', tensor(new Float32Array(8 << 20))]]));
    let ticks = 0;
    const iv = setInterval(() => { ticks++; }, 0);
    let ticksWhileLoading = -1;
    const sd = await loadAsync(file).then((v) => { ticksWhileLoading = ticks; return v as Map<string, Tensor>; });
    clearInterval(iv);
    expect(sd.get('b')!.shape).toEqual([8 << 20]);
    expect(ticksWhileLoading).toBeGreaterThan(0);  // a synchronous load would finish before any timer ran
  });
  test('hostile pickles are refused as by load()', async () => {
    await expect(loadAsync(ck('evil_os_system.pt'))).rejects.toThrow(/system/);
  });
});

describe('loading torch.save files', () => {
  for (const name of TORCH_FILES) {
    test(`${name}: every value equals what Python saved`, () => {
      compareValue(load(ck(name)), described[name], '', newCtx());
    });
  }

  test('a state_dict keeps its OrderedDict order and its _metadata', () => {
    const sd = load(ck('state_dict.pt')) as OrderedDict<string, Tensor>;
    expect(sd).toBeInstanceOf(OrderedDict);
    expect([...sd.keys()][0]).toBe('fc1.weight');
    expect(sd.attrs?.get('_metadata')).toBeInstanceOf(OrderedDict);
  });

  test('optimizer state: int keys, tuples, None and bools survive', () => {
    const o = load(ck('optim_adam.pt')) as Map<string, any>;
    const state = o.get('state') as Map<number, Map<string, Tensor>>;
    expect([...state.keys()]).toEqual([0, 1, 2, 3, 4, 5]);
    const g = o.get('param_groups')[0] as Map<string, unknown>;
    expect(g.get('betas')).toBeInstanceOf(Tuple);
    expect(g.get('foreach')).toBeNull();
    expect(g.get('amsgrad')).toBe(false);
  });

  test('loadStateDict flattens nested checkpoints with dotted names', () => {
    const flat = loadStateDict(ck('training.pt'));
    expect(flat.get('model.fc1.weight')!.shape).toEqual([5, 6]);
    expect(flat.get('optimizer.state.0.exp_avg')!.shape).toEqual([5, 6]);
  });

  test('tensors saved on CUDA load on the CPU with mapLocation cpu; keep needs CUDA', () => {
    compareValue(load(ck('cuda.pt'), { mapLocation: 'cpu' }), described['cuda.pt'], '', newCtx());
    if (!cuda.isAvailable()) {
      expect(() => load(ck('cuda.pt'), { mapLocation: 'keep' })).toThrow(/saved on cuda:0.*CUDA is not available/);
    } else {
      const sd = load(ck('cuda.pt'), { mapLocation: 'keep' }) as Map<string, Tensor>;
      expect(sd.get('w')!.device).toBe('cuda:0');
    }
  });

  test('hostile pickles are refused by name and run nothing', () => {
    fs.rmSync('/tmp/squisher-pwned', { force: true });
    expect(() => load(ck('evil_os_system.pt'))).toThrow(/evil_os_system\.pt.*refused global '(posix|os)\.system'/);
    expect(() => load(ck('evil_eval.pt'))).toThrow(/refused global 'builtins\.eval'/);
    expect(() => load(ck('evil_class.pt'))).toThrow(/refused global '__main__\.Custom'/);
    expect(fs.existsSync('/tmp/squisher-pwned')).toBe(false);
  });

  test('the legacy pre-1.6 format is refused clearly', () => {
    expect(() => load(ck('legacy.pt'))).toThrow(/legacy.pt: legacy \(pre-1.6\) torch.save format is not supported/);
  });

  test('a file that is not a checkpoint', () => {
    const d = tmpDir();
    fs.writeFileSync(path.join(d, 'notes.txt'), 'hello, this is not a checkpoint at all');
    expect(() => load(path.join(d, 'notes.txt'))).toThrow(CheckpointError);
    expect(() => load(path.join(d, 'notes.txt'))).toThrow(/notes\.txt: not a PyTorch checkpoint/);
    expect(() => load(path.join(d, 'missing.pt'))).toThrow(/missing\.pt: cannot open/);
  });

  test('inspect lists tensors, values and hyperparameters without loading data', () => {
    const r = inspect(ck('training.pt'));
    const w = r.tensors.find((t) => t.name === 'model.fc1.weight')!;
    expect([w.dtype, w.shape, w.storageBytes]).toEqual(['float32', [5, 6], 120]);
    expect(r.values).toContainEqual({ name: 'epoch', value: 3 });
    expect(r.hyperparameters[0].name).toBe('optimizer.param_groups.0');
    expect(r.hyperparameters[0].group.lr).toBe(1e-3);
    const v = inspect(ck('views.pt'));
    expect(new Set(v.tensors.filter((t) => ['base', 'transposed', 'sliced', 'alias'].includes(t.name)).map((t) => t.storageKey)).size).toBe(1);
  });
});

// Python loads a file written here and compares it with the original fixture: types (OrderedDict vs
// dict, tuple vs list, int keys), tensor values/dtypes/shapes/strides/offsets, storage sharing.
const PY_SAME = `
import sys, json, collections, torch
def same(a, b, p):
    if isinstance(a, torch.Tensor):
        if not isinstance(b, torch.Tensor): return [p + ': not a tensor']
        if a.dtype != b.dtype or a.shape != b.shape: return [p + ': dtype/shape %s %s vs %s %s' % (a.dtype, tuple(a.shape), b.dtype, tuple(b.shape))]
        if a.numel() and (a.stride() != b.stride() or a.storage_offset() != b.storage_offset()): return [p + ': stride/offset']
        if not torch.equal(a, b): return [p + ': values differ']
        if a.requires_grad != b.requires_grad: return [p + ': requires_grad']
        return []
    if type(a) is not type(b) and not (isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool)):
        return [p + ': type %s vs %s' % (type(a).__name__, type(b).__name__)]
    if isinstance(a, dict):
        if list(a.keys()) != list(b.keys()) or [type(k) for k in a] != [type(k) for k in b]: return [p + ': keys']
        if getattr(a, '_metadata', None) != getattr(b, '_metadata', None): return [p + ': _metadata']
        return sum((same(a[k], b[k], p + '.' + str(k)) for k in a), [])
    if isinstance(a, (list, tuple)):
        if len(a) != len(b): return [p + ': length']
        return sum((same(x, y, p + '[%d]' % i) for i, (x, y) in enumerate(zip(a, b))), [])
    return [] if a == b else [p + ': %r vs %r' % (a, b)]
def sharing(v, out):
    if isinstance(v, torch.Tensor): out.append(v.untyped_storage().data_ptr() if v.untyped_storage().nbytes() else -len(out) - 1)
    elif isinstance(v, dict): [sharing(x, out) for x in v.values()]
    elif isinstance(v, (list, tuple)): [sharing(x, out) for x in v]
    return out
def pattern(ids): return [ids.index(i) for i in ids]
out = {}
for a, b in zip(sys.argv[1::2], sys.argv[2::2]):
    orig = torch.load(a, weights_only=True, map_location='cpu')
    mine = torch.load(b, weights_only=True)
    diffs = same(orig, mine, '')
    if pattern(sharing(orig, [])) != pattern(sharing(mine, [])): diffs.append('storage sharing differs')
    out[b.split('/')[-1]] = diffs
print(json.dumps(out))
`;

describe('saving torch.save files that Python loads', () => {
  const dir = tmpDir();
  test('every fixture: load, save, torch.load(weights_only=True) gives the same object', () => {
    const args: string[] = [];
    for (const name of TORCH_FILES) {
      const out = path.join(dir, name);
      save(out, load(ck(name)));
      args.push(ck(name), out);
    }
    // One Python run for all files (importing torch takes seconds); an empty list per file = identical.
    const r = python(PY_SAME, args);
    expect(Object.keys(r).sort()).toEqual([...TORCH_FILES].sort());
    for (const name of TORCH_FILES) expect([name, r[name]]).toEqual([name, []]);
  });

  test('values built in JS: nested dicts, int keys, tuples, non-contiguous and shared tensors', () => {
    const base = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] });
    const v = new Map<unknown, unknown>([
      ['model', new OrderedDict([['w', base], ['wt', base.t()], ['row', base.select(0, 1)]])],
      ['state', new Map([[0, new Map<string, unknown>([['step', 5], ['m', tensor([0.5, -1])]])]])],
      ['betas', tuple(0.9, 0.999)], ['none', null], ['flag', true], ['name', 'x'], ['big', 2n ** 70n], ['neg', -70000],
    ]);
    const out = path.join(dir, 'built.pt');
    save(out, v);
    const r = python(`
import sys, json, torch, collections
v = torch.load(sys.argv[1], weights_only=True)
m = v['model']
print(json.dumps({'od': type(m).__name__, 'w': m['w'].tolist(), 'wt': m['wt'].tolist(), 'wt_stride': m['wt'].stride(),
  'row': m['row'].tolist(), 'shared': m['w'].untyped_storage().data_ptr() == m['wt'].untyped_storage().data_ptr() == m['row'].untyped_storage().data_ptr(),
  'keys': [type(k).__name__ for k in v['state']], 'step': v['state'][0]['step'], 'm': v['state'][0]['m'].tolist(),
  'betas': type(v['betas']).__name__, 'none': v['none'], 'flag': v['flag'], 'big': str(v['big']), 'neg': v['neg']}))`, [out]);
    expect(r).toEqual({
      od: 'OrderedDict', w: [[1, 2, 3], [4, 5, 6]], wt: [[1, 4], [2, 5], [3, 6]], wt_stride: [1, 3], row: [4, 5, 6], shared: true,
      keys: ['int'], step: 5, m: [0.5, -1], betas: 'tuple', none: null, flag: true, big: String(2n ** 70n), neg: -70000,
    });
  });

  test('saveStateDict writes an OrderedDict; writes are atomic and never clobber by default', () => {
    const out = path.join(dir, 'sd.pt');
    saveStateDict(out, { a: tensor([1, 2]), b: tensor([3]) });
    expect(() => saveStateDict(out, { a: tensor([9]) })).toThrow(/sd\.pt: file exists; pass \{ overwrite: true \}/);
    saveStateDict(out, { c: tensor([7]) }, { overwrite: true });
    expect(python(`import sys, json, torch
v = torch.load(sys.argv[1], weights_only=True); print(json.dumps([type(v).__name__, list(v), v['c'].tolist()]))`, [out]))
      .toEqual(['OrderedDict', ['c'], [7]]);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
