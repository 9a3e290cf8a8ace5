// The fast paths (one backward per Fisher term, per-layer rules) equal the vmap(grad) path, which the
// variants tests check against torch.func: Linear with and without sequence dims, Conv1d/Conv2d
// (stride, padding, dilation, groups), Embedding (one and many lookups, padding_idx), LayerNorm,
// eval-mode BatchNorm; on TS-built and scripted models; and the fallbacks.
import { nn, Module, ScriptModule, Tensor, manualSeed, randn, randint, fisherDiagonal, grad, crossEntropy } from '../../lib';
import { planFastPath } from '../../lib/fisher';
import { fixture } from '../helpers/oracle';
import { relErr } from './_ref';

class Seq2Class extends Module {
  // Embedding [B, S] -> LayerNorm -> Linear over the sequence dim (shared weights) -> mean -> classes
  emb = this.registerModule('emb', new nn.Embedding(11, 6, 0));
  norm = this.registerModule('norm', new nn.LayerNorm(6));
  proj = this.registerModule('proj', new nn.Linear(6, 5));
  head = this.registerModule('head', new nn.Linear(5, 3));
  forward(idx: Tensor): Tensor {
    const h = this.proj.call(this.norm.call(this.emb.call(idx))).tanh();
    return this.head.call(h.mean(1));
  }
}
class Shared extends Module {
  lin = this.registerModule('lin', new nn.Linear(4, 4));
  forward(x: Tensor): Tensor { return this.lin.call(this.lin.call(x).tanh()); }
}

function bnNet(): Module {
  const m = new nn.Sequential(new nn.Conv2d(2, 6, 3, { stride: 2, padding: 1, dilation: 1, groups: 2 }), new nn.BatchNorm2d(6), new nn.ReLU(),
    new nn.Conv2d(6, 4, 2, { dilation: 2 }), new nn.Flatten(), new nn.Linear(16, 4));
  m.train();
  m.call(randn([16, 2, 8, 8]).mul(2).add(1));  // non-trivial running statistics
  return m.eval();
}
function conv1dNet(): Module {
  return new nn.Sequential(new nn.Conv1d(3, 5, 3, { stride: 2, padding: 1 }), new nn.ReLU(), new nn.Conv1d(5, 4, 2, { bias: false }),
    new nn.Flatten(), new nn.Linear(20, 3));
}

const cases: [string, () => Module, () => { x: Tensor; y: Tensor }][] = [
  ['Embedding (sequence, padding_idx) + LayerNorm + Linear with sequence dims', () => new Seq2Class(),
    () => ({ x: randint(0, 11, [10, 7]), y: randint(0, 3, [10]) })],
  ['grouped/strided Conv2d + eval BatchNorm2d + dilated Conv2d', bnNet, () => ({ x: randn([9, 2, 8, 8]), y: randint(0, 4, [9]) })],
  ['Conv1d (stride, padding, no bias)', conv1dNet, () => ({ x: randn([8, 3, 12]), y: randint(0, 3, [8]) })],
  ['Embedding with one lookup per sample', () => new nn.Sequential(new nn.Embedding(9, 4), new nn.Flatten(), new nn.Linear(4, 3)),
    () => ({ x: randint(0, 9, [12, 1]), y: randint(0, 3, [12]) })],
];

describe.each(cases)('%s', (_, build, makeData) => {
  test.each(['empirical', 'mc', 'exact'] as const)('%s: fast path equals the vmap path', async (variant) => {
    manualSeed(1);
    const m = build();
    const d = makeData();
    expect(typeof planFastPath(m)).toBe('object');
    const o = { variant, samples: 2, seed: 5, batchSize: 5 };
    const fast = await fisherDiagonal(m, d, { ...o, engine: 'fast' });
    const slow = await fisherDiagonal(m, d, { ...o, engine: 'vmap' });
    expect(fast.meta.engine).toBe('fast');
    for (const [k, t] of slow) {
      expect(t.abs().sum().item()).toBeGreaterThan(0);
      expect(relErr(fast.get(k)!, t)).toBeLessThan(1e-5);
    }
  });
});

test('scripted Sequential with BatchNorm1d, LayerNorm, Dropout: fast path (through the scripted layers) equals vmap', async () => {
  const m = ScriptModule.load(fixture('normnet.jit.pt'));
  const d = { x: randn([10, 12]), y: randint(0, 4, [10]) };
  const plan = planFastPath(m);
  expect(typeof plan === 'object' && plan.layers.map((l) => `${l.prefix}:${l.info.kind}`)).toEqual(['0:Linear', '1:BatchNorm', '3:LayerNorm', '5:Linear']);
  const fast = await fisherDiagonal(m, d, { variant: 'exact', engine: 'fast' });
  const slow = await fisherDiagonal(m, d, { variant: 'exact', engine: 'vmap' });
  for (const [k, t] of slow) expect(relErr(fast.get(k)!, t)).toBeLessThan(1e-5);
});

test('models without a fast path fall back to vmap (and say why); engine "fast" refuses them', async () => {
  const shared = new Shared();
  const d = { x: randn([6, 4]), y: randint(0, 4, [6]) };
  const F = await fisherDiagonal(shared, d);
  expect(F.meta.engine).toMatch(/^vmap \(layer 'lin' ran 2 times/);
  // with the weight used twice the per-sample gradient is a sum of two terms: check against a loop of
  // plain backward passes, one sample at a time
  const ps = shared.parameters();
  const loop = ps.map((p) => p.mul(0));
  for (let n = 0; n < 6; n++) {
    const gs = grad(crossEntropy(shared.call(d.x.narrow(0, n, 1)), d.y.narrow(0, n, 1), { reduction: 'sum' }), ps);
    gs.forEach((g, i) => loop[i].add_(g!.square()));
  }
  shared.namedParameters().forEach(([k], i) => expect(relErr(F.get(k)!, loop[i])).toBeLessThan(1e-5));
  const gelu = new nn.Sequential(new nn.Linear(4, 4), new nn.GELU(), new nn.Linear(4, 2));
  (gelu as any)._modules.get('1')._parameters.set('alpha', randn([1]).requiresGrad_(true));
  expect(planFastPath(gelu)).toMatch(/layer '1': GELU has no fast-path rule/);
  await expect(fisherDiagonal(gelu, { x: randn([3, 4]), y: randint(0, 2, [3]) }, { engine: 'fast' })).rejects.toThrow(/no fast path for this model: layer '1'/);
  const bn = bnNet().train();
  expect(planFastPath(bn)).toMatch(/training mode mixes samples/);
});
