// The Squisher (Li, Dangel, Tam & Raffel, "Fishers for Free?", ICML 2025): an optimizer's running average
// of squared gradients, recycled as a Fisher diagonal with zero forward or backward passes. Adam keeps
// v = β2·v + (1-β2)·ḡ² with ḡ the gradient of the batch-MEAN loss, so v ≈ E[(Σ_{n∈B} g_n / B)²]; B·v undoes
// the mean's 1/B² up to the per-sample variance (the paper's Squisher), N·B·v stands in for a Fisher
// summed over N examples (e.g. EWC's λ). Adagrad, RMSprop and Adafactor hold the same information under
// other conventions (squisher/accumulators/). A saved optimizer numbers parameters instead of naming them: the
// names come from squisher/mapping.ts, which proves the mapping from the model's order and shapes or refuses.
import { flattenTensors, load } from '../io';
import { OptimizerStateError, OptionError } from '../errors';
import { checkOptions, optionKeys } from '../options';
import { Module } from '../nn/module';
import { pyPow } from '../optim/libm';
import { Tensor } from '../tensor/tensor';
import { FisherDiagonal, FisherMeta } from './result';
import { ACCUMULATORS, AccumulatorRule } from './squisher/accumulators';
import { mapIds, Mapping } from './squisher/mapping';
import { findOptimizerState, groupSummary, num, OptimizerState } from './squisher/optimizer-state';
import { fromFile, fromModule, fromStateDict, ParamList, withOrder } from './squisher/params';

/** Per-parameter optimizer state, as lib/optim's optimizer.state() gives it (by parameter name). */
export interface AdamParamState { step: number | Tensor; exp_avg?: Tensor; exp_avg_sq?: Tensor; max_exp_avg_sq?: Tensor; [k: string]: unknown; }
/** What the Squisher needs from a live optimizer (lib/optim's Adam/AdamW satisfy it). */
export interface OptimizerLike {
  kind?: string;
  /** name -> per-parameter state (Adam's { step, exp_avg, exp_avg_sq }; anything else is named in the error). */
  state(): Map<string, object>;
  paramGroups: { betas?: readonly [number, number] | number[]; weight_decay?: number; weightDecay?: number; lr?: number; amsgrad?: boolean; params?: unknown[] }[];
}

export interface SquisherOptions {
  /** Multiply by the training batch size B (the paper's Squisher). */
  batchSize?: number;
  /** Also multiply by the data set size N (a Fisher summed over N examples); needs batchSize. */
  datasetSize?: number;
  /** Divide by 1 - β2^step (Adam's own bias correction of v; RMSprop: 1 - α^step). Default false. */
  biasCorrection?: boolean;
  /** With amsgrad, use max_exp_avg_sq instead of exp_avg_sq. */
  useMax?: boolean;
  /**
   * The parameter order, when the model source has none (safetensors): names in named_parameters()
   * order; or { groups: [[...], ...] }: the names of every param group in the optimizer's id order.
   */
  paramNames?: string[] | { groups: string[][] };
  /** What paramNames came from (a file name), for messages. */
  paramNamesLabel?: string;
  /** A registered convention ('torch', 'hf-trainer', 'timm', 'model-order') to decide between mappings the shapes allow. */
  convention?: string;
  /** A convention used only when the shapes allow several mappings (squisherFromTrainerDir: 'hf-trainer'). */
  preferConvention?: string;
  /** Which optimizer of a Lightning checkpoint's 'optimizer_states' (default: the only one). */
  optimizerIndex?: number;
  /** Python globals read as inert data in the optimizer and model files (load()'s allowGlobals; CLI --allow-global). */
  allowGlobals?: readonly string[];
}
export const SQUISHER_OPTIONS = optionKeys<SquisherOptions>('squisher', {
  batchSize: true, datasetSize: true, biasCorrection: true, useMax: true, paramNames: true, paramNamesLabel: true,
  convention: true, preferConvention: true, optimizerIndex: true, allowGlobals: true,
});

