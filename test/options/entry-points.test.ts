// Every entry point that takes an options object refuses a mistyped key with an OptionError naming the
// key and the right spelling (checked before any other work, so the positional arguments here can be
// dummies), for EVERY key it accepts: the snake_case (or upper-case) form and a typo of each. Every list
// registered with optionKeys must be walked here, so a new entry point cannot be forgotten.
import * as path from 'path';
import {
  apps, compareDiagonals, convert, data, distributed, fisherDiagonal, func, inspect, load, loadAsync, loadSafetensors,
  loadStateDict, loadTorchScript, nn, optim, OptionError, perSampleGrads, save, saveSafetensors, saveStateDict,
  ScriptModule, ShardedCheckpoint, squisher, tensor, train, zeros, ones, empty, full, randn, rand, randint, randperm,
  arange, linspace, eye, grad as autogradGrad,
} from '../../lib';
import { lossByName } from '../../lib/nn/loss';
import { scatterPng, scatterSvg } from '../../lib/plot';
import { squisherFromTrainerDir } from '../../lib/fisher';
import { optionKeys, optionLists } from '../../lib/options';
import { fixture, tmpDir } from '../helpers/oracle';

type Opts = Record<string, unknown>;
interface Entry { list: string; who: string; call: (o: Opts) => unknown; }

const model = new nn.Sequential(new nn.Linear(3, 2));
const x = tensor([[1, 2, 3], [4, 5, 6]]), y = tensor([0, 1], { dtype: 'int64' });
const none = '/nonexistent/options-test';
const any = (o: Opts): never => o as never;

