// Per-sample gradients by vmap(grad(...)) on libtorch's functorch layers, for any model with a
// functional form (TS-built Modules and TorchScript models, both through Module.withTensors).
import { noGrad } from '../autograd';
import { grad } from '../func/grad';
import { vmap } from '../func/vmap';
import { Module } from '../nn/module';
import { crossEntropy, mseLoss } from '../nn/loss';
import { DTYPE_SIZE } from '../tensor/dtype';
import { cat, Tensor } from '../tensor/tensor';
import { keep, tidy } from '../tensor/scope';
import { summedNll } from './likelihood';
import { uniqueParams } from './params';
import { OptionError, ShapeError } from '../errors';
import { checkOptions, optionKeys } from '../options';

/** A loss of (model output, target) over a batch, summed over samples; or a name. */
export type LossSpec = 'cross_entropy' | 'mse' | 'nll_gaussian' | ((out: Tensor, target: Tensor) => Tensor);

export interface PerSampleOptions {
  /**
   * 'cross_entropy' (default; = F.cross_entropy 'sum'), 'mse' (= F.mse_loss 'sum', i.e. ‖f-y‖²),
   * 'nll_gaussian' (½‖f-y‖², the Gaussian negative log-likelihood), or a function returning the
   * batch's summed loss (it is called on a batch of one sample inside vmap).
   */
  loss?: LossSpec;
  /** Samples per vmap call. Default: as many as fit maxBytes. */
  chunkSize?: number;
  /** Memory budget for one chunk's per-sample gradients, in bytes (default 256 MiB). */
  maxBytes?: number;
  /** Only these parameters (default: all that require grad). */
  params?: string[];
}
const PER_SAMPLE_OPTIONS = optionKeys<PerSampleOptions>('perSampleGrads', { loss: true, chunkSize: true, maxBytes: true, params: true });

export function lossFn(spec: LossSpec | undefined): (out: Tensor, y: Tensor) => Tensor {
  if (typeof spec === 'function') return spec;
  switch (spec ?? 'cross_entropy') {
    // written without aten::nll_loss so vmap uses real batching rules (see likelihood.ts)
    case 'cross_entropy': return (o, y) => summedNll('classification', o, y);
    case 'nll_gaussian': return (o, y) => summedNll('regression', o, y);
    case 'mse': return (o, y) => summedNll('regression', o, y).mul(2);
    default: throw new OptionError(`unknown loss '${String(spec)}'; expected cross_entropy, mse, nll_gaussian or a function`);
  }
}
// Kept for users who want PyTorch's own ops in their custom losses.
export { crossEntropy, mseLoss };

/** The parameters to differentiate, detached (functorch wraps them itself), in namedParameters order. */
export function paramsOf(model: Module, only?: string[]): Map<string, Tensor> {
  const all = model.namedParameters().filter(([, t]) => t.requiresGrad);
  if (only) {
    const names = new Set(all.map(([n]) => n));
    const missing = only.filter((n) => !names.has(n));
    if (missing.length) throw new OptionError(`the model has no trainable parameter(s) ${missing.join(', ')}`);
  }
  const keepSet = only ? new Set(only) : null;
  return new Map(all.filter(([n]) => !keepSet || keepSet.has(n)).map(([n, t]) => [n, keep(noGrad(() => t.detach()))]));
}

/** How many samples per vmap call fit `maxBytes` of per-sample gradients (times 3 for wrappers and activations). */
export function chunkFor(params: Map<string, Tensor>, o: { chunkSize?: number; maxBytes?: number }, n: number): number {
  if (o.chunkSize !== undefined) {
    if (!Number.isInteger(o.chunkSize) || o.chunkSize < 1) throw new OptionError(`chunkSize must be a positive integer, got ${o.chunkSize}`);
    return Math.min(o.chunkSize, Math.max(n, 1));
  }
  let bytes = 0;
  for (const t of params.values()) bytes += t.numel * DTYPE_SIZE[t.dtype];
  return Math.max(1, Math.min(n, Math.floor((o.maxBytes ?? 256 * 2 ** 20) / (3 * Math.max(bytes, 1)))));
}

/**
 * A function of (params, x_n, t_n[, w_n]) -> s_n for one sample, vmapped over samples: the model sees a
 * batch of one (x_n.unsqueeze(0)), as DESIGN.md says.
 */
export function perSampleGradFn(model: Module, loss: (out: Tensor, y: Tensor, w?: Tensor) => Tensor, weighted: boolean,
  aliases?: Map<string, string[]>) {
  // a tied parameter is swapped under every name that reaches it, so each of its uses sees the same
  // differentiated tensor and the gradient sums over the uses
  const withAliases = (p: Map<string, Tensor>): Map<string, Tensor> => {
    if (!aliases?.size) return p;
    const all = new Map(p);
    for (const [n, names] of aliases) if (p.has(n)) for (const a of names) all.set(a, p.get(n)!);
    return all;
  };
  const f = (p: Map<string, Tensor>, x: Tensor, t: Tensor, w?: Tensor): Tensor =>
    model.withTensors(withAliases(p), () => loss(model.call(x.unsqueeze(0)), t.unsqueeze(0), w?.unsqueeze(0)));
  return vmap(grad(f), { inDims: weighted ? [null, 0, 0, 0] : [null, 0, 0] });
}

/**
 * Per-sample gradients g_n = ∇_θ loss(model(x_n), y_n) for every trainable parameter: a Map name ->
 * Tensor [B, ...param shape], in namedParameters order. Computed in chunks so at most chunkSize
 * samples' gradients are alive inside the transform at once (the result itself is B×P).
 */
export function perSampleGrads(model: Module, inputs: Tensor, targets: Tensor, o: PerSampleOptions = {}): Map<string, Tensor> {
  checkOptions('perSampleGrads', o, PER_SAMPLE_OPTIONS);
  const n = inputs.shape[0];
  if (targets.shape[0] !== n) throw new ShapeError(`perSampleGrads: ${n} inputs but ${targets.shape[0]} targets`);
  const unique = uniqueParams(model, o.params);
  const params = paramsOf(model, unique.map((p) => p.name));
  const loss = lossFn(o.loss);
  const chunk = chunkFor(params, o, n);
  const fn = perSampleGradFn(model, loss, false, new Map(unique.filter((p) => p.aliases.length > 1).map((p) => [p.name, p.aliases.slice(1)])));
  try {
    const parts: Map<string, Tensor>[] = [];
    for (let s = 0; s < n; s += chunk) {
      const len = Math.min(chunk, n - s);
      parts.push(tidy(() => {
        const g: Map<string, Tensor> = fn(params, inputs.narrow(0, s, len), targets.narrow(0, s, len));
        return new Map([...g].map(([k, v]) => [k, noGrad(() => v.detach())]));
      }));
    }
    const out = new Map<string, Tensor>();
    for (const name of params.keys()) {
      const ts = parts.map((p) => p.get(name)!);
      out.set(name, ts.length === 1 ? ts[0] : cat(ts, 0));
      if (ts.length > 1) for (const t of ts) t.dispose();
    }
    return out;
  } finally {
    for (const t of params.values()) t.dispose();
  }
}
