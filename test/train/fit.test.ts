// fit/evaluate against the same loop written in Python: per-epoch training loss/accuracy and eval
// loss/accuracy must equal PyTorch's (same model, weights, batches, Adam); progress, abort, schedules.
import { data, nn, optim, train, tensor, mseLoss } from '../../lib';
import { python } from '../helpers/oracle';
import { fromJson } from '../helpers/tensors';
import { makeModel, ref } from '../optim/_train';

const x = fromJson(ref.x), y = fromJson(ref.y);
const evalData = { x: x.narrow(0, 0, 40), y: y.narrow(0, 0, 40) };

const py = python(`
import sys, json, torch, torch.nn.functional as F
sys.path.insert(0, 'scripts/fixtures')
from optim import make_model
ref = json.load(open('test/fixtures/generated/optim.json'))
m = make_model(); m.load_state_dict({k: torch.tensor(v['data']).view(v['shape']) for k, v in ref['init'].items()})
x = torch.tensor(ref['x']['data']).view(64, 10); y = torch.tensor(ref['y']['data'])
opt = torch.optim.Adam(m.parameters(), lr=1e-2)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
out = []
for epoch in range(3):
    m.train(); tot = hits = n = 0
    for s in range(0, 64, 24):   # batch 24: 24, 24, 16 (the last one short)
        xb, yb = x[s:s+24], y[s:s+24]
        opt.zero_grad(); o = m(xb); l = F.cross_entropy(o, yb); l.backward(); opt.step()
        tot += l.item() * len(yb); hits += (o.argmax(1) == yb).sum().item(); n += len(yb)
    sched.step()
    m.eval()
    with torch.no_grad():
        o = m(x[:40]); el = F.cross_entropy(o, y[:40]).item(); ea = (o.argmax(1) == y[:40]).sum().item() / 40
    out.append({'loss': tot / n, 'accuracy': hits / n, 'evalLoss': el, 'evalAccuracy': ea})
print(json.dumps(out))`);

test('per-epoch loss/accuracy and eval loss/accuracy equal the Python loop (Adam + StepLR, short last batch)', async () => {
  const model = makeModel();
  const opt = new optim.Adam(model, { lr: 1e-2 });
  const progress: number[] = [];
  const res = await train.fit(model, opt, { x, y }, {
    epochs: 3, batchSize: 24, evalData, scheduler: new optim.StepLR(opt, 1, 0.5),
    onProgress: (p) => progress.push(p.epoch * 10 + p.batch),
  });
  expect(res.map(({ loss, accuracy, evalLoss, evalAccuracy }) => ({ loss, accuracy, evalLoss, evalAccuracy }))).toEqual(py);
  expect(progress).toEqual([0, 1, 2, 10, 11, 12, 20, 21, 22]);
  expect(opt.paramGroups[0].lr).toBe(1e-2 / 8);
  expect(model.training).toBe(true);
});

test('evaluate: mean loss and accuracy over batches, model mode restored', () => {
  const model = makeModel();
  const r = train.evaluate(model, evalData, { batchSize: 7 });
  const p = python(`
import sys, json, torch, torch.nn.functional as F
sys.path.insert(0, 'scripts/fixtures')
from optim import make_model
ref = json.load(open('test/fixtures/generated/optim.json'))
m = make_model(); m.load_state_dict({k: torch.tensor(v['data']).view(v['shape']) for k, v in ref['init'].items()}); m.eval()
x = torch.tensor(ref['x']['data']).view(64, 10)[:40]; y = torch.tensor(ref['y']['data'])[:40]
tot = hits = 0
with torch.no_grad():
    for s in range(0, 40, 7):
        o = m(x[s:s+7]); tot += F.cross_entropy(o, y[s:s+7]).item() * len(y[s:s+7]); hits += (o.argmax(1) == y[s:s+7]).sum().item()
print(json.dumps({'loss': tot / 40, 'accuracy': hits / 40}))`);
  expect(r).toEqual({ ...p, n: 40 });
  expect(model.training).toBe(true);
});

test('regression (no accuracy), abort from a progress callback, bad loss', async () => {
  const model = new nn.Linear(3, 1);
  const xs = tensor([[1, 2, 3], [0, 1, 0], [2, 2, 2], [1, 0, 1]]), ys = tensor([[1], [0], [2], [1]]);
  const r = await train.fit(model, new optim.SGD(model, { lr: 0.01 }), { x: xs, y: ys }, { epochs: 2, batchSize: 2, lossFn: (a, b) => mseLoss(a, b) });
  expect(r).toHaveLength(2);
  expect(r[0].accuracy).toBeUndefined();
  expect(r[1].loss).toBeLessThan(r[0].loss);

  const ac = new AbortController();
  let calls = 0;
  await expect(train.fit(model, new optim.SGD(model), { x: xs, y: ys }, {
    epochs: 5, batchSize: 1, lossFn: (a, b) => mseLoss(a, b), signal: ac.signal,
    onProgress: () => { if (++calls === 2) ac.abort(); },
  })).rejects.toThrow(/aborted/i);
  expect(calls).toBe(2);

  await expect(train.fit(model, new optim.SGD(model), { x: xs, y: ys }, { lossFn: (a, b) => mseLoss(a, b, { reduction: 'none' }) }))
    .rejects.toThrow(/loss must be a scalar/);
  await expect(train.fit(model, new optim.SGD(model, { lr: 1e30 }), { x: xs, y: ys }, { epochs: 3, lossFn: (a, b) => mseLoss(a, b) }))
    .rejects.toThrow(/loss became (Infinity|NaN)/);
});

test('the event loop runs between batches', async () => {
  const model = makeModel();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  await train.fit(model, new optim.Adam(model), new data.DataLoader({ x, y }, { batchSize: 1 }), { epochs: 1 });
  clearInterval(timer);
  expect(ticks).toBeGreaterThan(0);
});

