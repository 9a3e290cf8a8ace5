// Adam, AdamW and SGD against torch.optim: the same MLP, initial weights and batches, 50 steps; every
// loss, parameter and state tensor (step, exp_avg, exp_avg_sq, max_exp_avg_sq, momentum_buffer) must be
// bit-identical to PyTorch's (scripts/fixtures/optim.py).
import { optim, tensor, zeros, Tensor } from '../../lib';
import { python } from '../helpers/oracle';
import { makeModel, makeOptimizer, mismatches, ref, train } from './_train';

describe.each(Object.keys(ref.configs))('%s: 50 steps equal torch.optim bit for bit', (name) => {
  test('losses, parameters and every state tensor', () => {
    const model = makeModel();
    const opt = makeOptimizer(name, model);
    const losses = train(model, opt, 0, ref.steps);
    expect(losses).toEqual(ref.configs[name].losses);
    expect(mismatches(name, model, opt)).toEqual([]);
    expect(opt.kind).toBe(ref.configs[name].cls.toLowerCase());
  });
});

describe('Adam details', () => {
  test('state(): by name, step a number, live float32 tensors; step kept as a float32 0-dim tensor in stateDict', () => {
    const model = makeModel();
    const opt = new optim.Adam(model, { lr: 1e-3 });
    expect(opt.state().size).toBe(0);
    train(model, opt, 0, 3);
    const st = opt.state();
    expect([...st.keys()]).toEqual(model.namedParameters().map(([n]) => n));
    const s = st.get('0.weight')!;
    expect(s.step).toBe(3);
    expect(s.exp_avg.shape).toEqual([16, 10]);
    expect(s.max_exp_avg_sq).toBeUndefined();
    const sd = opt.stateDict();
    const step = sd.state.get(0)!.get('step')!;
    expect(step.dtype).toBe('float32');
    expect(step.shape).toEqual([]);
    expect(step.item()).toBe(3);
  });

  test('a parameter without a gradient is skipped and gets no state (as PyTorch)', () => {
    const a = tensor([1, 2]).requiresGrad_(), b = tensor([3]).requiresGrad_();
    const opt = new optim.Adam([['a', a], ['b', b]], { lr: 0.1 });
    a.mul(a).sum().backward();
    opt.step();
    expect([...opt.state().keys()]).toEqual(['a']);
    expect(b.toList()).toEqual([3]);
    const r = python(`
import torch, json
a=torch.tensor([1.,2.],requires_grad=True); b=torch.tensor([3.],requires_grad=True)
o=torch.optim.Adam([a,b],lr=0.1); (a*a).sum().backward(); o.step()
print(json.dumps({'a': a.tolist(), 'keys': [i for i,p in enumerate([a,b]) if p in o.state]}))`);
    expect(a.toList()).toEqual(r.a);
    expect(r.keys).toEqual([0]);
  });

  test('Python float ** (C pow) for bias corrections: pyPow equals Python where Math.pow does not', () => {
    const bases = [0.9, 0.999, 0.99, 0.95, 0.5], steps = Array.from({ length: 300 }, (_, i) => i + 1);
    const r: number[] = python(`import json; print(json.dumps([b ** float(s) for b in ${JSON.stringify(bases)} for s in range(1, 301)] + [x ** 0.5 for x in [0.0951, 0.3, 1e-7, 0.999]]))`);
    const mine = bases.flatMap((b) => steps.map((s) => optim.pyPow(b, s))).concat([0.0951, 0.3, 1e-7, 0.999].map((x) => optim.pyPow(x, 0.5)));
    expect(mine).toEqual(r);
    // the reason libm.ts exists: V8's Math.pow differs from C pow for some of these
    expect(bases.flatMap((b) => steps.map((s) => Math.pow(b, s)))).not.toEqual(r.slice(0, bases.length * 300));
  });

  test('bad options and bad parameters get clear errors', () => {
    const p = zeros([2]).requiresGrad_();
    expect(() => new optim.Adam([['p', p]], { lr: -1 })).toThrow(/invalid learning rate -1/);
    expect(() => new optim.Adam([['p', p]], { betas: [1, 0.9] })).toThrow(/beta parameter at index 0/);
    expect(() => new optim.AdamW([['p', p]], { weightDecay: -0.1 })).toThrow(/weight_decay/);
    expect(() => new optim.SGD([['p', p]], { nesterov: true })).toThrow(/Nesterov/);
    expect(() => new optim.Adam([['p', p], ['p', p]])).toThrow(/'p' appears twice/);
    expect(() => new optim.Adam([['p', p], ['q', p]])).toThrow(/appears twice under different names/);
    expect(() => new optim.Adam([])).toThrow(/no parameters/);
    expect(() => new optim.Adam([['p', p.mul(2)]])).toThrow(/'p' is not a leaf/);
    expect(() => new optim.Adam([['p', 3 as unknown as Tensor]])).toThrow(/\[name, Tensor\] pairs/);
  });

  test('zeroGrad(false) zeroes the gradients instead of dropping them', () => {
    const p = tensor([1, 2]).requiresGrad_();
    const opt = new optim.SGD([['p', p]], { lr: 0.1 });
    p.sum().backward();
    opt.zeroGrad(false);
    expect(p.grad!.toList()).toEqual([0, 0]);
    opt.zeroGrad();
    expect(p.grad).toBeNull();
  });
});
