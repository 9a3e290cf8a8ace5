// TorchScript archives: parameters and buffers by name, equal to Python's named_parameters/buffers.
import { inspect, load, loadTorchScript } from '../../lib/io';
import { fixture, fixtureJson } from '../helpers/oracle';
import { compareTensor, newCtx } from './compare';

const desc = fixtureJson('checkpoints.json')['scripted.pt'];
const file = fixture('checkpoints/scripted.pt');

test('parameters and buffers equal what Python scripted', () => {
  const sd = loadTorchScript(file);
  expect([...sd.keys()]).toEqual(desc.items.map(([k]: any) => k.value));
  for (const [k, d] of desc.items) compareTensor(sd.get(k.value), { ...d, requires_grad: undefined }, k.value, newCtx(false));
});

test('load() recognises a TorchScript archive by its contents; inspect lists it', () => {
  const sd = load(file) as Map<string, unknown>;
  expect(sd.has('bn.running_mean')).toBe(true);
  const r = inspect(file);
  expect(r.format).toBe('torchscript');
  expect(r.tensors.find((t) => t.name === 'fc1.weight')).toMatchObject({ dtype: 'float32', shape: [5, 6] });
});