/** Where parameter names and shapes come from: a Module, or anything listing them in the model's order. */
export type ParamSource = Pick<Module, 'namedParameters'>;
/**
 * A live optimizer; or a PyTorch optimizer state_dict (`stateDict`, or a `file` torch.load can read) with
 * the model: a Module / TorchScript model, a model file (torch.save and TorchScript give the order,
 * safetensors or a shard index only names and shapes), or a state_dict Map (ordered: `{ weights, ordered }`). A training
 * checkpoint holding the model's weights too (timm, Lightning) needs no model.
 */
export type SquisherSource = OptimizerLike
  | { stateDict: unknown; model?: ParamSource | string | ModelWeights }
  | { file: string; model?: ParamSource | string | ModelWeights };
export interface ModelWeights { weights: Map<string, Tensor>; ordered: boolean; label?: string; }

interface Extracted {
  v: Map<string, Tensor>; step: number; decay?: number; kind: string; rule?: AccumulatorRule; factor: number;
  groups: Record<string, unknown>[]; mapping?: Mapping; aliases: Map<string, string>;
}

function noAccumulator(found: Set<string>, count: number): Error {
  const keys = [...found].sort().join(', ') || 'nothing';
  const hint = found.has('momentum_buffer') ? ' (an SGD state)' : found.has('exp_inf') ? ' (an Adamax state)' : found.has('ax') ? ' (an ASGD state)' : '';
  return new OptimizerStateError(`squisher: the optimizer state has no squared-gradient accumulator (Adam's exp_avg_sq, Adagrad's sum, RMSprop's square_avg, Adafactor's exp_avg_sq_row/col): found ${keys} for ${count} parameter(s)${hint}; ` +
    'the Squisher needs an Adam/AdamW, Adagrad, RMSprop or Adafactor state');
}

function fromLive(opt: OptimizerLike, o: SquisherOptions): Extracted {
  const st = opt.state() as Map<string, AdamParamState>;
  if (!(st instanceof Map)) throw new OptimizerStateError('squisher: optimizer.state() must return a Map of parameter name -> state');
  if (st.size === 0) throw new OptimizerStateError('squisher: the optimizer has no state yet (no step() was taken)');
  const found = new Set<string>();
  for (const s of st.values()) for (const k of Object.keys(s)) found.add(k);
  if (!found.has('exp_avg_sq') || opt.kind === 'sgd') throw noAccumulator(found, st.size);
  const betas = new Set(opt.paramGroups.map((g) => (g.betas ? g.betas[1] : NaN)));
  if (betas.size !== 1 || betas.has(NaN)) throw new OptimizerStateError(`squisher: the optimizer's parameter groups need one beta2; found ${[...betas].join(', ')}`);
  const beta2 = [...betas][0];
  const step = Math.max(...[...st.values()].map((s) => num(s.step)));
  const factor = scaleFactor(o, step, beta2);
  const v = new Map([...st].map(([n, s]) => {
    const t = o.useMax ? s.max_exp_avg_sq : s.exp_avg_sq;
    if (!(t instanceof Tensor)) throw new OptimizerStateError(o.useMax ? `squisher: parameter '${n}' has no max_exp_avg_sq (the optimizer did not use amsgrad)` : `squisher: parameter '${n}' has no exp_avg_sq`);
    return [n, factor === 1 ? t.detach().clone() : t.detach().mul(factor)] as [string, Tensor];
  }));
  const groups = opt.paramGroups.map((g) => ({ lr: g.lr, betas: g.betas ? [...g.betas] : undefined, weight_decay: g.weight_decay ?? g.weightDecay ?? 0, params: g.params?.length }));
  return { v, step, decay: beta2, kind: opt.kind ?? 'adam', factor, groups, aliases: new Map() };
}

function scaleFactor(o: SquisherOptions, step: number, beta2: number | undefined): number {
  let f = (o.batchSize ?? 1) * (o.datasetSize ?? 1);
  if (o.biasCorrection) {
    if (!(step > 0)) throw new OptimizerStateError('squisher: bias correction needs step > 0');
    // Python's float ** (C's pow), not V8's Math.pow, which differs by an ulp on many (beta2, step) pairs
    f = f / (1 - pyPow(beta2!, step));
  }
  return f;
}

