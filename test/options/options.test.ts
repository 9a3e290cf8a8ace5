// Options are camelCase and checked: an unknown key is an OptionError (HTTP 400) naming the key and the
// right spelling, never silently ignored; long calls report { done, total, phase }.
import { nn, optim, train, tensor, OptionError, SquisherError, OptimizerStateError, ShapeError } from '../../lib';
import { checkOptions, suggestKey } from '../../lib/options';

const model = () => new nn.Sequential(new nn.Linear(3, 2));

describe('option keys', () => {
  test("Adam's weight_decay is refused with the right spelling (it used to be ignored)", () => {
    let err: unknown;
    try { new optim.Adam(model(), { weight_decay: 0.1 } as never); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(OptionError);
    expect(err).toBeInstanceOf(SquisherError);
    expect((err as OptionError).status).toBe(400);
    expect((err as Error).message).toMatch(/^Adam: unknown option 'weight_decay'; did you mean weightDecay\? \(options: lr, betas, eps, weightDecay, amsgrad, maximize\)$/);
  });
  test('the same check for AdamW, SGD and param-group overrides', () => {
    expect(() => new optim.AdamW(model(), { betas_: [0.9, 0.99] } as never)).toThrow(/AdamW: unknown option 'betas_'; did you mean betas\?/);
    expect(() => new optim.SGD(model(), { lr: 0.1, momentun: 0.9 } as never)).toThrow(/SGD: unknown option 'momentun'; did you mean momentum\?/);
    const m = model();
    expect(() => new optim.Adam([{ params: m.namedParameters(), weight_decay: 0 } as never], {}))
      .toThrow(/Adam: param group 0: unknown option 'weight_decay'; did you mean weightDecay\?/);
    expect(() => new optim.Adam(model(), { lr: 1e-3, weightDecay: 0.1 })).not.toThrow();
  });
  test('hyperparameter values and state-dict mismatches have their own classes', () => {
    expect(() => new optim.Adam(model(), { lr: -1 })).toThrow(OptionError);
    expect(() => new optim.Adam(model()).loadStateDict(new Map([['state', new Map()]]) as never)).toThrow(OptimizerStateError);
  });
  test('fit: batch_size -> batchSize, and the progress shape { done, total, phase }', async () => {
    const m = model();
    const opt = new optim.SGD(m, { lr: 0.1 });
    const x = tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]]), y = tensor([0, 1, 0], { dtype: 'int64' });
    await expect(train.fit(m, opt, { x, y }, { batch_size: 2 } as never)).rejects.toThrow(/fit: unknown option 'batch_size'; did you mean batchSize\?/);
    const seen: [number, number, string][] = [];
    await train.fit(m, opt, { x, y }, { epochs: 2, batchSize: 2, onProgress: (p) => seen.push([p.done, p.total, p.phase]) });
    expect(seen).toEqual([[1, 4, 'train'], [2, 4, 'train'], [3, 4, 'train'], [4, 4, 'train']]);
  });
  test('a loss that is not a scalar is a ShapeError', async () => {
    const m = model();
    const x = tensor([[1, 2, 3]]), y = tensor([[0, 1]]);
    await expect(train.fit(m, new optim.SGD(m, { lr: 0.1 }), { x, y }, { lossFn: (o, t) => o.sub(t) })).rejects.toThrow(ShapeError);
  });
  test('suggestions: snake_case, case slips, near misses; none for unrelated words', () => {
    const allowed = ['lr', 'weightDecay', 'batchSize', 'onProgress'];
    expect(suggestKey('weight_decay', allowed)).toBe('weightDecay');
    expect(suggestKey('LR', allowed)).toBe('lr');
    expect(suggestKey('batchsize', allowed)).toBe('batchSize');
    expect(suggestKey('onProgres', allowed)).toBe('onProgress');
    expect(suggestKey('temperature', allowed)).toBeUndefined();
    expect(() => checkOptions('f', { temperature: 1 }, allowed)).toThrow(/^f: unknown option 'temperature' \(options: lr, weightDecay, batchSize, onProgress\)$/);
    expect(() => checkOptions('f', [] as never, allowed)).toThrow(/options must be an object, got an array/);
  });
});
