// perSampleGrads (vmap(grad) on functorch's layers) against Python torch.func.vmap(grad), on TorchScript
// and TS-built models; chunking; loss conventions; errors.
import { ScriptModule, tensor, tidy, randn, nn } from '../../lib';
import { perSampleGrads, func } from '../../lib/fisher';
import { fixture } from '../helpers/oracle';
import { fromJson } from '../helpers/tensors';
import { CASES, data, ref, relErr, scriptModel, tsModel, worstRelErr } from './_ref';

describe.each(CASES)('%s', (name) => {
  const loss = ref[name].task === 'classification' ? 'cross_entropy' : 'nll_gaussian';
  test.each(['TorchScript', 'TS-built'])('%s model: equal to torch.func per-sample gradients (rel. err <= 1e-4)', (kind) => tidy(() => {
    const m = kind === 'TorchScript' ? scriptModel(name) : tsModel(name);
    const { x, y } = data(name);
    const g = perSampleGrads(m, x.narrow(0, 0, 6), y.narrow(0, 0, 6), { loss, chunkSize: 4 });  // 2 chunks: 4 + 2
    for (const t of g.values()) expect(t.shape[0]).toBe(6);
    expect(worstRelErr(g, ref[name].per_sample)).toBeLessThan(1e-4);
    expect(func.functorchDepth()).toBe(0);
  }));
});

test("loss 'mse' is PyTorch's mse_loss (sum): twice the Gaussian NLL's gradient", () => tidy(() => {
  const m = tsModel('reg');
  const { x, y } = data('reg');
  const a = perSampleGrads(m, x, y, { loss: 'mse' }), b = perSampleGrads(m, x, y, { loss: 'nll_gaussian' });
  for (const [k, t] of a) expect(relErr(t, b.get(k)!.mul(2))).toBeLessThan(1e-6);
}));

test('a custom loss function and a parameter subset', () => tidy(() => {
  const m = scriptModel('mlp');
  const { x, y } = data('mlp');
  const custom = (out: any, t: any) => out.logSoftmax(1).gather(1, t.unsqueeze(1)).neg().sum();
  const g = perSampleGrads(m, x.narrow(0, 0, 6), y.narrow(0, 0, 6), { loss: custom, params: ['4.weight'] });
  expect([...g.keys()]).toEqual(['4.weight']);
  expect(relErr(g.get('4.weight')!, fromJson(ref.mlp.per_sample['4.weight']))).toBeLessThan(1e-4);
}));

test('the memory budget decides the chunk size; results do not depend on it', () => tidy(() => {
  const m = tsModel('mlp');
  const { x, y } = data('mlp');
  const whole = perSampleGrads(m, x, y);
  const tiny = perSampleGrads(m, x, y, { maxBytes: 1 });  // one sample per vmap call
  for (const [k, t] of whole) expect(relErr(tiny.get(k)!, t)).toBeLessThan(1e-6);
}));

test('clear errors: mismatched rows, unknown loss, unknown parameter, wrong input shape', () => {
  const m = ScriptModule.load(fixture('fisher_mlp.jit.pt'));
  const x = randn([4, 10]), y = tensor(BigInt64Array.from([0n, 1n, 2n]));
  expect(() => perSampleGrads(m, x, y)).toThrow(/4 inputs but 3 targets/);
  expect(() => perSampleGrads(m, x, x.narrow(1, 0, 1).squeeze(1).long(), { loss: 'hinge' as any })).toThrow(/unknown loss 'hinge'/);
  expect(() => perSampleGrads(m, x, y.narrow(0, 0, 1).repeat([4]), { params: ['9.weight'] })).toThrow(/no trainable parameter\(s\) 9.weight/);
  expect(() => perSampleGrads(new nn.Linear(3, 2), randn([4, 5]), randn([4, 2]), { loss: 'mse' })).toThrow();
  expect(func.functorchDepth()).toBe(0);
});
