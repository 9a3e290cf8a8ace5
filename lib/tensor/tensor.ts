// The Tensor class: a typed handle on an at::Tensor. Every maths method is one dispatcher call (see
// ops.ts); results are new Tensors tracked by the innermost tidy() scope; in-place methods end in `_`
// and return `this`, as in PyTorch.
import { Handle, native } from '../native';
import { AnyTypedArray, BIT_PATTERN_FLOATS, DType, DTYPE_SIZE, dtypeCode, dtypeFromCode, TypedArrayFor, typedView } from './dtype';
import { op } from './ops';
import { track } from './scope';
import { noteCreated } from '../device/memory';
import { OptionError, SquisherError } from '../errors';
import { checkOptions, optionKeys } from '../options';

export type Scalar = number | boolean;
export type TensorOrScalar = Tensor | Scalar;
export type Shape = readonly number[];
export type Device = 'cpu' | 'cuda' | `cuda:${number}` | string;

function h(x: Tensor): Handle {
  return x.handle;
}

/** What toList() returns: one value (0-d) or arrays nested once per dimension. */
export type NestedList = number | boolean | NestedList[];

/**
 * What an ATen op or a TorchScript forward can return: a tensor, a scalar, a string, None, or lists /
 * tuples / dicts of these. callOp / ScriptModule.forward take the expected type as a parameter
 * (`callOp<Tensor>(...)`, `const [a, b] = m.forward<[Tensor, Tensor]>(x)`): it is not checked at run time.
 */
export type JitValue = Tensor | number | boolean | bigint | string | null | JitValue[] | Map<JitValue, JitValue>;

/** Tensor.to's object form: where and as what (copy is accepted as PyTorch's; the result is always a new tensor). */
export interface ToOptions { device?: Device; dtype?: DType; copy?: boolean; }
const TO_OPTIONS = optionKeys<ToOptions>('Tensor.to', { device: true, dtype: true, copy: true });

/**
 * Converts a native result (a handle, an array of them, null) into Tensors. T is what the caller knows
 * the result to be (inferred from the context, e.g. a method returning Tensor): not checked.
 */
export function wrap<T = JitValue>(r: unknown): T {
  return wrapAny(r) as T;
}

function wrapAny(r: any): any {
  if (r === null || r === undefined) return r;
  if (Array.isArray(r)) return r.map(wrapAny);
  if (native.isTensor(r)) return new Tensor(r as Handle);
  return r;
}

function normDims(dim: number | readonly number[] | undefined): number[] | undefined {
  if (dim === undefined) return undefined;
  return typeof dim === 'number' ? [dim] : [...dim];
}

export interface ValuesIndices { values: Tensor; indices: Tensor; }

export class Tensor {
  private _h: Handle | null;
  private _meta: [number, number[], string, boolean] | null = null;

  /** @internal Wraps a native handle; use the factory functions (tensor, zeros, ...) instead. */
  constructor(handle: Handle) {
    this._h = handle;
    track(this);
    noteCreated();   // memory() warns once when undisposed tensors pile up (lib/device/memory.ts)
  }

  /** @internal The native handle; throws if the tensor was disposed. */
  get handle(): Handle {
    if (this._h === null) throw new SquisherError('this tensor was disposed');  // a bug in the caller: status 500
    return this._h;
  }

  private meta(): [number, number[], string, boolean] {
    // Shape/dtype/device never change for a handle, except through in-place resizes, which we do not expose.
    if (!this._meta) this._meta = native.meta(this.handle);
    return this._meta;
  }

  get shape(): number[] { return [...this.meta()[1]]; }
  get ndim(): number { return this.meta()[1].length; }
  get numel(): number { return this.meta()[1].reduce((a, b) => a * b, 1); }
  get dtype(): DType { return dtypeFromCode(this.meta()[0]); }
  get device(): string { return this.meta()[2]; }
  get isCuda(): boolean { return this.device.startsWith('cuda'); }
  get strides(): number[] { return native.strides(this.handle); }
  /** Size in bytes of this tensor's elements (not of the storage it views). */
  get nbytes(): number { return this.numel * DTYPE_SIZE[this.dtype]; }
  size(dim?: number): number | number[] {
    if (dim === undefined) return this.shape;
    const s = this.meta()[1];
    const d = dim < 0 ? dim + s.length : dim;
    if (d < 0 || d >= s.length) throw new OptionError(`size: dimension ${dim} out of range for a ${s.length}-d tensor`);
    return s[d];
  }