/** Built lazily: some need fixtures (a TorchScript module, a sharded checkpoint). */
function entries(): Entry[] {
  const script = ScriptModule.load(fixture('mlp.jit.pt'));
  const sharded = ShardedCheckpoint.open(fixture(path.join('formats', 'bert-st')));
  const out = path.join(tmpDir(), 'never-written.safetensors');
  const src = apps.mapSource(new Map(), 'm');
  return [
    { list: 'fit', who: 'fit', call: (o) => train.fit(model, new optim.SGD(model, { lr: 0.1 }), { x, y }, any(o)) },
    { list: 'evaluate', who: 'evaluate', call: (o) => train.evaluate(model, { x, y }, any(o)) },
    { list: 'Adam', who: 'Adam', call: (o) => new optim.Adam(model, any(o)) },
    { list: 'Adam', who: 'AdamW', call: (o) => new optim.AdamW(model, any(o)) },
    { list: 'SGD', who: 'SGD', call: (o) => new optim.SGD(model, any(o)) },
    { list: 'save', who: 'save', call: (o) => save(out, new Map(), any(o)) },
    { list: 'save', who: 'saveStateDict', call: (o) => saveStateDict(out, new Map(), any(o)) },
    { list: 'inspect', who: 'inspect', call: (o) => inspect(none, any(o)) },
    { list: 'load', who: 'load', call: (o) => load(none, any(o)) },
    { list: 'load', who: 'loadStateDict', call: (o) => loadStateDict(none, any(o)) },
    { list: 'loadAsync', who: 'loadAsync', call: (o) => loadAsync(none, any(o)) },
    { list: 'convert', who: 'convert', call: (o) => convert(none, out, any(o)) },
    { list: 'loadSafetensors', who: 'loadSafetensors', call: (o) => loadSafetensors(none, any(o)) },
    { list: 'saveSafetensors', who: 'saveSafetensors', call: (o) => saveSafetensors(out, new Map(), any(o)) },
    { list: 'loadTorchScript', who: 'loadTorchScript', call: (o) => loadTorchScript(none, any(o)) },
    { list: 'ShardedCheckpoint.open', who: 'ShardedCheckpoint.open', call: (o) => ShardedCheckpoint.open(none, any(o)) },
    { list: 'ShardedCheckpoint.get', who: 'ShardedCheckpoint.get', call: (o) => sharded.get(sharded.keys()[0], any(o)) },
    { list: 'ShardedCheckpoint.get', who: 'ShardedCheckpoint.loadAll', call: (o) => sharded.loadAll(any(o)) },
    { list: 'ShardedCheckpoint.loadAllAsync', who: 'ShardedCheckpoint.loadAllAsync', call: (o) => sharded.loadAllAsync(any(o)) },
    { list: 'ScriptModule.load', who: 'ScriptModule.load', call: (o) => ScriptModule.load(none, any(o)) },
    { list: 'ScriptModule.save', who: 'ScriptModule.save', call: (o) => script.save(out, any(o)) },
    // The options of forwardAsync come after the inputs; the value here is an AbortSignal, which marks them.
    { list: 'ScriptModule.forwardAsync', who: 'ScriptModule.forwardAsync', call: (o) => script.forwardAsync(x, o) },
    { list: 'EWC', who: 'EWC', call: (o) => new apps.EWC(any(o)) },
    { list: 'squisherScale', who: 'squisherScale', call: (o) => apps.squisherScale(any(o)) },
    { list: 'fishMask', who: 'fishMask', call: (o) => apps.fishMask(new Map(), any(o)) },
    { list: 'pruneMasks', who: 'pruneMasks', call: (o) => apps.pruneMasks(new Map(), any(o)) },
    { list: 'applyMasks', who: 'applyMasks', call: (o) => apps.applyMasks(new Map(), new Map(), any(o)) },
    { list: 'mergeModels', who: 'mergeModels', call: (o) => apps.mergeModels([], null, any(o)) },
    { list: 'writeTensors', who: 'writeTensors', call: (o) => apps.writeTensors(out, new Map(), any(o)) },
    { list: 'MarglikInput', who: 'logMarginalLikelihood', call: (o) => apps.logMarginalLikelihood(any(o), 1) },
    { list: 'MarglikInput', who: 'optimizePriorPrecision: input', call: (o) => apps.optimizePriorPrecision(any(o)) },
    { list: 'optimizePriorPrecision', who: 'optimizePriorPrecision', call: (o) => apps.optimizePriorPrecision({ fisher: new Map(), params: new Map() }, any(o)) },
    { list: 'samplePredictive', who: 'samplePredictive', call: (o) => apps.samplePredictive(model, new Map(), x, any(o)) },
    { list: 'samplePredictiveAsync', who: 'samplePredictiveAsync', call: (o) => apps.samplePredictiveAsync(model, new Map(), x, any(o)) },
    { list: 'squisher', who: 'squisher', call: (o) => squisher({ file: none }, any(o)) },
    { list: 'squisherFromTrainerDir', who: 'squisherFromTrainerDir', call: (o) => squisherFromTrainerDir(none, any(o)) },
    { list: 'perSampleGrads', who: 'perSampleGrads', call: (o) => perSampleGrads(model, x, y, any(o)) },
    { list: 'compareDiagonals', who: 'compareDiagonals', call: (o) => compareDiagonals(new Map(), new Map(), any(o)) },
    { list: 'fisherDiagonal', who: 'fisherDiagonal', call: (o) => fisherDiagonal(model, { x, y }, any(o)) },
    { list: 'fisherDiagonal', who: 'distributedFisher', call: (o) => distributed.distributedFisher(model, { x, y }, any(o)) },
    { list: 'fisherDiagonal.distributed', who: 'fisherDiagonal: distributed', call: (o) => fisherDiagonal(model, { x, y }, { distributed: any(o) }) },
    { list: 'func.grad', who: 'grad', call: (o) => func.grad((t: typeof x) => t.sum(), any(o)) },
    { list: 'func.grad', who: 'gradAndValue', call: (o) => func.gradAndValue((t: typeof x) => t.sum(), any(o)) },
    { list: 'func.vmap', who: 'vmap', call: (o) => func.vmap((t: typeof x) => t, any(o)) },
    { list: 'DataLoader', who: 'DataLoader', call: (o) => new data.DataLoader({ x, y }, any(o)) },
    { list: 'loadMnist', who: 'loadMnist', call: (o) => data.loadMnist(any(o)) },
    { list: 'initProcessGroup', who: 'initProcessGroup', call: (o) => distributed.initProcessGroup(any(o)) },
    { list: 'initProcessGroup', who: 'ProcessGroup.init', call: (o) => distributed.ProcessGroup.init(any(o)) },
    { list: 'launch', who: 'launch', call: (o) => distributed.launch(any(o)) },
    { list: 'safetensorsFolder', who: 'safetensorsFolder', call: (o) => distributed.safetensorsFolder(none, any(o)) },
    { list: 'distributedMerge', who: 'distributedMerge', call: (o) => distributed.distributedMerge([], null, any(o)) },
    { list: 'distributedPrune', who: 'distributedPrune', call: (o) => distributed.distributedPrune(src, null, any(o)) },
    { list: 'tensor', who: 'tensor', call: (o) => tensor([1, 2], any(o)) },
    { list: 'zeros', who: 'zeros', call: (o) => zeros([2], any(o)) },
    { list: 'zeros', who: 'ones', call: (o) => ones([2], any(o)) },
    { list: 'zeros', who: 'empty', call: (o) => empty([2], any(o)) },
    { list: 'zeros', who: 'full', call: (o) => full([2], 1, any(o)) },
    { list: 'zeros', who: 'randn', call: (o) => randn([2], any(o)) },
    { list: 'zeros', who: 'rand', call: (o) => rand([2], any(o)) },
    { list: 'zeros', who: 'randint', call: (o) => randint(0, 3, [2], any(o)) },
    { list: 'zeros', who: 'randperm', call: (o) => randperm(3, any(o)) },
    { list: 'zeros', who: 'arange', call: (o) => arange(0, 3, 1, any(o)) },
    { list: 'zeros', who: 'linspace', call: (o) => linspace(0, 1, 3, any(o)) },
    { list: 'zeros', who: 'eye', call: (o) => eye(2, any(o)) },
    { list: 'Tensor.to', who: 'Tensor.to', call: (o) => x.to(any(o)) },
    { list: 'autograd.grad', who: 'grad', call: (o) => autogradGrad(x.sum(), [x], any(o)) },
    { list: 'crossEntropy', who: 'crossEntropy', call: (o) => nn.crossEntropy(x, y, any(o)) },
    { list: 'nllLoss', who: 'nllLoss', call: (o) => nn.nllLoss(x, y, any(o)) },
    { list: 'mseLoss', who: 'mseLoss', call: (o) => nn.mseLoss(x, x, any(o)) },
    { list: 'mseLoss', who: 'lossByName', call: (o) => lossByName('mse', any(o)) },
    { list: 'Conv', who: 'Conv1d', call: (o) => new nn.Conv1d(1, 1, 1, any(o)) },
    { list: 'Conv', who: 'Conv2d', call: (o) => new nn.Conv2d(1, 1, 1, any(o)) },
    { list: 'BatchNorm', who: 'BatchNorm1d', call: (o) => new nn.BatchNorm1d(2, any(o)) },
    { list: 'BatchNorm', who: 'BatchNorm2d', call: (o) => new nn.BatchNorm2d(2, any(o)) },
    { list: 'scatterSvg', who: 'scatterSvg', call: (o) => scatterSvg([1], [1], any(o)) },
    { list: 'scatterSvg', who: 'scatterPng', call: (o) => scatterPng([1], [1], any(o)) },
  ];
}

