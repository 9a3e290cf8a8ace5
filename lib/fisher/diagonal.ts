// fisherDiagonal: every Fisher variant of DESIGN.md over a data set, on the fast path when every layer
// has a rule, else on the vmap(grad) path; async, with progress and cancellation.
import { enableGrad, grad as autogradGrad, noGrad } from '../autograd';
import { manualSeed } from '../device';
import { Module } from '../nn/module';
import { zerosLike } from '../tensor/create';
import { Tensor } from '../tensor/tensor';
import { keep, tidy } from '../tensor/scope';
import { batchesOf, FisherData } from './data';
import { accumulateFast, FastPathUnsupported, FastPlan, hookedForward, planFastPath } from './fastpath';
import { checkTargets, exactTerms, mcTerms, summedNll, Task, Term } from './likelihood';
import { chunkFor, paramsOf, perSampleGradFn, tiedParameters } from './persample';
import { FisherDiagonal, FisherVariant, Reduction } from './result';
import type { DistributedFisherOptions } from '../distributed/fisher';

export interface FisherOptions {
  /** 'empirical' (true labels, default), 'mc' (sampled labels), 'exact' (expectation), 'batched' (Σ_B (Σ_{n∈B} g_n)²). */
  variant?: FisherVariant;
  /** 'classification' (softmax / cross-entropy, default) or 'regression' (unit-variance Gaussian, ½‖f-y‖²). */
  task?: Task;
  /** mc: labels sampled per example (default 1). */
  samples?: number;
  /** mc: seeds the global generators (manualSeed) before sampling, for a reproducible result. */
  seed?: number;
  /** 'sum' over examples (default) or 'mean' (divided by N). */
  reduction?: Reduction;
  /** Where to compute: batches are moved here; the model must already be here. Default: the model's device. */
  device?: string;
  /** Examples per forward pass (default 64); for 'batched' it is the mini-batch whose gradient is squared. */
  batchSize?: number;
  /** 'auto' (default: fast path when every layer has a rule), 'fast' (error if not possible) or 'vmap'. */
  engine?: 'auto' | 'fast' | 'vmap';
  /** vmap path: samples per vmap call, or the memory budget that decides it (see perSampleGrads). */
  chunkSize?: number;
  maxBytes?: number;
  /** Only these parameters (default: all trainable). */
  params?: string[];
  onProgress?: (done: number, total: number | null) => void;
  signal?: AbortSignal;
  /** Data-parallel over the ranks of a c10d process group: each rank sums its share, the sums are all-reduced (lib/distributed). */
  distributed?: boolean | DistributedFisherOptions;
}

const VARIANTS: FisherVariant[] = ['empirical', 'mc', 'exact', 'batched'];

function validate(o: FisherOptions): void {
  if (o.variant && !VARIANTS.includes(o.variant)) throw new TypeError(`unknown variant '${o.variant}'; expected ${VARIANTS.join(', ')}`);
  if (o.task && o.task !== 'classification' && o.task !== 'regression') throw new TypeError(`unknown task '${o.task}'; expected classification or regression`);
  if (o.reduction && o.reduction !== 'sum' && o.reduction !== 'mean') throw new TypeError(`reduction must be 'sum' or 'mean', got '${o.reduction}'`);
  if (o.samples !== undefined && (!Number.isInteger(o.samples) || o.samples < 1)) throw new RangeError(`samples must be a positive integer, got ${o.samples}`);
  if (o.engine && !['auto', 'fast', 'vmap'].includes(o.engine)) throw new TypeError(`engine must be auto, fast or vmap, got '${o.engine}'`);
}

function abortError(signal: AbortSignal): Error {
  const r = (signal as any).reason;
  return r instanceof Error ? r : new Error('fisherDiagonal: aborted');
}

/** The Fisher terms of one batch, from the model's (detached) output. */
function termsFor(variant: FisherVariant, task: Task, out: () => Tensor, y: Tensor, k: number): Term[] {
  if (variant === 'empirical') return [{ target: y, scale: 1 }];
  if (variant === 'mc') return mcTerms(task, out(), k);
  return exactTerms(task, out());
}

