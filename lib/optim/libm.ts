// Python's `float ** float` and math.cos call the C library (glibc). V8's Math.pow does integer
// exponents by repeated squaring and is off by an ulp for about a third of (beta, step) pairs, which
// would shift Adam's bias corrections; Math.cos is fdlibm's. Bit-exactness with torch.optim needs the
// same libm, and libtorch's CPU kernels call it (std::pow / std::cos) on a one-element float64 tensor
// (one element never takes the vectorised SLEEF path). About 20 µs a call, cached by the callers.
import { callOp, Tensor } from '../tensor/tensor';
import { full } from '../tensor/create';
import { keep } from '../tensor/scope';

let arg: Tensor | null = null;
function scalarArg(v: number): Tensor {
  if (!arg || arg.isDisposed) arg = keep(full([], 0, { dtype: 'float64' }));
  return arg.fill_(v);
}

/** base ** exp exactly as Python computes it for floats (C pow). */
export function pyPow(base: number, exp: number): number {
  const r: Tensor = callOp('aten::pow', 'Scalar', base, scalarArg(exp));
  try { return r.item(); } finally { r.dispose(); }
}

/** math.cos(x) as Python computes it (C cos). */
export function pyCos(x: number): number {
  const r: Tensor = callOp('aten::cos', '', scalarArg(x));
  try { return r.item(); } finally { r.dispose(); }
}