function modelParams(model: ParamSource | string | ModelWeights | undefined, fallback: ParamList | undefined, what: string, allowGlobals?: readonly string[]): ParamList {
  if (typeof model === 'string') return fromFile(model, { allowGlobals });
  if (model && 'weights' in model) return fromStateDict(model.weights, model.label ?? 'the model', model.ordered);
  if (model && typeof (model as ParamSource).namedParameters === 'function') return fromModule(model as ParamSource);
  if (fallback) return fallback;
  throw new OptionError(`squisher: ${what} holds no model weights: pass the model (a Module, TorchScript or torch.save file, or safetensors with paramNames)`);
}

function fromOptimizerState(sd: unknown, model: ParamSource | string | ModelWeights | undefined, o: SquisherOptions, label: string): Extracted {
  const opt: OptimizerState = findOptimizerState(sd, label, o.optimizerIndex);
  const found = new Set<string>();
  for (const e of opt.state.values()) for (const k of e.keys()) found.add(k);
  if (opt.state.size === 0) throw new OptimizerStateError(`squisher: ${opt.label} holds no per-parameter state (no step() was taken)`);
  const rule = ACCUMULATORS.find((r) => r.matches(found, opt.groups));
  if (!rule) throw noAccumulator(found, opt.state.size);
  if (o.biasCorrection && !rule.decay) throw new OptionError(`squisher: bias correction does not apply to ${rule.kind} (${rule.convention})`);
  if (o.useMax && rule.kind !== 'adam') throw new OptionError(`squisher: useMax (--amsgrad) is for Adam's max_exp_avg_sq, not ${rule.kind}`);
  let params = modelParams(model, opt.weights, opt.label, o.allowGlobals);
  const shapeOf = (id: number) => { const e = opt.state.get(id); return e ? rule.paramShape(e, !!o.useMax) : null; };
  let groupNames: string[][] | undefined;
  if (o.paramNames !== undefined) {
    if (Array.isArray(o.paramNames)) params = withOrder(o.paramNames, params, `names list ${o.paramNamesLabel ?? 'paramNames'}`);
    else if (o.paramNames && Array.isArray((o.paramNames as { groups: unknown }).groups)) groupNames = (o.paramNames as { groups: string[][] }).groups;
    else throw new OptionError('squisher: paramNames must be a list of names (named_parameters() order) or { groups: [[names of group 0], ...] }');
  }
  const mapping = mapIds(params, opt, shapeOf, { convention: o.convention, prefer: o.preferConvention, groupNames, groupNamesLabel: o.paramNamesLabel });
  const decay = rule.decay?.(opt.groups);
  const step = Math.max(0, ...[...opt.state.values()].map((e) => num(e.get('step') ?? 0)));
  const ctx = { multiplier: (o.batchSize ?? 1) * (o.datasetSize ?? 1), biasCorrection: !!o.biasCorrection, useMax: !!o.useMax, step };
  if (o.biasCorrection && !(step > 0)) throw new OptimizerStateError('squisher: bias correction needs step > 0');
  const v = new Map<string, Tensor>();
  const factors = new Set<number>();
  try {
    opt.groups.forEach((g, gi) => g.ids.forEach((id, k) => {
      const e = opt.state.get(id);
      if (!e) return;  // a parameter that never had a gradient has no state
      const r = rule.take(e, g, mapping.names[gi][k], ctx);
      v.set(mapping.names[gi][k], r.tensor);
      factors.add(r.factor);
    }));
  } catch (err) {
    for (const t of v.values()) t.dispose();
    throw err;
  }
  let kind = rule.kind;
  if (kind === 'adam') {
    const g0 = opt.groups[0].hyper;
    kind = g0.get('decoupled_weight_decay') === true ? 'adamw' : g0.has('decoupled_weight_decay') ? 'adam' : 'adam or adamw';
  }
  // keep the model order in the result (the optimizer's order is an artefact of its groups)
  const order = params.names.filter((n) => v.has(n));
  const ordered = new Map(order.map((n) => [n, v.get(n)!]));
  return { v: ordered, step, decay, kind, rule, factor: factors.size === 1 ? [...factors][0] : NaN, groups: groupSummary(opt.groups), mapping, aliases: params.aliases };
}

