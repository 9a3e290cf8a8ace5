// The graph-level engine for TorchScript models (native/fisher): the forward graph is inlined and every
// use of every parameter by a supported op is captured, so each batch is ONE forward and one backward
// (per chunk of Fisher terms: exact and mc stack their terms on a vmapped axis), whatever the module tree (traced or scripted, residual, Hugging Face, control flow).
// Tied parameters are one entry with Σ_n(Σ_uses g)²; a parameter no rule covers takes an exact
// per-sample fallback on its own. Each batch runs on libuv's worker pool: this file only schedules
// batches, checks cancellation and reports progress.
import { native, Handle } from '../native';
import { OptionError, ShapeError, DTypeError, SquisherError, throwIfAborted } from '../errors';
import { manualSeed } from '../device';
import { ScriptModule } from '../nn/script';
import { Tensor } from '../tensor/tensor';
import { keep } from '../tensor/scope';
import { batchesOf, FisherData } from './data';
import { FisherVariant } from './result';
import { checkTargets, Task } from './likelihood';

/** A progress report: examples done so far, of `total` when known. */
export interface FisherProgress { done: number; total: number | null; phase: 'fisher'; }

export interface GraphPassOptions {
  variant: FisherVariant;
  task: Task;
  samples: number;
  seed?: number;
  batchSize: number;
  device: string;
  params?: string[];
  /** Which output holds the logits when the model returns a tuple/list (index) or dict (key). */
  output?: number | string;
  /** Causal LM: logits[:, :-1] predict labels[:, 1:]. */
  shift?: boolean;
  ignoreIndex?: number;
  maxExactClasses?: number;
  /** exact/mc: Fisher terms per vmapped backward (default: by memory; 1: one plain backward per term). */
  termsPerBackward?: number;
  /** false: a parameter without a rule is an error (engine 'fast'). */
  allowFallback: boolean;
  /** 'worker' (default: libuv's pool) or 'js' (the same computation on the JS thread). */
  thread?: 'worker' | 'js';
  onProgress?: (p: FisherProgress) => void;
  signal?: AbortSignal;
}

/** Un-normalised sums Σ g² per parameter (what a distributed run all-reduces), and how they were made. */
export interface FisherSums {
  sums: Map<string, Tensor>;
  N: number;
  engine: string;
  /** Per parameter: 'fast (aten::linear ×2)' or 'fallback: why'. */
  perParameter: Record<string, string>;
  /** Graph engine: backward passes to the captured outputs (a vmapped one over a chunk of terms counts once). */
  backwards?: number;
  /** Graph engine, batches with several terms (exact, mc k > 1): 'vmapped', or 'per term' and why. */
  termAxis?: string;
}

const TAGS: [string, new (m: string) => SquisherError][] = [['[ShapeError] ', ShapeError], ['[OptionError] ', OptionError], ['[DTypeError] ', DTypeError]];

/** Maps the native engine's tagged messages to the typed errors. */
export function typedFisherError(e: unknown): unknown {
  // native errors may come from another realm (a vm context), so no instanceof Error here
  const msg = (e as { message?: unknown } | null)?.message;
  if (typeof msg !== 'string') return e;
  for (const [tag, Cls] of TAGS) {
    const i = msg.indexOf(tag);
    if (i >= 0) return new Cls(`fisherDiagonal: ${msg.slice(i + tag.length)}`);
  }
  return e;
}

/** The plan of a TorchScript model: which parameters the fast path covers, through which ops, and why not. */
export function graphPlan(model: ScriptModule, params?: string[]): { handle: Handle; info: ReturnType<typeof native.fisherPlanInfo> } {
  let handle: Handle;
  try {
    handle = native.fisherPlan(model.native, params ?? null);
  } catch (e) {
    throw typedFisherError(e);
  }
  return { handle, info: native.fisherPlanInfo(handle) };
}

