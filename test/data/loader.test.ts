// DataLoader: batches, drop-last, seeded shuffling; checked against the tensors themselves and against
// torch.utils.data.DataLoader's batch counts and sizes.
import { arange, data } from '../../lib';
import { python } from '../helpers/oracle';

const x = arange(0, 23, 1, { dtype: 'float32' }).reshape([23, 1]).mul(10), y = arange(0, 23);

test('batch counts and sizes equal torch DataLoader (batch 5, with and without drop_last)', () => {
  const ref = python(`
import json, torch
from torch.utils.data import DataLoader, TensorDataset
ds = TensorDataset(torch.arange(23.).view(23, 1), torch.arange(23))
print(json.dumps({str(d): [len(b[1]) for b in DataLoader(ds, batch_size=5, drop_last=d)] for d in (False, True)}))`);
  for (const dropLast of [false, true]) {
    const l = new data.DataLoader({ x, y }, { batchSize: 5, dropLast });
    const sizes = [...l].map((b) => b.y.shape[0]);
    expect(sizes).toEqual(ref[dropLast ? 'True' : 'False']);
    expect(l.length).toBe(sizes.length);
  }
});

test('unshuffled batches are the slices in order; x and y stay paired', () => {
  const batches = [...new data.DataLoader({ x, y }, { batchSize: 10 })];
  expect(batches.map((b) => b.y.toList())).toEqual([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [10, 11, 12, 13, 14, 15, 16, 17, 18, 19], [20, 21, 22]]);
  expect(batches[2].x.toList()).toEqual([[200], [210], [220]]);
});

test('shuffled: each epoch a permutation of all samples, reproducible from the seed, new each epoch', () => {
  const l = new data.DataLoader({ x, y }, { batchSize: 4, shuffle: true, seed: 7 });
  const e0 = [...l].flatMap((b) => { expect(b.x.toList()).toEqual((b.y.toList() as number[]).map((v) => [v * 10])); return b.y.toList() as number[]; });
  const e1 = [...l].flatMap((b) => b.y.toList() as number[]);
  expect([...e0].sort((a, b) => a - b)).toEqual(Array.from({ length: 23 }, (_, i) => i));
  expect([...e1].sort((a, b) => a - b)).toEqual(Array.from({ length: 23 }, (_, i) => i));
  expect(e0).not.toEqual(e1);
  expect(e0).not.toEqual(Array.from({ length: 23 }, (_, i) => i));
  const again = new data.DataLoader({ x, y }, { batchSize: 4, shuffle: true, seed: 7 });
  expect([...again].flatMap((b) => b.y.toList())).toEqual(e0);
  const other = new data.DataLoader({ x, y }, { batchSize: 4, shuffle: true, seed: 8 });
  expect([...other].flatMap((b) => b.y.toList())).not.toEqual(e0);
  expect(Array.from(l.order(0))).toEqual(e0);
});

test('the permutation is uniform enough: each position sees each value (chi-square over 4000 draws of n=5)', () => {
  const counts = Array.from({ length: 5 }, () => new Array(5).fill(0));
  for (let s = 0; s < 4000; s++) data.permutation(5, s).forEach((v, pos) => counts[pos][v]++);
  const chi = counts.flat().reduce((a, c) => a + (c - 800) ** 2 / 800, 0);
  expect(chi).toBeLessThan(52.6);  // chi-square, 16 dof, p = 1e-5
});

test('bad input', () => {
  expect(() => new data.DataLoader({ x, y: y.narrow(0, 0, 5) }, { batchSize: 2 })).toThrow(/x has 23 samples but y has 5/);
  expect(() => new data.DataLoader({ x, y }, { batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
});
