// grad / gradAndValue: torch.func.grad composed from the C++ primitives exactly as
// torch/_functorch/eager_transforms.py (grad_and_value_impl) does: push a grad level, wrap every tensor
// argument for it, mark the differentiated ones requires_grad, run f, take autograd.grad with
// create_graph (so an outer transform can see through it), unwrap results, pop the level.
import { enableGrad, grad as autogradGrad } from '../autograd';
import { native } from '../native';
import { Tensor, wrap } from '../tensor/tensor';
import { zerosLike } from '../tensor/create';
import { withInplaceRequiresGrad, withLayer } from './layers';
import { leaves, mapTree, replaceLeaves } from './tree';
import { OptionError, ShapeError } from '../errors';
import { checkOptions, optionKeys } from '../options';

export interface GradTransformOptions {
  /** Which positional arguments to differentiate (default 0). Each may be a tree of Tensors. */
  argnums?: number | number[];
}
const GRAD_OPTIONS = optionKeys<GradTransformOptions>('func.grad', { argnums: true });

function unwrapAt(t: Tensor, level: number): Tensor { return wrap(native.unwrapForGrad(t.handle, level)); }

/**
 * gradAndValue(f)(...args) -> { grads, value }: grads has the structure of the differentiated
 * argument (or an array of them when argnums is an array); f must return a scalar Tensor.
 */
export function gradAndValue<A extends unknown[], G = A[0]>(f: (...args: A) => Tensor, o: GradTransformOptions = {}) {
  checkOptions('gradAndValue', o, GRAD_OPTIONS);
  const argnums = o.argnums ?? 0;
  const nums = Array.isArray(argnums) ? argnums : [argnums];
  // G (default: the first argument's type) is what the caller says grads hold; it is not checked.
  return (...args: A): { grads: G; value: Tensor } => withLayer(() => native.gradIncrementNesting(), (level) => enableGrad(() => {
    for (const n of nums) if (n < 0 || n >= args.length) throw new OptionError(`grad: argnums ${n} out of range for ${args.length} arguments`);
    const wrapped = args.map((a) => mapTree(a, (t) => wrap(native.wrapForGrad(t.handle, level)))) as A;
    const diff = nums.map((n) => wrapped[n]);
    const flatDiff = leaves(diff);
    if (flatDiff.length === 0) throw new OptionError('grad: the differentiated arguments hold no Tensor');
    withInplaceRequiresGrad(true, () => { for (const t of flatDiff) t.requiresGrad_(true); });
    const out = f(...wrapped);
    if (!(out instanceof Tensor)) throw new OptionError(`grad(f): f must return a Tensor, got ${typeof out}`);
    if (out.ndim !== 0) {
      throw new ShapeError(`grad(f): f must return a scalar Tensor, got one with shape [${out.shape}] ` +
        '(reduce it, e.g. with sum reduction, or differentiate each output)');
    }
    let gs: (Tensor | null)[];
    if (out.requiresGrad) gs = autogradGrad(out, flatDiff, { createGraph: true, allowUnused: true });
    else gs = flatDiff.map(() => null);
    const filled = gs.map((g, i) => unwrapAt(g ?? zerosLike(flatDiff[i]), level));
    const tree = replaceLeaves(diff, filled);
    return { grads: (Array.isArray(argnums) ? tree : tree[0]) as G, value: unwrapAt(out, level) };
  }));
}

/** torch.func.grad: the gradient of a scalar function with respect to argument(s) argnums. */
export function grad<A extends unknown[], G = A[0]>(f: (...args: A) => Tensor, o: GradTransformOptions = {}) {
  checkOptions('grad', o, GRAD_OPTIONS);
  const g = gradAndValue<A, G>(f, o);
  return (...args: A): G => g(...args).grads;
}
