// Shared by the Fisher tests: the torch.func references of scripts/fixtures/fisher.py.
import { nn, Module, ScriptModule, Tensor } from '../../lib';
import { fixture, fixtureJson } from '../helpers/oracle';
import { fromJson, stateFromJson } from '../helpers/tensors';

export const ref = fixtureJson('fisher_ref.json');
export type Case = 'mlp' | 'cnn' | 'reg';
export const CASES: Case[] = ['mlp', 'cnn', 'reg'];

/** The same architectures as the fixture, built in TypeScript with the fixture's weights. */
export function tsModel(name: Case): Module {
  const m = name === 'mlp' ? new nn.Sequential(new nn.Linear(10, 16), new nn.ReLU(), new nn.Linear(16, 12), new nn.Tanh(), new nn.Linear(12, 4))
    : name === 'cnn' ? new nn.Sequential(new nn.Conv2d(1, 3, 3, { padding: 1 }), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Conv2d(3, 4, 3),
      new nn.Tanh(), new nn.Flatten(), new nn.Linear(16, 3))
      : new nn.Sequential(new nn.Linear(6, 8), new nn.Tanh(), new nn.Linear(8, 2));
  m.loadStateDict(stateFromJson(ref[name].state));
  return m.eval();
}
export function scriptModel(name: Case): ScriptModule { return ScriptModule.load(fixture(`fisher_${name}.jit.pt`)); }
export function data(name: Case): { x: Tensor; y: Tensor } { return { x: fromJson(ref[name].x), y: fromJson(ref[name].y) }; }

/** ‖a - b‖ / ‖b‖ in float64. */
export function relErr(a: Tensor, b: Tensor): number {
  if (a.shape.join() !== b.shape.join()) throw new Error(`shape mismatch [${a.shape}] vs [${b.shape}]`);
  const bd = b.to('float64');
  return a.to('float64').sub(bd).norm().item() / Math.max(bd.norm().item(), 1e-30);
}
/** The worst relErr over every named tensor of `expected` (and the same names in `got`). */
export function worstRelErr(got: Map<string, Tensor>, expected: Record<string, any>): number {
  expect([...got.keys()]).toEqual(Object.keys(expected));
  return Math.max(...Object.entries(expected).map(([k, v]) => relErr(got.get(k)!, fromJson(v))));
}
