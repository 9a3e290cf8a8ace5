// The Squisher equals Python Adam's exp_avg_sq times the chosen factors exactly (bit for bit), from a
// torch.save'd optimizer state_dict and from a live optimizer's state; SGD and mismatches are refused.
import * as path from 'path';
import { squisher, ScriptModule, FisherDiagonal, tensor, Tensor } from '../../lib';
import { load } from '../../lib/io';
import { fixture, fixtureJson, tmpDir } from '../helpers/oracle';
import { fromJson } from '../helpers/tensors';

const opt = fixtureJson('fisher_opt.json');
const model = (kind: string) => ScriptModule.load(fixture(`fisher_opt_${kind}_model.jit.pt`));
const exactlyEqual = (got: Map<string, Tensor>, expected: Record<string, any>) => {
  expect([...got.keys()]).toEqual(Object.keys(expected));
  for (const [k, v] of Object.entries(expected)) expect(got.get(k)!.equal(fromJson(v))).toBe(true);
};

describe.each(['adam', 'adamw'])('%s state_dict (torch.save)', (kind) => {
  const ref = opt[kind];
  const file = fixture(`fisher_opt_${kind}.pt`);
  test('raw v, B·v, N·B·v and bias-corrected B·v equal Python exactly; metadata records the factors', () => {
    const m = model(kind);
    const raw = squisher({ file, model: m });
    exactlyEqual(raw, ref.exp_avg_sq);
    expect(raw.meta).toMatchObject({ source: 'squisher', scale: 'v', factor: 1, step: ref.steps, beta2: ref.beta2, optimizer: kind, biasCorrection: false });
    exactlyEqual(squisher({ file, model: m }, { batchSize: 8 }), ref.scaled.batch);
    const nb = squisher({ file, model: m }, { batchSize: 8, datasetSize: 24 });
    exactlyEqual(nb, ref.scaled.dataset);
    expect(nb.meta).toMatchObject({ scale: 'N*B*v', factor: 192, N: 24, batchSize: 8, reduction: 'sum' });
    const bc = squisher({ file, model: m }, { batchSize: 8, biasCorrection: true });
    exactlyEqual(bc, ref.scaled.batch_bc);
    expect(bc.meta.factor).toBeCloseTo(8 / (1 - ref.beta2 ** ref.steps), 12);
  });
});

test('Adam with L2 weight decay is noted; the metadata survives a save and load', () => {
  const F = squisher({ file: fixture('fisher_opt_adam.pt'), model: model('adam') }, { batchSize: 8 });
  expect(F.meta.note).toMatch(/weight_decay/);
  const out = path.join(tmpDir(), 's.safetensors');
  F.save(out);
  const back = FisherDiagonal.load(out);
  expect(back.meta).toMatchObject({ source: 'squisher', scale: 'B*v', factor: 8, batchSize: 8, optimizer: 'adam', step: opt.adam.steps });
  exactlyEqual(back, opt.adam.scaled.batch);
});

test('from a live optimizer: state() by parameter name, betas from paramGroups', () => {
  // the shape lib/optim's Adam exposes; built here from the checkpoint's own tensors
  const sd = load(fixture('fisher_opt_adamw.pt')) as Map<string, any>;
  const names: string[] = opt.adamw.names;
  const state = new Map(names.map((n, i) => [n, Object.fromEntries(sd.get('state').get(i)) as any]));
  const live = { kind: 'adamw', state: () => state, paramGroups: [{ betas: [0.8, 0.95] as [number, number], weight_decay: 0.01 }] };
  exactlyEqual(squisher(live, { batchSize: 8, datasetSize: 24 }), opt.adamw.scaled.dataset);
  expect(() => squisher({ kind: 'adam', state: () => new Map(), paramGroups: [{ betas: [0.9, 0.999] }] })).toThrow(/no state yet/);
  expect(() => squisher({ ...live, paramGroups: [{ betas: [0.9, 0.99] }, { betas: [0.9, 0.999] }] })).toThrow(/one beta2; found 0.99, 0.999/);
});

test('clear errors: SGD (names what it found), a model that does not match, bad factors', () => {
  expect(() => squisher({ file: fixture('fisher_opt_sgd.pt'), model: model('sgd') }))
    .toThrow(/no squared-gradient accumulator \(Adam's exp_avg_sq, Adagrad's sum, RMSprop's square_avg, Adafactor's exp_avg_sq_row\/col\): found momentum_buffer for 6 parameter\(s\) \(an SGD state\)/);
  const other = ScriptModule.load(fixture('fisher_cnn.jit.pt'));
  expect(() => squisher({ file: fixture('fisher_opt_adam.pt'), model: other })).toThrow(/state 0 has shape \[16,10\] but model parameter '0.weight' \(position 0\) has \[3,1,3,3\]/);
  expect(() => squisher({ file: fixture('fisher_opt_adam.pt'), model: ScriptModule.load(fixture('fisher_reg.jit.pt')) })).toThrow(/covers 6 parameters but the model has 4/);
  expect(() => squisher({ file: fixture('fisher_opt_adam.pt'), model: model('adam') }, { datasetSize: 100 })).toThrow(/datasetSize needs batchSize/);
  expect(() => squisher({ file: fixture('fisher_opt_adam.pt'), model: model('adam') }, { batchSize: -1 })).toThrow(/batchSize must be a positive number/);
  expect(() => squisher({ file: fixture('fisher_mlp_data.safetensors'), model: model('adam') })).toThrow(/no 'state' entry \(keys: [xy], [xy]\)/);
  expect(() => squisher({ stateDict: tensor([1]), model: model('adam') })).toThrow(/not a PyTorch optimizer state_dict/);
});

test('from a live lib/optim Adam: B·v by name, equal to its exp_avg_sq times B', () => {
  const { nn, optim, crossEntropy, randn, randint, tidy } = require('../../lib');
  const m = new nn.Sequential(new nn.Linear(6, 5), new nn.ReLU(), new nn.Linear(5, 3));
  const adam = new optim.Adam(m, { lr: 1e-2 });
  for (let i = 0; i < 3; i++) {
    tidy(() => {
      adam.zeroGrad();
      crossEntropy(m.call(randn([4, 6])), randint(0, 3, [4])).backward();
      adam.step();
    });
  }
  const S = squisher(adam, { batchSize: 4 });
  expect([...S.keys()]).toEqual(m.namedParameters().map(([n]: [string]) => n));
  for (const [n, st] of adam.state()) expect(S.get(n)!.equal(st.exp_avg_sq.mul(4))).toBe(true);
  expect(S.meta).toMatchObject({ optimizer: 'adam', step: 3, scale: 'B*v', factor: 4 });
});