/** The Squisher: the optimizer's squared-gradient average by parameter name, scaled as asked, with the factors recorded in meta. */
export function squisher(source: SquisherSource, o: SquisherOptions = {}): FisherDiagonal {
  checkOptions('squisher', o, SQUISHER_OPTIONS);
  for (const [k, v] of [['batchSize', o.batchSize], ['datasetSize', o.datasetSize]] as const) {
    if (v !== undefined && (!(v > 0) || !Number.isFinite(v))) throw new OptionError(`squisher: ${k} must be a positive number, got ${v}`);
  }
  if (o.datasetSize !== undefined && o.batchSize === undefined) {
    throw new OptionError('squisher: datasetSize needs batchSize (the N·B·v scaling undoes the batch mean first)');
  }
  let loaded: Tensor[] = [];
  try { return scaled(source, o, (sd) => { loaded = sd; }); } finally { for (const t of loaded) t.dispose(); }
}

function scaled(source: SquisherSource, o: SquisherOptions, onLoad: (ts: Tensor[]) => void): FisherDiagonal {
  let ex: Extracted;
  if ('file' in source) {
    const sd = load(source.file, { allowGlobals: o.allowGlobals });
    // the result is made of new tensors, so the loaded checkpoint is freed once they exist (or on error)
    onLoad([...flattenTensors(sd).values()]);
    ex = fromOptimizerState(sd, source.model, o, source.file);
  } else if ('stateDict' in source && typeof source.stateDict !== 'function') {
    // (a live optimizer also has a stateDict *method*; only { stateDict, model } objects carry data here)
    ex = fromOptimizerState(source.stateDict, source.model, o, 'the optimizer state_dict');
  }
  else if (typeof (source as OptimizerLike).state === 'function') ex = fromLive(source as OptimizerLike, o);
  else throw new OptionError('squisher: pass an optimizer (with state()), { stateDict, model } or { file, model }');
  const out = new FisherDiagonal(ex.v);
  const scale = o.datasetSize !== undefined ? 'N*B*v' : o.batchSize !== undefined ? 'B*v' : 'v';
  const wds = [...new Set(ex.groups.map((g) => Number(g.weight_decay ?? 0)))];
  const meta: FisherMeta = {
    source: 'squisher', scale, factor: ex.factor, optimizer: ex.kind, step: ex.step, biasCorrection: !!o.biasCorrection,
    ...(ex.decay !== undefined ? { beta2: ex.decay } : {}),
    // one number when every group agrees; otherwise the list, group by group (also in `groups`)
    weightDecay: wds.length === 1 ? wds[0] : JSON.stringify(ex.groups.map((g) => Number(g.weight_decay ?? 0))),
    groups: JSON.stringify(ex.groups),
    // B·v estimates a per-example mean Fisher, N·B·v a sum over N examples; raw v is neither
    ...(o.batchSize !== undefined ? { reduction: o.datasetSize !== undefined ? 'sum' : 'mean' } : {}),
    ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
    ...(o.datasetSize !== undefined ? { N: o.datasetSize } : {}),
    ...(o.useMax ? { accumulator: 'max_exp_avg_sq' } : ex.rule ? { accumulator: ex.rule.accumulator } : {}),
    ...(ex.rule ? { accumulatorScale: ex.rule.convention } : {}),
    ...(ex.mapping ? { mapping: ex.mapping.proof, ...(ex.mapping.convention ? { convention: ex.mapping.convention } : {}) } : {}),
    ...(ex.aliases.size ? { aliases: JSON.stringify(Object.fromEntries(ex.aliases)) } : {}),
    ...(ex.kind !== 'adamw' && ex.kind !== 'adafactor' && Math.max(0, ...wds) > 0 ? { note: `${ex.kind} with L2 weight_decay: wd*theta is folded into the accumulator` } : {}),
  };
  if (!Number.isFinite(ex.factor)) delete meta.factor;  // per-parameter factors (Adagrad with unequal steps)
  out.meta = meta;
  return out;
}

export { CONVENTIONS } from './squisher/conventions';
export { ACCUMULATORS } from './squisher/accumulators';
