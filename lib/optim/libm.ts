// Python's `float ** float` and math.cos call the C library (glibc). V8's Math.pow does integer
// exponents by repeated squaring and is off by an ulp for about a third of (beta, step) pairs, which
// would shift Adam's bias corrections; Math.cos is fdlibm's. Bit-exactness with torch.optim needs the
// same libm. libtorch's CPU pow kernel calls std::pow on a one-element float64 tensor (the vectorised
// SLEEF path needs more elements); its cos kernel uses SLEEF even then (off by an ulp ~0.1% of the time),
// but polar(1, x) computes std::cos(x) elementwise, so cos goes through it. Checked against Python on
// 200k pow and 160k cos arguments with no difference. About 20-30 µs a call, cached by the callers.
import { callOp, Tensor } from '../tensor/tensor';
import { full } from '../tensor/create';
import { keep } from '../tensor/scope';

let arg: Tensor | null = null;
let one: Tensor | null = null;
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
  if (!one || one.isDisposed) one = keep(full([], 1, { dtype: 'float64' }));
  const z: Tensor = callOp('aten::polar', '', one, scalarArg(x));
  const r: Tensor = callOp('aten::real', '', z);
  try { return r.item(); } finally { r.dispose(); z.dispose(); }
}
