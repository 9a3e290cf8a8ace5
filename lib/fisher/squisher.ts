// The Squisher (Li, Dangel, Tam & Raffel, "Fishers for Free?", ICML 2025): Adam's exp_avg_sq, recycled
// as a Fisher diagonal with zero forward or backward passes. Adam keeps v = β2·v + (1-β2)·ḡ² with ḡ the
// gradient of the batch-MEAN loss, so v ≈ E[(Σ_{n∈B} g_n / B)²]; B·v undoes the mean's 1/B² up to the
// per-sample variance (the paper's Squisher), N·B·v stands in for a Fisher summed over N examples (e.g.
// EWC's λ). Bias correction 1/(1-β2^t) is optional and recorded. Plain Adam with weight_decay folds
// wd·θ into ḡ, hence into v; AdamW does not (both are accepted; the metadata says which it was).
import { flattenTensors, load } from '../io';
import { Module } from '../nn/module';
import { pyPow } from '../optim/libm';
import { Tensor } from '../tensor/tensor';
import { FisherDiagonal, FisherMeta } from './result';

/** Per-parameter optimizer state, as lib/optim's optimizer.state() gives it (by parameter name). */
export interface AdamParamState { step: number | Tensor; exp_avg?: Tensor; exp_avg_sq?: Tensor; max_exp_avg_sq?: Tensor; [k: string]: unknown; }
/** What the Squisher needs from a live optimizer (lib/optim's Adam/AdamW satisfy it). */
export interface OptimizerLike {
  kind?: string;
  /** name -> per-parameter state (Adam's { step, exp_avg, exp_avg_sq }; anything else is named in the error). */
  state(): Map<string, object>;
  paramGroups: { betas?: readonly [number, number] | number[]; weight_decay?: number; weightDecay?: number; amsgrad?: boolean; params?: unknown[] }[];
}

export interface SquisherOptions {
  /** Multiply by the training batch size B (the paper's Squisher). */
  batchSize?: number;
  /** Also multiply by the data set size N (a Fisher summed over N examples); needs batchSize. */
  datasetSize?: number;
  /** Divide by 1 - β2^step (Adam's own bias correction of v). Default false. */
  biasCorrection?: boolean;
  /** With amsgrad, use max_exp_avg_sq instead of exp_avg_sq. */
  useMax?: boolean;
}

interface Extracted { v: Map<string, Tensor>; step: number; beta2: number; kind: string; weightDecay: number; }

function num(v: unknown): number { return v instanceof Tensor ? v.item() : Number(v); }

function noAccumulator(found: Set<string>, count: number): Error {
  const keys = [...found].sort().join(', ') || 'nothing';
  const hint = found.has('momentum_buffer') ? ' (an SGD state)' : found.has('sum') ? ' (an Adagrad state)' : found.has('square_avg') ? ' (an RMSprop state)' : '';
  return new Error(`squisher: the optimizer state has no squared-gradient accumulator exp_avg_sq: found ${keys} for ${count} parameter(s)${hint}; ` +
    'the Squisher needs an Adam or AdamW state');
}

function pick(s: AdamParamState, name: string, useMax: boolean): Tensor {
  const t = useMax ? s.max_exp_avg_sq : s.exp_avg_sq;
  if (!(t instanceof Tensor)) {
    if (useMax) throw new Error(`squisher: parameter '${name}' has no max_exp_avg_sq (the optimizer did not use amsgrad)`);
    throw noAccumulator(new Set(Object.keys(s)), 1);
  }
  return t;
}

