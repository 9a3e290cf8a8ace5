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
import { checkTargets, exactTerms, mcTerms, shiftLabels, shiftLogits, summedNll, Task, Term, unshiftTarget } from './likelihood';
import { uniqueParams } from './params';
import { pickOutput } from './output';
import { chunkFor, paramsOf, perSampleGradFn } from './persample';
import { FisherDiagonal, FisherVariant, Reduction } from './result';
import type { DistributedFisherOptions } from '../distributed/fisher';
import { FisherProgress, FisherSums, graphFisherSums } from './graph';
import { ScriptModule } from '../nn/script';
import { OptionError, throwIfAborted } from '../errors';
import { checkOptions, optionKeys } from '../options';

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
  /**
   * 'auto' (default): TorchScript models on the graph engine (every parameter use by a supported op on
   * the fast path, the rest on a per-parameter fallback), TS-built modules on the layer fast path when
   * every layer has a rule, else vmap. 'fast': the same, but a parameter without a rule is an error.
   * 'vmap': per-sample gradients by vmap(grad) for the whole model.
   */
  engine?: 'auto' | 'fast' | 'vmap';
  /** The model returns a tuple/list or dict: which element holds the logits (default: the first, or 'logits'). */
  output?: number | string;
  /** Causal language modelling: logits[:, :-1] predict labels[:, 1:] (labels [N, T] as Hugging Face's). */
  shift?: boolean;
  /** Sequence targets equal to this are ignored (default -100, Hugging Face's convention). */
  ignoreIndex?: number;
  /** exact: refuse (pointing to mc) when the classes exceed this (default 1024): one backward term per class. */
  maxExactClasses?: number;
  /**
   * TorchScript models, exact/mc: Fisher terms (classes, outputs or label samples) stacked on a vmapped axis
   * of ONE backward (default: as many as a 64 MiB budget for the captured outputs' gradients allows);
   * 1: one plain backward per term.
   */
  termsPerBackward?: number;
  /** TorchScript models: run each batch on libuv's pool ('worker', default) or on the JS thread ('js'). */
  thread?: 'worker' | 'js';
  /** vmap path: samples per vmap call, or the memory budget that decides it (see perSampleGrads). */
  chunkSize?: number;
  maxBytes?: number;
  /** Only these parameters (default: all trainable). */
  params?: string[];
  /** Called after each batch with { done, total, phase: 'fisher' } (total null when the data's size is unknown). */
  onProgress?: (p: FisherProgress) => void;
  signal?: AbortSignal;
  /** Data-parallel over the ranks of a c10d process group: each rank sums its share, the sums are all-reduced (lib/distributed). */
  distributed?: boolean | DistributedFisherOptions;
}

export const FISHER_OPTIONS = optionKeys<FisherOptions>('fisherDiagonal', {
  variant: true, task: true, samples: true, seed: true, reduction: true, device: true, batchSize: true, engine: true,
  output: true, shift: true, ignoreIndex: true, maxExactClasses: true, thread: true, chunkSize: true, maxBytes: true,
  params: true, termsPerBackward: true, onProgress: true, signal: true, distributed: true,
});

const VARIANTS: FisherVariant[] = ['empirical', 'mc', 'exact', 'batched'];

function validate(o: FisherOptions, who: string): void {
  checkOptions(who, o, FISHER_OPTIONS);
  if (o.variant && !VARIANTS.includes(o.variant)) throw new OptionError(`unknown variant '${o.variant}'; expected ${VARIANTS.join(', ')}`);
  if (o.task && o.task !== 'classification' && o.task !== 'regression') throw new OptionError(`unknown task '${o.task}'; expected classification or regression`);
  if (o.reduction && o.reduction !== 'sum' && o.reduction !== 'mean') throw new OptionError(`reduction must be 'sum' or 'mean', got '${o.reduction}'`);
  if (o.samples !== undefined && (!Number.isInteger(o.samples) || o.samples < 1)) throw new OptionError(`samples must be a positive integer, got ${o.samples}`);
  if (o.termsPerBackward !== undefined && (!Number.isInteger(o.termsPerBackward) || o.termsPerBackward < 1)) {
    throw new OptionError(`termsPerBackward must be a positive integer, got ${o.termsPerBackward}`);
  }
  if (o.engine && !['auto', 'fast', 'vmap'].includes(o.engine)) throw new OptionError(`engine must be auto, fast or vmap, got '${o.engine}'`);
}

