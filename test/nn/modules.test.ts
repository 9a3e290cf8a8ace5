// TS-built models and TorchScript models against Python's outputs for the same weights and input.
import * as fs from 'fs';
import * as path from 'path';
import { nn, ScriptModule, Module, functionalCall, tensor, crossEntropy, mseLoss, nllLoss, Tensor, tidy, TorchError } from '../../lib';
import { fixture, fixtureJson, tmpDir, python } from '../helpers/oracle';
import { fromJson, maxDiff, stateFromJson } from '../helpers/tensors';

const ref = fixtureJson('nn_models.json');

const build: Record<string, () => Module> = {
  mlp: () => new nn.Sequential(new nn.Linear(20, 16), new nn.ReLU(), new nn.Linear(16, 16), new nn.Tanh(), new nn.Linear(16, 5)),
  cnn: () => new nn.Sequential(new nn.Conv2d(1, 4, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2),
    new nn.Conv2d(4, 6, 3), new nn.GELU(), new nn.AdaptiveAvgPool2d(2), new nn.Flatten(), new nn.Linear(24, 5)),
  normnet: () => new nn.Sequential(new nn.Linear(12, 10), new nn.BatchNorm1d(10), new nn.Sigmoid(), new nn.LayerNorm(10),
    new nn.Dropout(0.3), new nn.Linear(10, 4)),
  conv1d: () => new nn.Sequential(new nn.Conv1d(3, 5, 3, { stride: 2, padding: 1 }), new nn.ReLU(), new nn.AvgPool1d(2),
    new nn.Flatten(), new nn.Linear(10, 3)),
};

describe.each(Object.keys(build))('%s', (name) => {
  const r = ref[name];
  test('TS-built model: same parameter and state_dict names as PyTorch, same eval output', () => {
    const m = build[name]();
    expect(m.namedParameters().map(([n]) => n)).toEqual(r.params);
    expect([...m.stateDict().keys()]).toEqual(Object.keys(r.state));
    m.loadStateDict(stateFromJson(r.state));
    m.eval();
    expect(maxDiff(m.call(fromJson(r.x)), fromJson(r.y))).toBeLessThan(1e-5);
  });
  test('TorchScript model: same names, same output, functional call with replaced weights', () => {
    const m = ScriptModule.load(fixture(`${name}.jit.pt`));
    m.eval();
    expect(m.namedParameters().map(([n]) => n)).toEqual(r.params);
    const x = fromJson(r.x);
    expect(maxDiff(m.call(x), fromJson(r.y))).toBeLessThan(1e-5);
    // every model ends in a Linear: with all parameters zeroed through a functional call the output is 0
    const zeros = new Map(m.namedParameters().map(([n, t]) => [n, t.mul(0)]));
    const y0: Tensor = functionalCall(m, zeros, x);
    expect(y0.shape).toEqual(r.y.shape);
    expect(y0.abs().max().item()).toBe(0);
    // and the originals are back afterwards
    expect(maxDiff(m.call(x), fromJson(r.y))).toBeLessThan(1e-5);
  });
});