function fromLive(opt: OptimizerLike, useMax: boolean): Extracted {
  const st = opt.state() as Map<string, AdamParamState>;
  if (!(st instanceof Map)) throw new TypeError('squisher: optimizer.state() must return a Map of parameter name -> state');
  if (st.size === 0) throw new Error('squisher: the optimizer has no state yet (no step() was taken)');
  const found = new Set<string>();
  for (const s of st.values()) for (const k of Object.keys(s)) found.add(k);
  if (!found.has('exp_avg_sq')) throw noAccumulator(found, st.size);
  const betas = new Set(opt.paramGroups.map((g) => (g.betas ? g.betas[1] : NaN)));
  if (betas.size !== 1 || betas.has(NaN)) throw new Error(`squisher: the optimizer's parameter groups need one beta2; found ${[...betas].join(', ')}`);
  const steps = new Set([...st.values()].map((s) => num(s.step)));
  const v = new Map([...st].map(([n, s]) => [n, pick(s, n, useMax)]));
  const g0 = opt.paramGroups[0];
  return { v, step: Math.max(...steps), beta2: [...betas][0], kind: opt.kind ?? 'adam', weightDecay: g0.weight_decay ?? g0.weightDecay ?? 0 };
}

function asMap(v: unknown, what: string): Map<unknown, unknown> {
  if (v instanceof Map) return v;
  throw new Error(`squisher: ${what} is not a dict (got ${v === null ? 'None' : typeof v}): not a PyTorch optimizer state_dict`);
}

/** From a PyTorch optimizer state_dict (as lib/io's load() returns it): integer ids mapped to names in model order. */
function fromStateDict(sd: unknown, model: ParamSource, useMax: boolean, file = 'the optimizer state_dict'): Extracted {
  const root = asMap(sd, file);
  // a full training checkpoint: look for the optimizer inside
  const inner = root.has('state') ? root : ['optimizer', 'optimizer_state_dict', 'optim', 'opt'].map((k) => root.get(k)).find((x) => x instanceof Map && x.has('state'));
  if (!inner) throw new Error(`squisher: ${file} has no 'state' entry (keys: ${[...root.keys()].slice(0, 10).join(', ')}): not an optimizer state_dict`);
  const o = inner as Map<unknown, unknown>;
  const state = asMap(o.get('state'), `${file}['state']`);
  const groups = o.get('param_groups');
  if (!Array.isArray(groups) || !groups.length) throw new Error(`squisher: ${file} has no param_groups`);
  const ids: number[] = groups.flatMap((g: any) => (asMap(g, 'a param group').get('params') as unknown[] ?? []).map(Number));
  const plist = model.namedParameters();
  const names = plist.map(([n]) => n);
  if (ids.length !== names.length) {
    throw new Error(`squisher: ${file} covers ${ids.length} parameters but the model has ${names.length} (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''}); ` +
      'was the optimizer built on this model\'s parameters()?');
  }
  const found = new Set<string>();
  for (const s of state.values()) if (s instanceof Map) for (const k of s.keys()) found.add(String(k));
  if (state.size === 0) throw new Error(`squisher: ${file} holds no per-parameter state (no step() was taken)`);
  if (!found.has('exp_avg_sq')) throw noAccumulator(found, state.size);
  const betas = new Set(groups.map((g: any) => { const b = g.get('betas'); return Array.isArray(b) ? num(b[1]) : NaN; }));
  if (betas.size !== 1 || betas.has(NaN)) throw new Error(`squisher: ${file}'s parameter groups need one beta2; found ${[...betas].join(', ')}`);
  const v = new Map<string, Tensor>();
  let step = 0;
  ids.forEach((id, i) => {
    const s = state.get(id) ?? state.get(BigInt(id));
    if (!(s instanceof Map)) return;  // a parameter that never had a gradient has no state
    const obj = Object.fromEntries(s) as AdamParamState;
    const t = pick(obj, names[i], useMax);
    const p = plist[i][1];
    if (t.shape.join() !== p.shape.join()) {
      throw new Error(`squisher: ${file} state ${id} has shape [${t.shape}] but model parameter '${names[i]}' (position ${i}) has [${p.shape}]: the ids do not follow this model's parameter order`);
    }
    v.set(names[i], t);
    step = Math.max(step, num(obj.step));
  });
  const g0 = groups[0] as Map<string, unknown>;
  const kind = g0.get('decoupled_weight_decay') === true ? 'adamw' : g0.has('decoupled_weight_decay') ? 'adam' : 'adam or adamw';
  return { v, step, beta2: [...betas][0], kind, weightDecay: num(g0.get('weight_decay') ?? 0) };
}