function describeEngine(info: ReturnType<typeof native.fisherPlanInfo>): { engine: string; perParameter: Record<string, string> } {
  const perParameter: Record<string, string> = {};
  const fallbacks: string[] = [];
  for (const p of info) {
    if (p.fallback) {
      perParameter[p.name] = `fallback${p.how ? ` (${p.how})` : ''}: ${p.why}`;
      fallbacks.push(`${p.name}: ${p.why}`);
    } else {
      const counts = new Map<string, number>();
      for (const u of p.uses) counts.set(u, (counts.get(u) ?? 0) + 1);
      perParameter[p.name] = `fast (${[...counts].map(([k, n]) => (n > 1 ? `${k} ×${n}` : k)).join(', ')})`;
    }
  }
  const engine = fallbacks.length ? `graph (${info.length - fallbacks.length} fast, ${fallbacks.length} per-sample fallback: ${fallbacks.join('; ')})` : 'graph';
  return { engine, perParameter };
}

/** Runs the pass and returns the un-normalised sums; the caller normalises (and may all-reduce first). */
export async function graphFisherSums(model: ScriptModule, data: FisherData, o: GraphPassOptions): Promise<FisherSums> {
  let handle: Handle;
  try {
    handle = o.thread === 'js' ? native.fisherPlan(model.native, o.params ?? null) : await native.fisherPlanAsync(model.native, o.params ?? null);
  } catch (e) {
    throw typedFisherError(e);
  }
  if (!o.allowFallback) {
    // engine 'fast': a parameter the plan already sends to the fallback is refused before any batch runs
    const fb = native.fisherPlanInfo(handle).find((p) => p.fallback);
    if (fb) throw new OptionError(`fisherDiagonal: no fast path for parameter '${fb.name}': ${fb.why}`);
  }
  const step = {
    variant: o.variant, task: o.task, samples: o.samples, shift: !!o.shift, ignoreIndex: o.ignoreIndex ?? -100,
    maxExactClasses: o.maxExactClasses ?? 1024, allowFallback: o.allowFallback, termsPerBackward: o.termsPerBackward ?? 0,
    ...(o.output !== undefined ? { output: o.output } : {}),
  };
  if (o.seed !== undefined) manualSeed(o.seed);
  const { total, iter } = batchesOf(data, o.batchSize);
  let N = 0;
  for await (const raw of iter) {
    throwIfAborted(o.signal, 'fisherDiagonal');
    // dtype and row checks with the names users know (float32, not Float), before any work
    if (raw.x.shape[0] !== raw.y.shape[0]) throw new ShapeError(`fisherDiagonal: the targets y have ${raw.y.shape[0]} rows but the inputs x have ${raw.x.shape[0]}`);
    try {
      checkTargets(o.task, raw.y, raw.x.shape[0]);
    } catch (e) {
      throw new (/dtype/.test((e as Error).message) ? DTypeError : ShapeError)(`fisherDiagonal: ${(e as Error).message}`);
    }
    const x = raw.x.device === o.device ? raw.x : raw.x.to(o.device);
    const y = raw.y.device === o.device ? raw.y : raw.y.to(o.device);
    try {
      N += o.thread === 'js' ? native.fisherStep(handle, [x.handle], y.handle, step)
        : await native.fisherStepAsync(handle, [x.handle], y.handle, step);
    } catch (e) {
      throw typedFisherError(e);
    } finally {
      if (x !== raw.x) x.dispose();
      if (y !== raw.y) y.dispose();
    }
    o.onProgress?.({ done: N, total, phase: 'fisher' });
  }
  throwIfAborted(o.signal, 'fisherDiagonal');
  const sums = new Map(native.fisherSums(handle).map(([n, h]) => [n, keep(new Tensor(h))] as [string, Tensor]));
  return { sums, N, ...describeEngine(native.fisherPlanInfo(handle)), ...describeBackwards(native.fisherPlanStats(handle)) };
}

function describeBackwards(s: ReturnType<typeof native.fisherPlanStats>): { backwards: number; termAxis?: string } {
  const why = s.perTermWhy;
  const termAxis = s.perTerm === 0 ? (s.vmapped ? 'vmapped' : undefined)
    : s.vmapped ? `vmapped, ${s.perTerm} backwards per term (${why})` : `per term (${why})`;
  return { backwards: s.backwards, ...(termAxis ? { termAxis } : {}) };
}