describe('Module mechanics', () => {
  test('loadStateDict names missing/unexpected keys and shape mismatches', () => {
    const m = build.mlp();
    const sd = stateFromJson(ref.mlp.state);
    sd.delete('0.bias');
    sd.set('9.weight', tensor([1]));
    expect(() => m.loadStateDict(sd)).toThrow(/missing keys: 0.bias; unexpected keys: 9.weight/);
    const bad = stateFromJson(ref.mlp.state);
    bad.set('2.weight', tensor([1, 2]));
    expect(() => m.loadStateDict(bad)).toThrow(/'2.weight' has shape \[2\] in the state dict but \[16,16\] in the model/);
    expect(m.loadStateDict(sd, { strict: false }).missing).toEqual(['0.bias']);
  });
  test('functionalCall restores parameters even when forward throws', () => {
    const m = build.mlp();
    const before = m.namedParameters()[0][1];
    expect(() => functionalCall(m, new Map([['0.weight', tensor([1, 2])]]), tensor([[1]]))).toThrow();
    expect(m.namedParameters()[0][1]).toBe(before);
  });
  test('train/eval switches dropout and batch-norm behaviour', () => {
    const m = build.normnet();
    m.loadStateDict(stateFromJson(ref.normnet.state));
    const x = fromJson(ref.normnet.x);
    m.eval();
    const a = m.call(x), b = m.call(x);
    expect(maxDiff(a, b)).toBe(0);
    m.train();
    expect(maxDiff(m.call(x), a)).toBeGreaterThan(0);
    expect((m.stateDict().get('1.num_batches_tracked') as Tensor).item()).toBeGreaterThan(0);
  });
  test('ScriptModule.save writes an archive Python loads, atomically and without clobbering', () => {
    const m = ScriptModule.load(fixture('mlp.jit.pt'));
    const dir = tmpDir();
    const out = path.join(dir, 'copy.pt');
    m.save(out);
    expect(() => m.save(out)).toThrow(/exists/);
    const y = python(`import torch,sys,json; m=torch.jit.load(sys.argv[1]); x=torch.tensor(json.loads(sys.argv[2])).reshape(7,20); print(json.dumps(m(x).flatten().tolist()))`,
      [out, JSON.stringify(ref.mlp.x.data)]);
    expect(maxDiff(tensor(y), fromJson(ref.mlp.y).flatten())).toBeLessThan(1e-5);
    expect(fs.readdirSync(dir)).toEqual(['copy.pt']);
  });
  test('ScriptModule.forwardAsync gives Python\'s output off the JS thread and rejects with libtorch\'s message', async () => {
    const m = ScriptModule.load(fixture('mlp.jit.pt'));
    m.eval();
    expect(maxDiff(await m.forwardAsync(fromJson(ref.mlp.x)), fromJson(ref.mlp.y))).toBeLessThan(1e-5);
    // A TorchError whose first line is the real error, not the interpreter's generic banner.
    const e = await m.forwardAsync(tensor([[1, 2, 3]])).catch((x) => x);
    expect(e).toBeInstanceOf(TorchError);
    expect(e.op).toBe('forward');
    expect(e.message.split('\n')[0]).toMatch(/^mat1 and mat2 shapes cannot be multiplied \(1x3 and 20x16\)$/);
    expect(e.message).toMatch(/The following operation failed in the TorchScript interpreter/);
    expect(() => m.forward(tensor([[1, 2, 3]]))).toThrow(/^mat1 and mat2 shapes cannot be multiplied/);
  });
  test('ScriptModule.load names the file when it is missing or not an archive', () => {
    expect(() => ScriptModule.load('/nonexistent/model.pt')).toThrow(/\/nonexistent\/model.pt: no such file/);
    const dir = tmpDir();
    fs.writeFileSync(path.join(dir, 'junk.pt'), 'not a zip');
    expect(() => ScriptModule.load(path.join(dir, 'junk.pt'))).toThrow(/junk.pt: not a loadable TorchScript archive/);
  });
});

describe('losses match PyTorch', () => {
  test('cross-entropy (with and without label smoothing), nll, mse, all reductions', () => {
    const logits = [[1.0, 2.0, 0.5], [0.1, -1.0, 3.0]];
    const y = [1, 2];
    const expected = python(`import torch,json,torch.nn.functional as F
l=torch.tensor(${JSON.stringify(logits)}); y=torch.tensor(${JSON.stringify(y)})
out={}
for r in ['mean','sum','none']:
  out['ce_'+r]=F.cross_entropy(l,y,reduction=r).flatten().tolist()
  out['ls_'+r]=F.cross_entropy(l,y,reduction=r,label_smoothing=0.1).flatten().tolist()
  out['nll_'+r]=F.nll_loss(l.log_softmax(1),y,reduction=r).flatten().tolist()
  out['mse_'+r]=F.mse_loss(l,l*0.5,reduction=r).flatten().tolist()
print(json.dumps(out))`);
    tidy(() => {
      const L = tensor(logits);
      const Y = tensor(BigInt64Array.from(y.map(BigInt)));
      for (const r of ['mean', 'sum', 'none'] as const) {
        const cmp = (t: Tensor, k: string) => (t.flatten().toList() as number[]).forEach((v, i) => expect(v).toBeCloseTo(expected[k][i], 5));
        cmp(crossEntropy(L, Y, { reduction: r }), `ce_${r}`);
        cmp(crossEntropy(L, Y, { reduction: r, labelSmoothing: 0.1 }), `ls_${r}`);
        cmp(nllLoss(L.logSoftmax(1), Y, { reduction: r }), `nll_${r}`);
        cmp(mseLoss(L, L.mul(0.5), { reduction: r }), `mse_${r}`);
      }
    });
  });
});
