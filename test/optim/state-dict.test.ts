// PyTorch optimizer state_dicts in and out. Import: torch.save'd state at step 25 (scripts/fixtures/
// optim.py) loaded into a Node optimizer, 25 more steps, must end bit-equal to PyTorch's 50-step run.
// Export: Node trains 25 steps, writes its state_dict with lib/io; Python's optimizer.load_state_dict
// takes it, trains 25 more, and must end bit-equal to the same 50-step run.
import * as path from 'path';
import { load, optim, save, saveStateDict, tensor, zeros } from '../../lib';
import { fixture, python, tmpDir } from '../helpers/oracle';
import { makeModel, makeOptimizer, mismatches, ref, train } from './_train';

const MID_CASES = ['adam', 'adamw_amsgrad', 'sgd_momentum', 'adam_groups'];

describe.each(MID_CASES)('%s', (name) => {
  test('import: torch.save state_dict at step 25 + 25 Node steps = PyTorch 50 steps', () => {
    const model = makeModel();
    model.loadStateDict(load(fixture(`optim_${name}_model_mid.pt`)) as Map<string, any>);
    const sd = load(fixture(`optim_${name}_mid.pt`));
    const opt = optim.fromStateDict(sd, model);
    expect(opt.kind).toBe(ref.configs[name].cls.toLowerCase());
    expect(opt.paramGroups.length).toBe(name === 'adam_groups' ? 2 : 1);
    const losses = train(model, opt, ref.mid, ref.steps);
    expect(losses).toEqual(ref.configs[name].losses.slice(ref.mid));
    expect(mismatches(name, model, opt)).toEqual([]);
    // the same through the constructor + loadStateDict path
    const model2 = makeModel();
    model2.loadStateDict(load(fixture(`optim_${name}_model_mid.pt`)) as Map<string, any>);
    const opt2 = makeOptimizer(name, model2).loadStateDict(sd);
    train(model2, opt2, ref.mid, ref.steps);
    expect(mismatches(name, model2, opt2)).toEqual([]);
  });
});

// Export: one Python process checks all four cases (a torch import per case would dominate the file's time).
test.each(MID_CASES)('export %s: Node state_dict at step 25, loaded by torch optimizer.load_state_dict, 25 Python steps = PyTorch 50 steps', (name) => {
  const r = exported()[name];
  expect(r.bad).toEqual([]);
  expect(r.n_state).toBe(Object.keys(ref.configs[name].state).length);
});

let exportResults: Record<string, { bad: string[]; n_state: number }> | null = null;
function exported(): Record<string, { bad: string[]; n_state: number }> {
  if (exportResults) return exportResults;
  const dir = tmpDir();
  const py = (v: unknown): string => Array.isArray(v) ? `(${v.map((x) => `float(${x})`).join(',')})` : typeof v === 'boolean' ? (v ? 'True' : 'False') : JSON.stringify(v);
  const cases = MID_CASES.map((name) => {
    const model = makeModel();
    const opt = makeOptimizer(name, model);
    train(model, opt, 0, ref.mid);
    const optFile = path.join(dir, `${name}-optim.pt`), modelFile = path.join(dir, `${name}-model.pt`);
    save(optFile, opt.stateDict());
    saveStateDict(modelFile, model.stateDict());
    const c = ref.configs[name];
    const groups = name === 'adam_groups'
      ? `[{'params': ps[:2], 'lr': 1e-2}, {'params': ps[2:], 'lr': 3e-3, 'weight_decay': 0.02}]` : 'ps';
    const kw = Object.entries(c.kw).map(([k, v]) => `${k}=${py(v)}`).join(', ');
    return `(${JSON.stringify(name)}, ${JSON.stringify(optFile)}, ${JSON.stringify(modelFile)}, lambda ps: torch.optim.${c.cls}(${groups}, ${kw}))`;
  });
  exportResults = python(`
import sys, json, torch, torch.nn.functional as F
sys.path.insert(0, 'scripts/fixtures')
from optim import make_model
ref = json.load(open('test/fixtures/generated/optim.json'))
x = torch.tensor(ref['x']['data']).view(64, 10); y = torch.tensor(ref['y']['data'])
B = ref['batch']
out = {}
for name, opt_file, model_file, make_opt in [${cases.join(', ')}]:
    m = make_model(); m.load_state_dict(torch.load(model_file, weights_only=True))
    opt = make_opt(list(m.parameters()))
    opt.load_state_dict(torch.load(opt_file, weights_only=True))
    for step in range(ref['mid'], ref['steps']):
        b = step % (64 // B)
        opt.zero_grad(); F.cross_entropy(m(x[b*B:(b+1)*B]), y[b*B:(b+1)*B]).backward(); opt.step()
    names = {p: n for n, p in m.named_parameters()}
    want = ref['configs'][name]
    bad = [n for n, p in m.named_parameters() if not torch.equal(p, torch.tensor(want['params'][n]['data']).view_as(p))]
    for p, s in opt.state.items():
        for k, v in s.items():
            if not torch.equal(v.flatten().double(), torch.tensor(want['state'][names[p]][k]['data'], dtype=torch.float64)):
                bad.append(names[p] + '.' + k)
    out[name] = {'bad': bad, 'n_state': len(opt.state)}
print(json.dumps(out))`);
  return exportResults!;
}