  // ---- memory ----
  /** Frees the tensor's memory now (idempotent). Views and other references keep shared storage alive. */
  dispose(): void {
    if (this._h !== null) {
      native.dispose(this._h);
      this._h = null;
    }
  }
  get isDisposed(): boolean { return this._h === null; }

  // ---- data out ----
  /**
   * A copy of the elements, row-major, in the TypedArray for this dtype (see dtype.ts). Name the dtype you
   * know it has to get that array's type: `t.toArray<'float32'>()` is a Float32Array (not checked).
   */
  toArray<D extends DType = DType>(): TypedArrayFor<D> {
    return typedView(this.dtype, native.toBuffer(this.handle)) as TypedArrayFor<D>;
  }
  /** Copies the elements into `dst` (a TypedArray/Buffer of exactly nbytes): no allocation. */
  copyTo(dst: ArrayBufferView): void { native.copyToBuffer(this.handle, dst); }
  /** Overwrites the elements from `src` (exactly nbytes, row-major): no allocation. Returns this. */
  copyFrom(src: ArrayBufferView): this { native.copyFromBuffer(this.handle, src); return this; }
  /** A copy of the elements as a Node Buffer. */
  toBuffer(): Buffer {
    return Buffer.from(native.toBuffer(this.handle));
  }
  /** The single element as a number (or boolean). */
  item(): number {
    return native.item(this.handle) as number;
  }
  /**
   * The elements as a plain (nested) JS array, as PyTorch's tolist(); float16/bfloat16/float8 and (u)int64
   * are converted to numbers, bool to booleans; a 0-d tensor gives its one value. Narrow with
   * `as number[][]` etc. where the rank is known.
   */
  toList(): NestedList {
    const flat = BIT_PATTERN_FLOATS.has(this.dtype) ? this.to('float32').toArray() : this.toArray();
    const vals: any[] = Array.from(flat as any, (x: any) => (typeof x === 'bigint' ? Number(x) : x));
    const shape = this.shape;
    if (this.dtype === 'bool') for (let i = 0; i < vals.length; i++) vals[i] = !!vals[i];
    const build = (d: number, off: number): any => {
      if (d === shape.length) return vals[off];
      const step = shape.slice(d + 1).reduce((a, b) => a * b, 1);
      return Array.from({ length: shape[d] }, (_, i) => build(d + 1, off + i * step));
    };
    return build(0, 0);
  }
  toString(): string { return native.toString(this.handle); }

  // ---- conversion ----
  /** A copy on another device and/or dtype (always a new tensor, unlike PyTorch which may return self). */
  to(target: Device | DType | ToOptions): Tensor {
    if (typeof target === 'object') checkOptions('Tensor.to', target, TO_OPTIONS);
    const o = typeof target === 'string' ? (target in DTYPE_SIZE ? { dtype: target as DType } : { device: target }) : target;
    return wrap(native.callOp(op('aten::_to_copy'), this.handle, o.dtype === undefined ? null : dtypeCode(o.dtype),
      null, o.device ?? null, null, false, null)) as Tensor;
  }
  /** The async form of to(): the copy runs on a worker thread. */
  async toAsync(target: Device | DType): Promise<Tensor> {
    const o = target in DTYPE_SIZE ? { dtype: target as DType, device: null } : { dtype: undefined, device: target };
    return wrap(await native.callOpAsync(op('aten::_to_copy'), this.handle, o.dtype === undefined ? null : dtypeCode(o.dtype),
      null, o.device ?? null, null, false, null));
  }
  cpu(): Tensor { return this.to('cpu'); }
  cuda(index = 0): Tensor { return this.to(`cuda:${index}`); }
  float(): Tensor { return this.to('float32'); }
  double(): Tensor { return this.to('float64'); }
  long(): Tensor { return this.to('int64'); }
  int(): Tensor { return this.to('int32'); }
  bool(): Tensor { return this.to('bool'); }
  half(): Tensor { return this.to('float16'); }
  bfloat16(): Tensor { return this.to('bfloat16'); }
  clone(): Tensor { return wrap(native.callOp(op('aten::clone'), this.handle)); }
  contiguous(): Tensor { return wrap(native.callOp(op('aten::contiguous'), this.handle)); }
  detach(): Tensor { return wrap(native.callOp(op('aten::detach'), this.handle)); }
  isContiguous(): boolean {
    const shape = this.meta()[1], st = this.strides;
    let expect = 1;
    for (let i = shape.length - 1; i >= 0; i--) {
      if (shape[i] !== 1 && st[i] !== expect) return false;
      expect *= shape[i];
    }
    return true;
  }

