// Every error squisher throws on purpose is a SquisherError whose class and `status` a service can map to a
// response (README, "Errors"). One public call per class: the class, the status and the exact message.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  apps, compareDiagonals, data, fisherDiagonal, func, nn, squisher, tensor, zeros, saveSafetensors, Tensor,
  AbortError, CheckpointError, DTypeError, OptimizerStateError, OptionError, ShapeError, SquisherError, TorchError,
} from '../../lib';

function caught(f: () => unknown): unknown {
  try { f(); } catch (e) { return e; }
  throw new Error('expected a throw');
}

function expectTyped(e: unknown, cls: new (...a: never[]) => SquisherError, status: number, message: string): void {
  expect(e).toBeInstanceOf(cls);
  expect(e).toBeInstanceOf(SquisherError);
  expect((e as SquisherError).status).toBe(status);
  expect((e as Error).message).toBe(message);
}

test('OptionError (400): squisher() with a bad batchSize', () => {
  const opt = { state: () => new Map() };
  expectTyped(caught(() => squisher(opt as never, { batchSize: 0 })), OptionError, 400, 'squisher: batchSize must be a positive number, got 0');
});

test('OptionError (400): DataLoader with a batchSize that is not a positive integer', () => {
  const d = { x: zeros([4, 2]), y: zeros([4]) };
  expectTyped(caught(() => new data.DataLoader(d, { batchSize: 1.5 })), OptionError, 400, 'DataLoader: batchSize must be a positive integer, got 1.5');
});

test('OptimizerStateError (422): squisher() on an optimizer whose state() is not a Map', () => {
  const opt = { state: () => ({}) };
  expectTyped(caught(() => squisher(opt as never)), OptimizerStateError, 422, 'squisher: optimizer.state() must return a Map of parameter name -> state');
});

test('ShapeError (400): DataLoader whose x and y disagree on the sample count', () => {
  const d = { x: zeros([3, 2]), y: zeros([2]) };
  expectTyped(caught(() => new data.DataLoader(d, { batchSize: 1 })), ShapeError, 400, 'DataLoader: x has 3 samples but y has 2');
});

test('ShapeError (400): a ragged nested array', () => {
  expectTyped(caught(() => tensor([[1, 2], [3]])), ShapeError, 400, 'tensor: ragged nested array at depth 1: expected 2 elements');
});

test('DTypeError (400): applyMasks with a float mask', () => {
  const params = new Map<string, Tensor>([['w', zeros([2, 2])]]);
  const masks = new Map<string, Tensor>([['w', zeros([2, 2])]]);
  expectTyped(caught(() => apps.applyMasks(params, masks)), DTypeError, 400, "applyMasks: mask 'w' has dtype float32; masks are bool");
});

test('CheckpointError (422): a merge source file without the asked tensor names the file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'typed-'));
  const f = path.join(dir, 'a.safetensors');
  saveSafetensors(f, new Map([['w', zeros([2])]]));
  const e = caught(() => apps.fileSource(f).get('nope'));
  expectTyped(e, CheckpointError, 422, `${f}: no tensor 'nope'`);
  expect((e as CheckpointError).file).toBe(f);
  fs.rmSync(dir, { recursive: true });
});

test('AbortError (499): mergeModels with an aborted signal', async () => {
  const a = new Map<string, Tensor>([['w', zeros([2])]]);
  const b = new Map<string, Tensor>([['w', zeros([2])]]);
  const e = await apps.mergeModels([a, b], null, { signal: AbortSignal.abort() }).then(() => null, (x: unknown) => x);
  expectTyped(e, AbortError, 499, 'merge: aborted');
  expect((e as Error).name).toBe('AbortError');
});

describe('the Fisher engine, functorch transforms and modules', () => {
  test('OptionError (400): fisherDiagonal with samples 0', async () => {
    const e = await fisherDiagonal(new nn.Linear(2, 2), { x: zeros([2, 2]), y: zeros([2]) }, { samples: 0 }).then(() => null, (x: unknown) => x);
    expectTyped(e, OptionError, 400, 'samples must be a positive integer, got 0');
  });

  test('AbortError (499): fisherDiagonal with a signal aborted with a non-Error reason', async () => {
    const ac = new AbortController();
    ac.abort('stop');
    const e = await fisherDiagonal(new nn.Linear(2, 2), { x: zeros([2, 2]), y: zeros([2]) }, { signal: ac.signal }).then(() => null, (x: unknown) => x);
    expectTyped(e, AbortError, 499, 'fisherDiagonal: aborted');
  });

  test('ShapeError (400): compareDiagonals on tensors of different shapes', () => {
    const a = new Map<string, Tensor>([['w', zeros([2])]]);
    const b = new Map<string, Tensor>([['w', zeros([3])]]);
    expectTyped(caught(() => compareDiagonals(a, b)), ShapeError, 400, "compareDiagonals: 'w' has shape [2] in a but [3] in b");
  });

  test('ShapeError (400): Module.loadStateDict with a tensor of the wrong shape', () => {
    const m = new nn.Linear(2, 3);
    const sd = new Map<string, Tensor>([['weight', zeros([2, 2])], ['bias', zeros([3])]]);
    expectTyped(caught(() => m.loadStateDict(sd)), ShapeError, 400, "loadStateDict(Linear): 'weight' has shape [2,2] in the state dict but [3,2] in the model");
  });

  test('OptionError (400): vmap with inDims of the wrong length', () => {
    const f = func.vmap((x: Tensor) => x, { inDims: [0, 0] } as never);
    expectTyped(caught(() => f(zeros([2, 2]))), OptionError, 400, 'vmap: inDims has 2 entries for 1 arguments');
  });
});