describe('bad state dicts are refused with the offending parameter named, nothing changed', () => {
  const sd = () => load(fixture('optim_adam_mid.pt')) as Map<string, any>;

  test('parameter count mismatch', () => {
    const model = makeModel();
    const few = model.namedParameters().slice(0, 4);
    expect(() => new optim.Adam(few).loadStateDict(sd())).toThrow(/group 0 has 6 parameters in the state dict but 4 in this optimizer \(0\.weight, 0\.bias, 2\.weight, 2\.bias\)/);
    expect(() => optim.fromStateDict(sd(), { namedParameters: () => few })).toThrow(/list 6 parameters, the model has 4/);
  });

  test('shape mismatch names the parameter and keeps the old state', () => {
    const model = makeModel();
    const opt = new optim.Adam(model);
    train(model, opt, 0, 1);
    const before = opt.state().get('4.bias')!.exp_avg.toList();
    const bad = sd();
    bad.get('state').get(5).set('exp_avg', zeros([4]));
    expect(() => opt.loadStateDict(bad)).toThrow(/parameter '4\.bias' \(id 5, shape \[3\]\): 'exp_avg' has shape \[4\]/);
    expect(opt.state().get('4.bias')!.exp_avg.toList()).toEqual(before);
    expect(opt.state().get('4.bias')!.step).toBe(1);
  });

  test('missing state keys, wrong optimizer class, not a state dict', () => {
    const model = makeModel();
    const s = sd();
    s.get('state').get(2).delete('exp_avg_sq');
    expect(() => new optim.Adam(model).loadStateDict(s)).toThrow(/parameter '2\.weight' \(id 2.*has no 'exp_avg_sq'/);
    expect(() => new optim.AdamW(model).loadStateDict(sd())).toThrow(/is Adam's \(decoupled_weight_decay=False\); load it into Adam/);
    expect(() => new optim.SGD(model).loadStateDict(sd())).toThrow(/not an SGD group.*Adam/);
    expect(() => new optim.Adam(model).loadStateDict(load(fixture('optim_sgd_momentum_mid.pt')))).toThrow(/not an Adam\/AdamW group.*SGD/);
    expect(() => new optim.Adam(model).loadStateDict(new Map([['a', 1]]))).toThrow(/no 'param_groups' entry \(keys: a\)/);
    expect(() => new optim.Adam(model).loadStateDict(5)).toThrow(/expected an optimizer state_dict/);
    const stray = sd();
    stray.get('state').set(99, stray.get('state').get(0));
    expect(() => new optim.Adam(model).loadStateDict(stray)).toThrow(/id\(s\) 99 that no parameter group lists/);
  });

  test('a training checkpoint with an optimizer entry is accepted; hyperparameters come from the state dict', () => {
    const model = makeModel();
    model.loadStateDict(load(fixture('optim_adam_model_mid.pt')) as Map<string, any>);
    const opt = new optim.Adam(model, { lr: 0.5 }).loadStateDict(new Map<string, unknown>([['epoch', 3], ['optimizer', sd()]]));
    expect(opt.paramGroups[0].lr).toBe(1e-2);
    expect(opt.state().get('0.weight')!.step).toBe(25);
  });

  test('state dict written by Node loads back into Node identically', () => {
    const a = tensor([1, -2, 3]).requiresGrad_();
    const opt = new optim.AdamW([['a', a]], { lr: 1, amsgrad: true });
    a.mul(a).sum().backward();
    opt.step();
    const file = path.join(tmpDir(), 'o.pt');
    save(file, opt.stateDict());
    const back = new optim.AdamW([['a', a]]).loadStateDict(load(file));
    expect(back.paramGroups[0].lr).toBe(1);
    expect(back.paramGroups[0].amsgrad).toBe(true);
    expect(back.state().get('a')!.max_exp_avg_sq!.toList()).toEqual(opt.state().get('a')!.max_exp_avg_sq!.toList());
  });
});
