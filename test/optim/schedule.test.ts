// Learning-rate schedules against torch.optim.lr_scheduler: the lr after each of 40 steps, for two
// parameter groups, must equal PyTorch's (the same recursive formulas and C cos).
import { optim, zeros } from '../../lib';
import { python } from '../helpers/oracle';

const CASES: Record<string, { py: string; make: (o: optim.Adam) => optim.LRScheduler }> = {
  constant: { py: 'ConstantLR(o, factor=0.5, total_iters=4)', make: (o) => new optim.ConstantLR(o, 0.5, 4) },
  step: { py: 'StepLR(o, step_size=7, gamma=0.3)', make: (o) => new optim.StepLR(o, 7, 0.3) },
  warmup: { py: 'LinearLR(o, start_factor=0.01, end_factor=1.0, total_iters=10)', make: (o) => new optim.LinearLR(o, 0.01, 1.0, 10) },
  cosine: { py: 'CosineAnnealingLR(o, T_max=13, eta_min=1e-5)', make: (o) => new optim.CosineAnnealingLR(o, 13, 1e-5) },
};

const ref: Record<string, number[][]> = python(`
import json, torch
from torch.optim.lr_scheduler import *
out = {}
for name, expr in ${JSON.stringify(Object.fromEntries(Object.entries(CASES).map(([k, v]) => [k, v.py])))}.items():
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)
    o = torch.optim.Adam([{'params': [a], 'lr': 0.1}, {'params': [b], 'lr': 3e-3}])
    s = eval(expr)
    lrs = [[g['lr'] for g in o.param_groups]]
    for _ in range(40):
        o.step(); s.step(); lrs.append([g['lr'] for g in o.param_groups])
    out[name] = lrs
print(json.dumps(out))`);

test.each(Object.keys(CASES))('%s: 40 steps of two groups equal PyTorch', (name) => {
  const opt = new optim.Adam([{ params: [['a', zeros([2]).requiresGrad_()]], lr: 0.1 }, { params: [['b', zeros([1]).requiresGrad_()]], lr: 3e-3 }]);
  const s = CASES[name].make(opt);
  const lrs = [opt.paramGroups.map((g) => g.lr)];
  for (let i = 0; i < 40; i++) { opt.step(); s.step(); lrs.push(opt.paramGroups.map((g) => g.lr)); }
  expect(lrs).toEqual(ref[name]);
  expect(s.getLastLr()).toEqual(ref[name][40]);
  expect(opt.stateDict().param_groups[0].get('initial_lr')).toBe(0.1);
});

test('pyCos equals math.cos where V8 may not', () => {
  // the arguments cosine schedules use (pi*e/T) plus irregular ones; Math.cos differs on ~3% of these
  const xs = Array.from({ length: 2000 }, (_, i) => (i * Math.PI) / 13 + i * 1e-3);
  for (let T = 1; T <= 60; T++) for (let e = 0; e <= 2 * T + 1; e++) xs.push(Math.PI * e / T);
  const r: number[] = python(`import json, math; print(json.dumps([math.cos(x) for x in ${JSON.stringify(xs)}]))`);
  expect(xs.map(optim.pyCos)).toEqual(r);
  expect(xs.map(Math.cos)).not.toEqual(r);
});

test('bad schedule arguments', () => {
  const opt = new optim.Adam([['a', zeros([1]).requiresGrad_()]]);
  expect(() => new optim.StepLR(opt, 0)).toThrow(/stepSize must be a positive integer/);
  expect(() => new optim.LinearLR(opt, 0)).toThrow(/startFactor/);
  expect(() => new optim.CosineAnnealingLR(opt, 0)).toThrow(/tMax must be positive/);
});
