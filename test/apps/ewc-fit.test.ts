// EWC inside lib/train's fit through its lossFn: the gradient fit steps on is ∇CE + λF(θ-θ*), and training a
// second task with the penalty keeps the parameters closer (in the Fisher metric) to the first task's θ*.
import { apps, nn, tensor, Tensor, crossEntropy, grad, manualSeed, randn, randint, noGrad } from '../../lib';
import { fit } from '../../lib/train';
import { SGD } from '../../lib/optim';
import { fisherDiagonal } from '../../lib/fisher';

function task(seed: number, shift: number): { x: Tensor; y: Tensor } {
  manualSeed(seed);
  const x = randn([128, 6]).add(shift);
  const w = randn([6, 3]);
  return { x, y: x.matmul(w).argmax(1) };
}

test('ewc.lossFn adds exactly (λ/2)ΣF(θ-θ*)²: its gradient is ∇CE + λF(θ-θ*)', () => {
  manualSeed(0);
  const m = new nn.Linear(6, 3);
  const F = new Map(m.namedParameters().map(([n, p]) => [n, randn(p.shape).square()]));
  const anchor = new Map(m.namedParameters().map(([n, p]) => [n, noGrad(() => p.add(randn(p.shape)))]));
  const ewc = new apps.EWC({ lambda: 2.5 });
  ewc.consolidate(anchor, F);
  const x = randn([8, 6]);
  const y = randint(0, 3, [8]);
  const params = m.parameters();
  const g = grad(ewc.lossFn(m)(m.call(x), y), params);
  const g0 = grad(crossEntropy(m.call(x), y), params);
  m.namedParameters().forEach(([n, p], i) => {
    const expected = g0[i]!.add(F.get(n)!.mul(p.sub(anchor.get(n)!)).mul(2.5));
    expect(g[i]!.sub(expected).abs().max().item()).toBeLessThan(1e-5);
  });
});

test('fit with ewc.lossFn on task B stays closer to task A\'s θ* than fit without it', async () => {
  const A = task(1, 0);
  const B = task(2, 1);
  const runB = async (useEwc: boolean): Promise<number> => {
    manualSeed(3);
    const m = new nn.Sequential(new nn.Linear(6, 16), new nn.Tanh(), new nn.Linear(16, 3));
    await fit(m, new SGD(m, { lr: 0.1 }), A, { epochs: 3, batchSize: 32, seed: 0 });
    const F = await fisherDiagonal(m, A, { variant: 'exact', reduction: 'mean' });
    const ewc = new apps.EWC({ lambda: 50 });
    ewc.consolidate(m, F);
    await fit(m, new SGD(m, { lr: 0.1 }), B, { epochs: 3, batchSize: 32, seed: 1, lossFn: useEwc ? ewc.lossFn(m) : undefined });
    // the Fisher-weighted distance from θ*_A, i.e. the penalty itself (as λ=1 for both runs)
    const d = apps.ewcPenalty(m, F, ewc.state[0].theta, 2).item();
    ewc.dispose();
    return d;
  };
  const free = await runB(false);
  const held = await runB(true);
  expect(held).toBeLessThan(free / 2);
});