  // ---- arithmetic ----
  private bin(name: string, o: TensorOrScalar, ...rest: unknown[]): Tensor {
    return o instanceof Tensor
      ? wrap(native.callOp(op(name, 'Tensor'), this.handle, o.handle, ...rest))
      : wrap(native.callOp(op(name, 'Scalar'), this.handle, o, ...rest));
  }
  private binInplace(name: string, o: TensorOrScalar, ...rest: unknown[]): this {
    if (o instanceof Tensor) native.callOp(op(name, 'Tensor'), this.handle, o.handle, ...rest);
    else native.callOp(op(name, 'Scalar'), this.handle, o, ...rest);
    return this;
  }
  add(o: TensorOrScalar, alpha?: number): Tensor { return this.bin('aten::add', o, alpha); }
  sub(o: TensorOrScalar, alpha?: number): Tensor { return this.bin('aten::sub', o, alpha); }
  mul(o: TensorOrScalar): Tensor { return this.bin('aten::mul', o); }
  div(o: TensorOrScalar): Tensor { return this.bin('aten::div', o); }
  remainder(o: TensorOrScalar): Tensor { return this.bin('aten::remainder', o); }
  pow(o: TensorOrScalar): Tensor {
    return o instanceof Tensor
      ? wrap(native.callOp(op('aten::pow', 'Tensor_Tensor'), this.handle, o.handle))
      : wrap(native.callOp(op('aten::pow', 'Tensor_Scalar'), this.handle, o));
  }
  add_(o: TensorOrScalar, alpha?: number): this { return this.binInplace('aten::add_', o, alpha); }
  sub_(o: TensorOrScalar, alpha?: number): this { return this.binInplace('aten::sub_', o, alpha); }
  mul_(o: TensorOrScalar): this { return this.binInplace('aten::mul_', o); }
  div_(o: TensorOrScalar): this { return this.binInplace('aten::div_', o); }
  pow_(o: number): this { native.callOp(op('aten::pow_', 'Scalar'), this.handle, o); return this; }
  addcmul_(t1: Tensor, t2: Tensor, value = 1): this { native.callOp(op('aten::addcmul_'), this.handle, t1.handle, t2.handle, value); return this; }
  addcdiv_(t1: Tensor, t2: Tensor, value = 1): this { native.callOp(op('aten::addcdiv_'), this.handle, t1.handle, t2.handle, value); return this; }
  lerp_(end: Tensor, weight: number | Tensor): this {
    if (weight instanceof Tensor) native.callOp(op('aten::lerp_', 'Tensor'), this.handle, end.handle, weight.handle);
    else native.callOp(op('aten::lerp_', 'Scalar'), this.handle, end.handle, weight);
    return this;
  }
  zero_(): this { native.callOp(op('aten::zero_'), this.handle); return this; }
  fill_(v: Scalar): this { native.callOp(op('aten::fill_', 'Scalar'), this.handle, v); return this; }
  copy_(src: Tensor): this { native.callOp(op('aten::copy_'), this.handle, src.handle); return this; }
  clamp_(min?: number | null, max?: number | null): this { native.callOp(op('aten::clamp_'), this.handle, min ?? null, max ?? null); return this; }
  maximum_(o: Tensor): this { native.callOp(op('aten::maximum', 'out'), this.handle, o.handle, this.handle); return this; }
  uniform_(from = 0, to = 1): this { native.callOp(op('aten::uniform_'), this.handle, from, to, null); return this; }
  normal_(mean = 0, std = 1): this { native.callOp(op('aten::normal_'), this.handle, mean, std, null); return this; }
  sqrt_(): this { native.callOp(op('aten::sqrt_'), this.handle); return this; }

