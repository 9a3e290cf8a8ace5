// grad / vmap composed from functorch's primitives: against closed forms and Python torch.func, and the
// layer-stack guard (nothing left on the stack after an error).
import { callOp, randn, tensor, Tensor, tidy, zeros } from '../../lib';
import { func } from '../../lib/fisher';
import { python } from '../helpers/oracle';
import { maxDiff } from '../helpers/tensors';

const { grad, gradAndValue, vmap, functorchDepth } = func;

test('grad matches closed forms; gradAndValue returns the value; trees of parameters work', () => tidy(() => {
  const x = tensor([0.5, -1.0, 2.0]);
  const g: Tensor = grad((t: Tensor) => t.pow(3).sum())(x);   // d/dx Σx³ = 3x²
  expect(maxDiff(g, x.square().mul(3))).toBeLessThan(1e-6);
  const W = tensor([[1, 2], [3, 4]]), v = tensor([1, -1]);
  const { grads, value } = gradAndValue((p: Map<string, Tensor>, u: Tensor) => p.get('W')!.matmul(u).square().sum(), { argnums: 0 })(new Map([['W', W]]), v);
  // f = ‖Wv‖²: ∂f/∂W = 2 (Wv) vᵀ
  expect(maxDiff(grads.get('W')!, W.matmul(v).outer(v).mul(2))).toBeLessThan(1e-6);
  expect(value.item()).toBeCloseTo(2, 6);  // Wv = [-1, -1]
  expect(functorchDepth()).toBe(0);
}));

test('vmap(grad) per-sample gradients equal Python torch.func.vmap(grad) for a least-squares loss', () => tidy(() => {
  const X = [[1, 2, 3], [0.5, -1, 2], [3, 0, -2], [1, 1, 1]];
  const w0 = [0.1, -0.2, 0.3];
  const y0 = [1, 0, -1, 2];
  const ref = python(`import torch,json
from torch.func import vmap, grad
X=torch.tensor(${JSON.stringify(X)}); w=torch.tensor(${JSON.stringify(w0)}); y=torch.tensor(${JSON.stringify(y0)})
f=lambda w,x,y: ((x*w).sum()-y)**2*torch.tanh(w).sum()
print(json.dumps(vmap(grad(f),in_dims=(None,0,0))(w,X,y).flatten().tolist()))`);
  const f = (w: Tensor, x: Tensor, y: Tensor) => x.mul(w).sum().sub(y).square().mul(w.tanh().sum());
  const g: Tensor = vmap(grad(f), { inDims: [null, 0, 0] })(tensor(w0), tensor(X), tensor(y0));
  expect(g.shape).toEqual([4, 3]);
  expect(maxDiff(g.flatten(), tensor(ref))).toBeLessThan(1e-5);
}));

test('vmap moves batch dims (inDims/outDims) like torch.vmap; unmapped outputs are expanded; sizes are checked', () => tidy(() => {
  const a = randn([5, 3]), b = randn([3, 5]);
  const out: Tensor = vmap((u: Tensor, v: Tensor) => u.mul(v), { inDims: [0, 1], outDims: 1 })(a, b);
  expect(out.shape).toEqual([3, 5]);
  expect(maxDiff(out, a.mul(b.t()).t())).toBe(0);
  const c: Tensor = vmap((_u: Tensor) => tensor([7, 8]), { inDims: [0] })(a);
  expect(c.shape).toEqual([5, 2]);
  expect(() => vmap((u: Tensor, v: Tensor) => u.add(v))(a, b)).toThrow(/mapped inputs disagree on the batch size \(5 vs 3 for argument 1\)/);
  expect(() => vmap((u: Tensor) => u, { inDims: [2] })(a)).toThrow(/argument 0 has 2 dims; cannot map over dim 2/);
}));

test('errors inside the transforms leave no functorch layer behind, and name the problem', () => {
  const x = randn([4, 3]);
  expect(() => vmap(grad((_x: Tensor): Tensor => { throw new Error('model exploded'); }))(x)).toThrow('model exploded');
  expect(functorchDepth()).toBe(0);
  expect(() => grad((t: Tensor) => t.mul(2))(x)).toThrow(/must return a scalar Tensor, got one with shape \[4,3\]/);
  expect(functorchDepth()).toBe(0);
  // an out= op has no batching rule and the fallback cannot run it: the error names the operator
  expect(() => vmap((t: Tensor) => callOp('aten::add', 'out', t, t, 1, zeros([3])))(x))
    .toThrow(/vmap: operator aten::add.out cannot be batched/);
  expect(() => vmap((t: Tensor) => t.nonzero())(x)).toThrow(/vmap: operator aten::nonzero cannot be batched/);
  expect(functorchDepth()).toBe(0);
  // and the next transform works normally
  const g: Tensor = vmap(grad((t: Tensor) => t.square().sum()))(x);
  expect(maxDiff(g, x.mul(2))).toBeLessThan(1e-6);
});

test('setVmapFallbackWarning toggles libtorch\'s setting and returns the previous one', () => {
  const { func } = require('../../lib');
  const prev = func.setVmapFallbackWarning(false);
  expect(func.setVmapFallbackWarning(true)).toBe(false);
  func.setVmapFallbackWarning(prev);
});
