// Shared by the optimizer tests: the fixture's model, data and training loop, mirrored from scripts/fixtures/optim.py.
import { nn, optim, crossEntropy, Tensor, tidy, Module } from '../../lib';
import { fixtureJson } from '../helpers/oracle';
import { fromJson, stateFromJson } from '../helpers/tensors';

export const ref = fixtureJson('optim.json');

export function makeModel(): Module {
  const m = new nn.Sequential(new nn.Linear(10, 16), new nn.Tanh(), new nn.Linear(16, 8), new nn.ReLU(), new nn.Linear(8, 3));
  m.loadStateDict(stateFromJson(ref.init));
  return m;
}

const CAMEL: Record<string, string> = { weight_decay: 'weightDecay' };
export function optionsOf(kw: Record<string, unknown>): any {
  return Object.fromEntries(Object.entries(kw).map(([k, v]) => [CAMEL[k] ?? k, v]));
}

export function makeOptimizer(name: string, model: Module): optim.Adam | optim.AdamW | optim.SGD {
  const c = ref.configs[name];
  const named = model.namedParameters();
  const params = name === 'adam_groups'
    ? [{ params: named.slice(0, 2), lr: 1e-2 }, { params: named.slice(2), lr: 3e-3, weightDecay: 0.02 }]
    : model;
  const o = optionsOf(c.kw);
  return c.cls === 'Adam' ? new optim.Adam(params, o) : c.cls === 'AdamW' ? new optim.AdamW(params, o) : new optim.SGD(params, o);
}

const x = fromJson(ref.x), y = fromJson(ref.y);
/** Trains steps [from, to) on the fixture's batches; returns the losses. */
export function train(model: Module, opt: { zeroGrad(): void; step(): void }, from: number, to: number): number[] {
  const losses: number[] = [];
  const nb = 64 / ref.batch;
  for (let step = from; step < to; step++) {
    losses.push(tidy(() => {
      const b = step % nb;
      opt.zeroGrad();
      const loss: Tensor = crossEntropy(model.call(x.narrow(0, b * ref.batch, ref.batch)), y.narrow(0, b * ref.batch, ref.batch));
      loss.backward();
      opt.step();
      return loss.item();
    }));
  }
  return losses;
}

/** Every mismatch between a trained model + optimizer and the fixture's final parameters and state (exact). */
export function mismatches(name: string, model: Module, opt: optim.Adam | optim.SGD): string[] {
  const c = ref.configs[name];
  const bad: string[] = [];
  const cmp = (what: string, a: Tensor | undefined, j: any) => {
    if (!a) { bad.push(`${what}: missing in Node`); return; }
    const b = fromJson(j);
    if (!a.equal(b)) bad.push(`${what}: max |diff| ${a.to('float64').sub(b.to('float64')).abs().max().item()}`);
  };
  for (const [n, p] of model.namedParameters()) cmp(`param ${n}`, p, c.params[n]);
  const st = opt.state() as Map<string, Record<string, any>>;
  if (st.size !== Object.keys(c.state).length) bad.push(`state has ${st.size} entries, PyTorch ${Object.keys(c.state).length}`);
  for (const [n, s] of Object.entries<any>(c.state)) {
    const mine = st.get(n);
    if (!mine) { bad.push(`state ${n}: missing`); continue; }
    for (const [k, v] of Object.entries<any>(s)) {
      if (k === 'step') { if (mine.step !== v.data[0]) bad.push(`state ${n}.step: ${mine.step} vs ${v.data[0]}`); continue; }
      cmp(`state ${n}.${k}`, mine[k], v);
    }
    for (const k of Object.keys(mine)) if (!(k in s)) bad.push(`state ${n}.${k}: only in Node`);
  }
  return bad;
}