  private un(name: string, overload = ''): Tensor { return wrap(native.callOp(op(name, overload), this.handle)); }
  neg(): Tensor { return this.un('aten::neg'); }
  abs(): Tensor { return this.un('aten::abs'); }
  sqrt(): Tensor { return this.un('aten::sqrt'); }
  rsqrt(): Tensor { return this.un('aten::rsqrt'); }
  square(): Tensor { return this.un('aten::square'); }
  exp(): Tensor { return this.un('aten::exp'); }
  log(): Tensor { return this.un('aten::log'); }
  log1p(): Tensor { return this.un('aten::log1p'); }
  sign(): Tensor { return this.un('aten::sign'); }
  reciprocal(): Tensor { return this.un('aten::reciprocal'); }
  floor(): Tensor { return this.un('aten::floor'); }
  ceil(): Tensor { return this.un('aten::ceil'); }
  round(): Tensor { return this.un('aten::round'); }
  relu(): Tensor { return this.un('aten::relu'); }
  sigmoid(): Tensor { return this.un('aten::sigmoid'); }
  tanh(): Tensor { return this.un('aten::tanh'); }
  logicalNot(): Tensor { return this.un('aten::logical_not'); }
  isnan(): Tensor { return this.un('aten::isnan'); }
  isfinite(): Tensor { return this.un('aten::isfinite'); }
  clamp(min?: number | null, max?: number | null): Tensor { return wrap(native.callOp(op('aten::clamp'), this.handle, min ?? null, max ?? null)); }
  maximum(o: Tensor): Tensor { return wrap(native.callOp(op('aten::maximum'), this.handle, o.handle)); }
  minimum(o: Tensor): Tensor { return wrap(native.callOp(op('aten::minimum'), this.handle, o.handle)); }
  logicalAnd(o: Tensor): Tensor { return wrap(native.callOp(op('aten::logical_and'), this.handle, o.handle)); }
  logicalOr(o: Tensor): Tensor { return wrap(native.callOp(op('aten::logical_or'), this.handle, o.handle)); }

  // ---- comparison ----
  eq(o: TensorOrScalar): Tensor { return this.bin('aten::eq', o); }
  ne(o: TensorOrScalar): Tensor { return this.bin('aten::ne', o); }
  lt(o: TensorOrScalar): Tensor { return this.bin('aten::lt', o); }
  le(o: TensorOrScalar): Tensor { return this.bin('aten::le', o); }
  gt(o: TensorOrScalar): Tensor { return this.bin('aten::gt', o); }
  ge(o: TensorOrScalar): Tensor { return this.bin('aten::ge', o); }
  /** True when shapes and all elements are equal. */
  equal(o: Tensor): boolean { return native.callOp(op('aten::equal'), this.handle, o.handle) as boolean; }
  allclose(o: Tensor, rtol = 1e-5, atol = 1e-8): boolean {
    return native.callOp(op('aten::allclose'), this.handle, o.handle, rtol, atol, false) as boolean;
  }
  /** Elements of `this` where cond is true, else of `other`. */
  where(cond: Tensor, other: TensorOrScalar): Tensor {
    return other instanceof Tensor
      ? wrap(native.callOp(op('aten::where', 'self'), cond.handle, this.handle, other.handle))
      : wrap(native.callOp(op('aten::where', 'ScalarOther'), cond.handle, this.handle, other));
  }
  maskedFill(mask: Tensor, value: Scalar): Tensor { return wrap(native.callOp(op('aten::masked_fill', 'Scalar'), this.handle, mask.handle, value)); }
  maskedSelect(mask: Tensor): Tensor { return wrap(native.callOp(op('aten::masked_select'), this.handle, mask.handle)); }