export async function fisherDiagonal(model: Module, data: FisherData, o: FisherOptions = {}): Promise<FisherDiagonal> {
  validate(o);
  // Required here, not imported above: lib/distributed calls back into this function for each rank's share.
  if (o.distributed) return (require('../distributed/fisher') as typeof import('../distributed/fisher')).distributedFisher(model, data, o);
  const variant = o.variant ?? 'empirical', task = o.task ?? 'classification', reduction = o.reduction ?? 'sum';
  const k = o.samples ?? 1, batchSize = o.batchSize ?? 64;
  // a tied parameter (one storage under two names) is one parameter, as in Python's named_parameters()
  const tied = tiedParameters(model);
  const named = model.namedParameters().filter(([n, t]) => t.requiresGrad && !tied.has(n) && (!o.params || o.params.includes(n)));
  if (!named.length) throw new Error('fisherDiagonal: the model has no trainable parameters' + (o.params ? ` among ${o.params.join(', ')}` : ''));
  const device = o.device ?? named[0][1].device;
  const wrong = named.find(([, t]) => t.device !== device && !(device === 'cuda' && t.device === 'cuda:0'));
  if (wrong) throw new Error(`fisherDiagonal: device '${device}' requested but parameter '${wrong[0]}' is on ${wrong[1].device}; move the model first (model.to('${device}'))`);

  // Engine: the fast path needs every parameter in a layer with a rule; 'batched' needs only a backward.
  let plan: FastPlan | null = null;
  let engine = 'backward';
  if (variant !== 'batched') {
    // per-layer rules would give each use of a tied parameter its own share of the gradient
    const p = o.engine === 'vmap' ? 'vmap requested' : tied.size ? `tied parameters (${[...tied].map(([a, c]) => `${a} = ${c}`).join(', ')})`
      : planFastPath(model, o.params ? new Set(o.params) : undefined);
    if (typeof p === 'string') {
      if (o.engine === 'fast') throw new Error(`fisherDiagonal: no fast path for this model: ${p}`);
      engine = o.engine === 'vmap' ? 'vmap' : `vmap (${p})`;
    } else { plan = p; engine = 'fast'; }
  }

  const wasTraining = model.training;
  model.eval();  // dropout off, batch-norm on running stats: per-sample gradients must not mix samples
  const acc = new Map(named.map(([n, t]) => [n, keep(noGrad(() => zerosLike(t)))]));
  let params = plan || variant === 'batched' ? null : paramsOf(model, named.map(([n]) => n));
  const live = named.map(([, t]) => t);
  let fn: ((...a: any[]) => Map<string, Tensor>) | null = null;
  let N = 0;
  try {
    if (o.seed !== undefined) manualSeed(o.seed);
    const { total, iter } = batchesOf(data, batchSize);
    for await (const raw of iter as AsyncIterable<{ x: Tensor; y: Tensor }>) {
      if (o.signal?.aborted) throw abortError(o.signal);
      const b = raw.x.shape[0];
      const step = (): void => tidy(() => {
        const x = raw.x.device === device ? raw.x : raw.x.to(device);
        const y = raw.y.device === device ? raw.y : raw.y.to(device);
        checkTargets(task, y, b);
        if (variant === 'batched') {
          const gs = enableGrad(() => autogradGrad(summedNll(task, model.call(x), y), live, { allowUnused: true }));
          named.forEach(([n], i) => { const g = gs[i]; if (g) acc.get(n)!.add_(g.square()); });
        } else if (plan) {
          enableGrad(() => {
            const rec = hookedForward(plan!, x);
            for (const t of termsFor(variant, task, () => rec.output, y, k)) {
              accumulateFast(plan!, rec, summedNll(task, rec.output, t.target, t.weight), t.scale, acc);
            }
          });
        } else {
          const terms = termsFor(variant, task, () => noGrad(() => model.call(x)), y, k);
          const weighted = terms.some((t) => t.weight);
          fn ??= perSampleGradFn(model, (out, t, w) => summedNll(task, out, t, w), weighted);
          const chunk = chunkFor(params!, o, b);
          for (const t of terms) {
            for (let s = 0; s < b; s += chunk) {
              const len = Math.min(chunk, b - s);
              tidy(() => {
                const args = [params, x.narrow(0, s, len), t.target.narrow(0, s, len)];
                if (weighted) args.push(t.weight!.narrow(0, s, len));
                const g = fn!(...args);
                for (const [n, gi] of g) acc.get(n)!.add_(noGrad(() => gi.square().sum(0).mul(t.scale)));
              });
            }
          }
        }
      });
      try {
        step();
      } catch (e) {
        // Some structure only shows in a forward (a layer called twice): the first batch tells, before
        // anything was accumulated or sampled; then the vmap path takes over, unless 'fast' was demanded.
        if (!(e instanceof FastPathUnsupported) || N > 0 || o.engine === 'fast') {
          throw e instanceof FastPathUnsupported ? new Error(`fisherDiagonal: no fast path for this model: ${e.message}`) : e;
        }
        plan = null;
        engine = `vmap (${e.message})`;
        params = paramsOf(model, named.map(([n]) => n));
        step();
      }
      N += b;
      o.onProgress?.(N, total);
      await new Promise((r) => setImmediate(r));
    }
    if (N === 0) throw new Error('fisherDiagonal: the data held no examples');
    if (reduction === 'mean') for (const t of acc.values()) t.div_(N);
    return new FisherDiagonal(acc, {
      source: 'fisher', variant, task, N, reduction, engine, batchSize,
      ...(variant === 'mc' ? { samples: k, seed: o.seed } : {}),
    });
  } catch (e) {
    for (const t of acc.values()) t.dispose();
    throw e;
  } finally {
    if (params) for (const t of params.values()) t.dispose();
    if (wasTraining) model.train();
  }
}