/** Where parameter names and shapes come from: a Module, or anything listing them in the optimizer's order. */
export type ParamSource = Pick<Module, 'namedParameters'>;
export type SquisherSource = OptimizerLike | { stateDict: unknown; model: ParamSource } | { file: string; model: ParamSource };

/** The Squisher: Adam's v by parameter name, scaled as asked, with the factors recorded in meta. */
export function squisher(source: SquisherSource, o: SquisherOptions = {}): FisherDiagonal {
  for (const [k, v] of [['batchSize', o.batchSize], ['datasetSize', o.datasetSize]] as const) {
    if (v !== undefined && (!(v > 0) || !Number.isFinite(v))) throw new RangeError(`squisher: ${k} must be a positive number, got ${v}`);
  }
  if (o.datasetSize !== undefined && o.batchSize === undefined) {
    throw new Error('squisher: datasetSize needs batchSize (the N·B·v scaling undoes the batch mean first)');
  }
  let loaded: Tensor[] = [];
  try { return scaled(source, o, (sd) => { loaded = sd; }); } finally { for (const t of loaded) t.dispose(); }
}

function scaled(source: SquisherSource, o: SquisherOptions, onLoad: (ts: Tensor[]) => void): FisherDiagonal {
  let ex: Extracted;
  if ('file' in source) {
    const sd = load(source.file);
    // the result is made of new tensors, so the loaded checkpoint is freed once they exist (or on error)
    onLoad([...flattenTensors(sd).values()]);
    ex = fromStateDict(sd, source.model, !!o.useMax, source.file);
  } else if ('stateDict' in source && typeof source.stateDict !== 'function') {
    // (a live optimizer also has a stateDict *method*; only { stateDict, model } objects carry data here)
    ex = fromStateDict(source.stateDict, source.model, !!o.useMax);
  }
  else if (typeof (source as OptimizerLike).state === 'function') ex = fromLive(source as OptimizerLike, !!o.useMax);
  else throw new TypeError('squisher: pass an optimizer (with state()), { stateDict, model } or { file, model }');
  if (ex.kind === 'sgd') throw noAccumulator(new Set(['momentum_buffer']), ex.v.size);
  let factor = 1;
  if (o.batchSize !== undefined) factor *= o.batchSize;
  if (o.datasetSize !== undefined) factor *= o.datasetSize;
  if (o.biasCorrection) {
    if (!(ex.step > 0)) throw new Error('squisher: bias correction needs step > 0');
    // Python's float ** (C's pow), not V8's Math.pow, which differs by an ulp on many (beta2, step) pairs
    factor = factor / (1 - pyPow(ex.beta2, ex.step));
  }
  // one multiplication by a double, as PyTorch does for `v * factor`, so the result is bit-equal to Python's
  const out = new FisherDiagonal([...ex.v].map(([n, t]) => [n, factor === 1 ? t.detach().clone() : t.detach().mul(factor)]));
  const scale = o.datasetSize !== undefined ? 'N*B*v' : o.batchSize !== undefined ? 'B*v' : 'v';
  const meta: FisherMeta = {
    source: 'squisher', scale, factor, optimizer: ex.kind, beta2: ex.beta2, step: ex.step, biasCorrection: !!o.biasCorrection,
    weightDecay: ex.weightDecay,
    // B·v estimates a per-example mean Fisher, N·B·v a sum over N examples; raw v is neither
    ...(o.batchSize !== undefined ? { reduction: o.datasetSize !== undefined ? 'sum' : 'mean' } : {}),
    ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
    ...(o.datasetSize !== undefined ? { N: o.datasetSize } : {}),
    ...(o.useMax ? { accumulator: 'max_exp_avg_sq' } : {}),
    ...(ex.kind !== 'adamw' && ex.weightDecay > 0 ? { note: 'Adam with L2 weight_decay: wd*theta is folded into v' } : {}),
  };
  out.meta = meta;
  return out;
}