  // ---- reductions ----
  sum(dim?: number | readonly number[], keepdim = false, dtype?: DType): Tensor {
    const d = normDims(dim);
    const dt = dtype ? dtypeCode(dtype) : null;
    return d === undefined ? wrap(native.callOp(op('aten::sum'), this.handle, dt))
      : wrap(native.callOp(op('aten::sum', 'dim_IntList'), this.handle, d, keepdim, dt));
  }
  mean(dim?: number | readonly number[], keepdim = false): Tensor {
    const d = normDims(dim);
    return d === undefined ? wrap(native.callOp(op('aten::mean'), this.handle, null))
      : wrap(native.callOp(op('aten::mean', 'dim'), this.handle, d, keepdim, null));
  }
  /** Variance with Bessel's correction by default (correction=1), as torch.var. */
  var(dim?: number | readonly number[], keepdim = false, correction = 1): Tensor {
    return wrap(native.callOp(op('aten::var', 'correction'), this.handle, normDims(dim) ?? null, correction, keepdim));
  }
  std(dim?: number | readonly number[], keepdim = false, correction = 1): Tensor {
    return wrap(native.callOp(op('aten::std', 'correction'), this.handle, normDims(dim) ?? null, correction, keepdim));
  }
  prod(): Tensor { return wrap(native.callOp(op('aten::prod'), this.handle, null)); }
  /** Vector p-norm over all elements or the given dims (torch.linalg.vector_norm). */
  norm(p = 2, dim?: number | readonly number[], keepdim = false): Tensor {
    return wrap(native.callOp(op('aten::linalg_vector_norm'), this.handle, p, normDims(dim) ?? null, keepdim, null));
  }
  max(): Tensor;
  max(dim: number, keepdim?: boolean): ValuesIndices;
  max(dim?: number, keepdim = false): Tensor | ValuesIndices {
    if (dim === undefined) return wrap(native.callOp(op('aten::max'), this.handle));
    const [values, indices] = wrap<[Tensor, Tensor]>(native.callOp(op('aten::max', 'dim'), this.handle, dim, keepdim));
    return { values, indices };
  }
  min(): Tensor;
  min(dim: number, keepdim?: boolean): ValuesIndices;
  min(dim?: number, keepdim = false): Tensor | ValuesIndices {
    if (dim === undefined) return wrap(native.callOp(op('aten::min'), this.handle));
    const [values, indices] = wrap<[Tensor, Tensor]>(native.callOp(op('aten::min', 'dim'), this.handle, dim, keepdim));
    return { values, indices };
  }
  argmax(dim?: number, keepdim = false): Tensor { return wrap(native.callOp(op('aten::argmax'), this.handle, dim ?? null, keepdim)); }
  argmin(dim?: number, keepdim = false): Tensor { return wrap(native.callOp(op('aten::argmin'), this.handle, dim ?? null, keepdim)); }
  cumsum(dim: number): Tensor { return wrap(native.callOp(op('aten::cumsum'), this.handle, dim, null)); }
  logsumexp(dim: number | readonly number[], keepdim = false): Tensor { return wrap(native.callOp(op('aten::logsumexp'), this.handle, normDims(dim), keepdim)); }
  softmax(dim: number): Tensor { return wrap(native.callOp(op('aten::softmax', 'int'), this.handle, dim, null)); }
  logSoftmax(dim: number): Tensor { return wrap(native.callOp(op('aten::log_softmax', 'int'), this.handle, dim, null)); }
  any(): Tensor { return this.un('aten::any'); }
  all(): Tensor { return this.un('aten::all'); }
  countNonzero(): number { return (wrap(native.callOp(op('aten::count_nonzero'), this.handle, null)) as Tensor).itemAndDispose(); }

  /** item() then dispose(): for scalars computed only to be read. */
  itemAndDispose(): number {
    const v = this.item();
    this.dispose();
    return v;
  }

