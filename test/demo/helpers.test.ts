// The demo's building blocks: task-incremental logit restriction, digit subsets, the task head's
// parameter names, and plot paths that never replace a file.
import * as fs from 'fs';
import * as path from 'path';
import { tensor, Tensor, crossEntropy } from '../../lib';
import { restrict, subset, head } from '../../lib/demo/loop';
import { TaskHead, mlp, cloneModel } from '../../lib/demo/model';
import { freshPath } from '../../lib/demo/plot-file';
import { tmpDir } from '../helpers/oracle';
import { defaultDeps } from '../../lib/demo/defaults';

const long = (xs: number[]) => tensor(BigInt64Array.from(xs.map(BigInt)));

test('restrict picks the task columns and renumbers labels; the loss equals CE on the two logits', () => {
  const out = tensor([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]);
  const r = restrict(out, long([3, 2]), [2, 3]);
  expect(r.out.toList()).toEqual([[2, 3], [7, 8]]);
  expect(r.y.toList()).toEqual([1, 0]);
  // closed form: CE of [a, b] is log(1 + e^(a-b)) for label 1 and log(1 + e^(b-a)) for label 0; a - b = -1
  expect(crossEntropy(r.out, r.y).item()).toBeCloseTo((Math.log(1 + Math.exp(-1)) + Math.log(1 + Math.exp(1))) / 2, 6);
  const same = restrict(out, long([1, 2]));
  expect(same.out).toBe(out);
});

test('subset keeps rows of the given classes in order, up to a limit; head takes the first rows', () => {
  const d = { x: tensor([[0], [1], [2], [3], [4], [5]]), y: long([3, 1, 3, 0, 1, 2]) };
  const s = subset(d, [1, 3]);
  expect(s.y.toList()).toEqual([3, 1, 3, 1]);
  expect((s.x.toList() as number[][]).map((r) => r[0])).toEqual([0, 1, 2, 4]);
  expect(subset(d, [1, 3], 2).y.toList()).toEqual([3, 1]);
  expect(head(d, 2).y.toList()).toEqual([3, 1]);
  expect(head(d, 99).y.shape).toEqual([6]);
});

test('TaskHead reads the model through its task columns; unprefix gives the model\'s own names', () => {
  const m = mlp(8, 1);
  const h = new TaskHead(m, [4, 5]);
  const x = tensor(new Float32Array(2 * 784).map((_, i) => Math.sin(i)), { shape: [2, 1, 28, 28] });
  const full = m.call(x) as Tensor;
  const part = h.call(x) as Tensor;
  expect(part.toList()).toEqual(full.narrow(1, 4, 2).toList());
  const names = new Map(h.namedParameters());
  expect([...TaskHead.unprefix(names).keys()]).toEqual(m.namedParameters().map(([n]) => n));
  // the same seed gives the same weights; a clone equals its source
  const c = cloneModel(m, 8);
  expect((c.call(x) as Tensor).toList()).toEqual(full.toList());
  expect((mlp(8, 1).call(x) as Tensor).toList()).toEqual(full.toList());
});

test('freshPath never returns an existing file', () => {
  const d = tmpDir();
  const p = path.join(d, 'plot.svg');
  expect(freshPath(p)).toBe(p);
  fs.writeFileSync(p, 'x');
  expect(freshPath(p)).toBe(path.join(d, 'plot-1.svg'));
  fs.writeFileSync(path.join(d, 'plot-1.svg'), 'x');
  expect(freshPath(p)).toBe(path.join(d, 'plot-2.svg'));
});

test('the demo writes its scatter plot as PNG or SVG by the file extension', () => {
  const dir = tmpDir();
  const a = new Map([['w', tensor([1e-3, 1e-2, 1e-1, 1])]]);
  const b = new Map([['w', tensor([2e-3, 1e-2, 3e-1, 2])]]);
  const labels = { title: 't', x: 'Squisher', y: 'Fisher' };
  defaultDeps().plot(a, b, path.join(dir, 'p.png'), labels);
  defaultDeps().plot(a, b, path.join(dir, 'p.svg'), labels);
  expect(fs.readFileSync(path.join(dir, 'p.png')).subarray(1, 4).toString()).toBe('PNG');
  expect(fs.readFileSync(path.join(dir, 'p.svg'), 'utf8')).toMatch(/^<svg/);
});
