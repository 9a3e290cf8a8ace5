// Module.loadStateDict takes load()'s result as is (typed PyValue, so `m.loadStateDict(load(f))` compiles
// under strict without a cast) and checks at run time that it is a Map of names to tensors.
import * as path from 'path';
import { load, nn, OptionError } from '../../lib';
import { python, tmpDir } from '../helpers/oracle';

const dir = tmpDir();
const file = (n: string) => path.join(dir, n);

beforeAll(() => {
  python(`
import sys, torch
torch.manual_seed(0)
m = torch.nn.Linear(3, 2)
torch.save(m.state_dict(), sys.argv[1])
torch.save({'weight': m.weight.detach(), 'bias': 0.5}, sys.argv[2])
torch.save([m.weight.detach(), m.bias.detach()], sys.argv[3])
torch.save({1: m.weight.detach()}, sys.argv[4])
print('null')
`, [file('sd.pt'), file('float.pt'), file('list.pt'), file('intkey.pt')]);
});

test("a PyTorch state_dict from load() goes into loadStateDict without a cast", () => {
  const expected = python<number[]>(`
import sys, torch
sd = torch.load(sys.argv[1], weights_only=True)
print(__import__('json').dumps(torch.cat([sd['weight'].flatten(), sd['bias']]).tolist()))
`, [file('sd.pt')]);
  const m = new nn.Linear(3, 2);
  expect(m.loadStateDict(load(file('sd.pt')))).toEqual({ missing: [], unexpected: [] });
  const got = [...(m.stateDict().get('weight')!.toArray() as Float32Array), ...(m.stateDict().get('bias')!.toArray() as Float32Array)];
  got.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
});

test('a non-tensor value, a non-string key or a non-dict checkpoint is an OptionError naming it', () => {
  const m = new nn.Linear(3, 2);
  expect(() => m.loadStateDict(load(file('float.pt')))).toThrow(OptionError);
  expect(() => m.loadStateDict(load(file('float.pt')))).toThrow(/loadStateDict\(Linear\): 'bias' is a number, not a tensor/);
  expect(() => m.loadStateDict(load(file('list.pt')))).toThrow(/loadStateDict\(Linear\): expected a state dict .* got a Array/);
  expect(() => m.loadStateDict(load(file('intkey.pt')))).toThrow(/loadStateDict\(Linear\): key 1 is a number, not a string/);
  expect(() => m.loadStateDict(null)).toThrow(/got null/);
});