  // ---- sorting / selection ----
  topk(k: number, dim = -1, largest = true, sorted = true): ValuesIndices {
    const [values, indices] = wrap<[Tensor, Tensor]>(native.callOp(op('aten::topk'), this.handle, k, dim, largest, sorted));
    return { values, indices };
  }
  /** The k-th smallest element (1-based) along dim. */
  kthvalue(k: number, dim = -1, keepdim = false): ValuesIndices {
    const [values, indices] = wrap<[Tensor, Tensor]>(native.callOp(op('aten::kthvalue'), this.handle, k, dim, keepdim));
    return { values, indices };
  }
  sort(dim = -1, descending = false): ValuesIndices {
    const [values, indices] = wrap<[Tensor, Tensor]>(native.callOp(op('aten::sort'), this.handle, dim, descending));
    return { values, indices };
  }
  argsort(dim = -1, descending = false): Tensor { return wrap(native.callOp(op('aten::argsort'), this.handle, dim, descending)); }
  quantile(q: number, dim?: number, keepdim = false): Tensor {
    return wrap(native.callOp(op('aten::quantile', 'scalar'), this.handle, q, dim ?? null, keepdim, 'linear'));
  }
  nonzero(): Tensor { return this.un('aten::nonzero'); }

  // ---- linear algebra ----
  matmul(o: Tensor): Tensor { return wrap(native.callOp(op('aten::matmul'), this.handle, h(o))); }
  async matmulAsync(o: Tensor): Promise<Tensor> { return wrap(await native.callOpAsync(op('aten::matmul'), this.handle, h(o))); }
  mm(o: Tensor): Tensor { return wrap(native.callOp(op('aten::mm'), this.handle, h(o))); }
  bmm(o: Tensor): Tensor { return wrap(native.callOp(op('aten::bmm'), this.handle, h(o))); }
  dot(o: Tensor): Tensor { return wrap(native.callOp(op('aten::dot'), this.handle, h(o))); }
  outer(o: Tensor): Tensor { return wrap(native.callOp(op('aten::outer'), this.handle, h(o))); }
  t(): Tensor { return this.un('aten::t'); }

  // ---- shape ----
  reshape(shape: Shape): Tensor { return wrap(native.callOp(op('aten::reshape'), this.handle, [...shape])); }
  view(shape: Shape): Tensor { return wrap(native.callOp(op('aten::view'), this.handle, [...shape])); }
  flatten(start = 0, end = -1): Tensor { return wrap(native.callOp(op('aten::flatten', 'using_ints'), this.handle, start, end)); }
  unsqueeze(dim: number): Tensor { return wrap(native.callOp(op('aten::unsqueeze'), this.handle, dim)); }
  squeeze(dim?: number): Tensor {
    return dim === undefined ? this.un('aten::squeeze') : wrap(native.callOp(op('aten::squeeze', 'dim'), this.handle, dim));
  }
  permute(dims: Shape): Tensor { return wrap(native.callOp(op('aten::permute'), this.handle, [...dims])); }
  transpose(d0: number, d1: number): Tensor { return wrap(native.callOp(op('aten::transpose', 'int'), this.handle, d0, d1)); }
  movedim(src: number, dst: number): Tensor { return wrap(native.callOp(op('aten::movedim', 'int'), this.handle, src, dst)); }
  expand(shape: Shape): Tensor { return wrap(native.callOp(op('aten::expand'), this.handle, [...shape], false)); }
  expandAs(o: Tensor): Tensor { return this.expand(o.shape); }
  repeat(times: Shape): Tensor { return wrap(native.callOp(op('aten::repeat'), this.handle, [...times])); }
  asStrided(shape: Shape, strides: Shape, storageOffset = 0): Tensor {
    return wrap(native.callOp(op('aten::as_strided'), this.handle, [...shape], [...strides], storageOffset));
  }
  narrow(dim: number, start: number, length: number): Tensor { return wrap(native.callOp(op('aten::narrow'), this.handle, dim, start, length)); }
  select(dim: number, index: number): Tensor { return wrap(native.callOp(op('aten::select', 'int'), this.handle, dim, index)); }
  /** Python's t[start:end:step] along dim (end may be omitted or negative). */
  slice(dim: number, start?: number, end?: number, step = 1): Tensor {
    return wrap(native.callOp(op('aten::slice', 'Tensor'), this.handle, dim, start ?? null, end ?? null, step));
  }
  indexSelect(dim: number, index: Tensor): Tensor { return wrap(native.callOp(op('aten::index_select'), this.handle, dim, index.handle)); }
  gather(dim: number, index: Tensor): Tensor { return wrap(native.callOp(op('aten::gather'), this.handle, dim, index.handle, false)); }
  /** Advanced indexing t[i0, i1, ...] with index tensors (null for ':'). */
  index(indices: (Tensor | null)[]): Tensor {
    return wrap(native.callOp(op('aten::index', 'Tensor'), this.handle, indices.map((i) => (i ? i.handle : null))));
  }
  indexPut_(indices: (Tensor | null)[], values: Tensor, accumulate = false): this {
    native.callOp(op('aten::index_put_'), this.handle, indices.map((i) => (i ? i.handle : null)), values.handle, accumulate);
    return this;
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return wrap(native.callOp(op('aten::scatter_add'), this.handle, dim, index.handle, src.handle));
  }
  chunk(chunks: number, dim = 0): Tensor[] { return wrap(native.callOp(op('aten::chunk'), this.handle, chunks, dim)); }
  split(size: number, dim = 0): Tensor[] { return wrap(native.callOp(op('aten::split', 'Tensor'), this.handle, size, dim)); }