/** The Fisher terms of one batch, from the model's (detached) output. */
function termsFor(variant: FisherVariant, task: Task, out: () => Tensor, y: Tensor, k: number, o: FisherOptions, ignoreIndex: number): Term[] {
  if (variant === 'empirical') return [{ target: y, scale: 1 }];
  if (variant === 'mc') return mcTerms(task, out(), k, y, ignoreIndex);
  return exactTerms(task, out(), o.maxExactClasses ?? 1024);
}

/**
 * The un-normalised sums Σ g² of every parameter over `data` (Σ over mini-batches of (Σ g)² for
 * 'batched'), N and the engine used: what fisherDiagonal normalises, and what a distributed run
 * all-reduces across ranks before normalising.
 */
export async function fisherSums(model: Module, data: FisherData, o: FisherOptions = {}): Promise<FisherSums> {
  validate(o, 'fisherSums');
  if (o.distributed) throw new OptionError('fisherSums: distributed runs go through fisherDiagonal (it all-reduces these sums)');
  const variant = o.variant ?? 'empirical', task = o.task ?? 'classification';
  const k = o.samples ?? 1, batchSize = o.batchSize ?? 64;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new OptionError(`fisherDiagonal: batchSize must be a positive integer, got ${batchSize}`);
  let unique;
  try {
    unique = uniqueParams(model, o.params);
  } catch (e) {
    throw new OptionError(`fisherDiagonal: ${(e as Error).message}`);
  }
  if (!unique.length) throw new OptionError('fisherDiagonal: the model has no trainable parameters' + (o.params ? ` among ${o.params.join(', ')}` : ''));
  const device = o.device ?? unique[0].tensor.device;
  const wrong = unique.find((p) => p.tensor.device !== device && !(device === 'cuda' && p.tensor.device === 'cuda:0'));
  if (wrong) throw new OptionError(`fisherDiagonal: device '${device}' requested but parameter '${wrong.name}' is on ${wrong.tensor.device}; move the model first (model.to('${device}'))`);
  if (model instanceof ScriptModule && o.engine !== 'vmap') {
    const wasTraining = model.training;
    model.eval();  // dropout off, batch-norm on running stats: per-sample gradients must not mix samples
    try {
      return await graphFisherSums(model, data, {
        variant, task, samples: k, seed: o.seed, batchSize, device, params: o.params, output: o.output, shift: o.shift,
        ignoreIndex: o.ignoreIndex, maxExactClasses: o.maxExactClasses, termsPerBackward: o.termsPerBackward, allowFallback: o.engine !== 'fast', thread: o.thread,
        onProgress: o.onProgress, signal: o.signal,
      });
    } finally {
      if (wasTraining) model.train();
    }
  }
  const named: [string, Tensor][] = unique.map((p) => [p.name, p.tensor]);
  const aliases = new Map(unique.filter((p) => p.aliases.length > 1).map((p) => [p.name, p.aliases.slice(1)]));
  const seq = { shift: !!o.shift, ignoreIndex: o.ignoreIndex ?? -100 };

  // Engine: the fast path needs every parameter in a layer with a rule; 'batched' needs only a backward.
  let plan: FastPlan | null = null;
  let engine = 'backward';
  if (variant !== 'batched') {
    const p = o.engine === 'vmap' ? 'vmap requested' : aliases.size ? `parameters shared by several layers (${[...aliases].map(([n, a]) => `${n} = ${a.join(' = ')}`).join('; ')})`
      : planFastPath(model, o.params ? new Set(o.params) : undefined);
    if (typeof p === 'string') {
      if (o.engine === 'fast') throw new OptionError(`fisherDiagonal: no fast path for this model: ${p}`);
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
      throwIfAborted(o.signal, 'fisherDiagonal');
      const b = raw.x.shape[0];
      const step = (): void => tidy(() => {
        const x = raw.x.device === device ? raw.x : raw.x.to(device);
        const y0 = raw.y.device === device ? raw.y : raw.y.to(device);
        checkTargets(task, y0, b);
        const nll = (out: unknown, t: Tensor, w?: Tensor): Tensor => summedNll(task, pickOutput(out, o.output), t, w, seq);
        const shifted = (raw: unknown): Tensor => { const out = pickOutput(raw, o.output); return seq.shift ? shiftLogits(out) : out; };
        const y = seq.shift ? shiftLabels(y0) : y0;
        if (variant === 'batched') {
          const gs = enableGrad(() => autogradGrad(nll(model.call(x), y0), live, { allowUnused: true }));
          named.forEach(([n], i) => { const g = gs[i]; if (g) acc.get(n)!.add_(g.square()); });
        } else if (plan) {
          enableGrad(() => {
            const rec = hookedForward(plan!, x);
            for (const t of termsFor(variant, task, () => shifted(rec.output), y, k, o, seq.ignoreIndex)) {
              accumulateFast(plan!, rec, nll(rec.output, unshiftTarget(t.target, seq.shift, seq.ignoreIndex), t.weight), t.scale, acc);
            }
          });
        } else {
          const terms = termsFor(variant, task, () => noGrad(() => shifted(model.call(x))), y, k, o, seq.ignoreIndex);
          const weighted = terms.some((t) => t.weight);
          fn ??= perSampleGradFn(model, (out, t, w) => nll(out, t, w), weighted, aliases);
          const chunk = chunkFor(params!, o, b);
          for (const t of terms) {
            const target = unshiftTarget(t.target, seq.shift, seq.ignoreIndex);
            for (let s = 0; s < b; s += chunk) {
              const len = Math.min(chunk, b - s);
              tidy(() => {
                const args = [params, x.narrow(0, s, len), target.narrow(0, s, len)];
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
          throw e instanceof FastPathUnsupported ? new OptionError(`fisherDiagonal: no fast path for this model: ${e.message}`) : e;
        }
        plan = null;
        engine = `vmap (${e.message})`;
        params = paramsOf(model, named.map(([n]) => n));
        step();
      }
      N += b;
      o.onProgress?.({ done: N, total, phase: 'fisher' });
      await new Promise((r) => setImmediate(r));
    }
    return { sums: acc, N, engine, perParameter: Object.fromEntries(named.map(([n]) => [n, engine])) };
  } catch (e) {
    for (const t of acc.values()) t.dispose();
    throw e;
  } finally {
    if (params) for (const t of params.values()) t.dispose();
    if (wasTraining) model.train();
  }
}

/** The diagonal Fisher of `model` over `data` (DESIGN.md's variants), one entry per parameter as named_parameters() names it. */
export async function fisherDiagonal(model: Module, data: FisherData, o: FisherOptions = {}): Promise<FisherDiagonal> {
  validate(o, 'fisherDiagonal');
  // Required here, not imported above: lib/distributed calls back into this function for each rank's share.
  if (o.distributed) return (require('../distributed/fisher') as typeof import('../distributed/fisher')).distributedFisher(model, data, o);
  const reduction = o.reduction ?? 'sum';
  const r = await fisherSums(model, data, o);
  if (r.N === 0) {
    for (const t of r.sums.values()) t.dispose();
    throw new OptionError('fisherDiagonal: the data held no examples');
  }
  if (reduction === 'mean') for (const t of r.sums.values()) t.div_(r.N);
  const variant = o.variant ?? 'empirical';
  const perParameter = Object.values(r.perParameter).some((v) => v !== r.engine) ? { engineParams: JSON.stringify(r.perParameter) } : {};
  return new FisherDiagonal(r.sums, {
    source: 'fisher', variant, task: o.task ?? 'classification', N: r.N, reduction, engine: r.engine, batchSize: o.batchSize ?? 64,
    ...perParameter,
    ...(r.backwards !== undefined ? { backwards: r.backwards } : {}), ...(r.termAxis ? { termAxis: r.termAxis } : {}),
    ...(o.output !== undefined ? { output: o.output } : {}), ...(o.shift ? { shift: true } : {}),
    ...(variant === 'mc' ? { samples: o.samples ?? 1, seed: o.seed } : {}),
  });
}