describe('Module.loadStateDict: every problem at once, as torch.nn.Module.load_state_dict, and nothing copied', () => {
  test('CheckpointError (422): missing and unexpected keys (all of them) and a shape mismatch with both shapes', () => {
    const m = new nn.Sequential(new nn.Linear(2, 3), new nn.Linear(3, 1));
    const before = m.stateDict().get('0.weight')!.toArray();
    const sd = new Map<string, Tensor>([
      ['0.weight', tensor([[5, 5], [5, 5], [5, 5]])], ['1.weight', zeros([2, 3])], ['2.weight', zeros([1])], ['extra', zeros([1])],
    ]);
    const e = caught(() => m.loadStateDict(sd));
    expectTyped(e, CheckpointError, 422, "loadStateDict(Sequential): missing keys: 0.bias, 1.bias; unexpected keys: 2.weight, extra; " +
      "'1.weight' has shape [2,3] in the state dict but [1,3] in the model");
    expect((e as CheckpointError).file).toBe('loadStateDict(Sequential)');
    // 0.weight fits, but the load failed as a whole: the model is unchanged
    expect(m.stateDict().get('0.weight')!.toArray()).toEqual(before);
  });

  test('ShapeError (400): with strict: false, only the shapes are checked, and every mismatch is named', () => {
    const m = new nn.Linear(2, 3);
    const sd = new Map<string, Tensor>([['weight', zeros([3, 3])], ['bias', zeros([2])], ['other', zeros([1])]]);
    expectTyped(caught(() => m.loadStateDict(sd, { strict: false })), ShapeError, 400,
      "loadStateDict(Linear): 'weight' has shape [3,3] in the state dict but [3,2] in the model; 'bias' has shape [2] in the state dict but [3] in the model");
  });
});

describe('loadMnist: a bad IDX file is a CheckpointError naming it', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'typed-mnist-'));
  const file = path.join(dir, 'f-idx1-ubyte');
  const cases: [string, Buffer | null, string][] = [
    ['a file that cannot be read', null, `${file}: loadMnist: cannot read it: ENOENT: no such file or directory, open '${file}'`],
    ['bad magic', Buffer.from([1, 2, 3, 4]), `${file}: loadMnist: not an IDX file (bad magic)`],
    ['a header cut short', Buffer.from([0, 0, 8, 1, 0, 0]), `${file}: loadMnist: truncated (in the header)`],
    ['data cut short', Buffer.from([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]), `${file}: loadMnist: truncated: 2 data bytes, the header says 5`],
  ];
  test.each(cases)('%s', (_what, bytes, message) => {
    if (bytes) fs.writeFileSync(file, bytes); else fs.rmSync(file, { force: true });
    const e = caught(() => data.readIdx(file, 1));
    expectTyped(e, CheckpointError, 422, message);
    expect((e as CheckpointError).file).toBe(file);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true }));
});

describe('programming errors and libtorch errors that were plain Errors', () => {
  test('SquisherError (500): a disposed tensor used again', () => {
    const t = zeros([2]);
    t.dispose();
    expectTyped(caught(() => t.add(1)), SquisherError, 500, 'this tensor was disposed');
  });

  test('SquisherError (500): ModuleList.forward', () => {
    expectTyped(caught(() => new nn.ModuleList([new nn.Linear(1, 1)]).forward()), SquisherError, 500, 'ModuleList has no forward(); call its members');
  });

  test('TorchError (500): vmap over an operator with no batching rule names it in `op`', () => {
    const e = caught(() => func.vmap((t: Tensor) => t.nonzero())(zeros([2, 3])));
    expect(e).toBeInstanceOf(TorchError);
    expect((e as TorchError).status).toBe(500);
    expect((e as TorchError).op).toBe('aten::nonzero');
    expect((e as Error).message).toMatch(/^vmap: operator aten::nonzero cannot be batched/);
  });
});