  // ---- autograd ----
  get requiresGrad(): boolean { return native.meta(this.handle)[3]; }
  set requiresGrad(on: boolean) { native.setRequiresGrad(this.handle, on); }
  requiresGrad_(on = true): this { native.setRequiresGrad(this.handle, on); return this; }
  get isLeaf(): boolean { return native.isLeaf(this.handle); }
  /** The accumulated gradient (a new Tensor handle on the same memory), or null. */
  get grad(): Tensor | null { const g = native.getGrad(this.handle); return g ? new Tensor(g) : null; }
  set grad(g: Tensor | null) { native.setGrad(this.handle, g ? g.handle : null); }
  backward(gradient?: Tensor, retainGraph?: boolean, createGraph = false): void {
    native.backward([this.handle], gradient ? [gradient.handle] : null, retainGraph, createGraph);
  }
}

/** Concatenates along an existing dimension. */
export function cat(ts: Tensor[], dim = 0): Tensor {
  return wrap(native.callOp(op('aten::cat'), ts.map(h), dim));
}
/** Stacks along a new dimension. */
export function stack(ts: Tensor[], dim = 0): Tensor {
  return wrap(native.callOp(op('aten::stack'), ts.map(h), dim));
}
/** cond ? a : b elementwise. */
export function where(cond: Tensor, a: TensorOrScalar, b: TensorOrScalar): Tensor {
  if (a instanceof Tensor) return a.where(cond, b);
  if (b instanceof Tensor) return wrap(native.callOp(op('aten::where', 'ScalarSelf'), cond.handle, a, b.handle));
  return wrap(native.callOp(op('aten::where', 'Scalar'), cond.handle, a, b));
}

/**
 * Calls any ATen operator by name (the escape hatch for what Tensor has no method for), e.g.
 * callOp('aten::conv2d', '', x, w, b, [1, 1], [0, 0], [1, 1], 1). Tensors in/out are Tensors.
 */
export function callOp<T extends JitValue = JitValue>(name: string, overload: string, ...args: unknown[]): T {
  return wrap(native.callOp(op(name, overload), ...args.map(toNativeArg)));
}
/** callOp on a worker thread: inputs are kept alive and guarded against in-place changes until it settles. */
export async function callOpAsync<T extends JitValue = JitValue>(name: string, overload: string, ...args: unknown[]): Promise<T> {
  return wrap(await native.callOpAsync(op(name, overload), ...args.map(toNativeArg)));
}
function toNativeArg(a: unknown): unknown {
  if (a instanceof Tensor) return a.handle;
  if (Array.isArray(a)) return a.map(toNativeArg);
  return a;
}