/** Two misspellings of a key that should lead back to it: snake_case (or a case slip), and a typo. */
function misspellings(key: string): string[] {
  const snake = key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const first = snake !== key ? snake : key.toUpperCase();
  const typo = key.length >= 4 ? key.slice(0, -2) + key.slice(-1) : key + key.slice(-1);
  return [first, typo];
}

async function errorOf(f: () => unknown): Promise<unknown> {
  try { await f(); } catch (e) { return e; }
  return undefined;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('a mistyped option key, at every entry point, for every key', () => {
  const all = entries();
  test('every registered option list is walked (a new entry point needs a line above)', () => {
    expect([...new Set(all.map((e) => e.list))].sort()).toEqual([...optionLists().keys()].sort());
  });
  for (const e of all) {
    test(`${e.who}`, async () => {
      const keys = optionLists().get(e.list)!;
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        for (const bad of misspellings(key)) {
          const err = await errorOf(() => e.call({ [bad]: new AbortController().signal }));
          expect([bad, err]).toEqual([bad, expect.any(OptionError)]);
          expect((err as Error).message).toMatch(new RegExp(`^${escape(e.who)}: unknown option '${escape(bad)}'; did you mean ${escape(key)}\\?`));
        }
      }
    });
  }
});

describe('optionKeys: the list is checked against the interface by the compiler', () => {
  test('a missing key and a key the interface lacks are type errors (this file would not compile otherwise)', () => {
    interface T { a?: number; b: string }
    // Never called: it would register the lists; what matters is that tsc (ts-jest) accepts this file.
    const typeOnly = (): void => {
      // @ts-expect-error b is missing
      optionKeys<T>('t1', { a: true });
      // @ts-expect-error c is not an option of T
      optionKeys<T>('t2', { a: true, b: true, c: true });
      optionKeys<T>('t3', { a: true, b: true });
    };
    expect(typeof typeOnly).toBe('function');
  });
  test('a name registered twice with other keys is a mistake; the same list again (a module evaluated twice) is not', () => {
    expect(() => optionKeys<{ fit?: number }>('fit', { fit: true })).toThrow(/'fit' is registered twice, with different keys/);
    const again = [...optionLists().get('evaluate')!];
    expect(optionKeys<{ lossFn?: number; batchSize?: number }>('evaluate', { lossFn: true, batchSize: true })).toEqual(again);
  });
});
