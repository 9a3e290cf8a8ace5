// Pruning by saliency. OBD (LeCun et al. 1990) with a diagonal Fisher as the Hessian: removing θ_i costs
// about ½·F_i·θ_i², so the lowest-saliency entries go first. Baselines: magnitude |θ| and random.
// Masks are bool tensors (true = keep) by parameter name; a pruned model keeps them through fine-tuning
// by re-applying them after every optimizer step (applyMasks) or masking gradients (maskGradients).
import { noGrad } from '../autograd';
import { manualSeed } from '../device';
import { Module } from '../nn/module';
import { Tensor, callOp, cat, rand, keep, tidy, onesLike } from '../tensor';
import { NamedTensors, ParamsLike, checkFraction, matching, namedTensors, storageAliases } from './named';
import { DTypeError, OptionError } from '../errors';
import { checkOptions, optionKeys } from '../options';

export type PruneMethod = 'fisher' | 'magnitude' | 'random';
export type PruneScope = 'global' | 'layer';

/**
 * Layer types whose `weight` is prunable by default: Linear and convolutions (HF's Conv1D is GPT-2's Linear
 * with a transposed weight). Biases, norms and embeddings never are.
 */
export const PRUNABLE_LAYERS = new Set(['Linear', 'Conv1d', 'Conv2d', 'Conv3d', 'ConvNd', 'ConvTranspose1d', 'ConvTranspose2d', 'ConvTranspose3d', 'Conv1D']);

/**
 * A name segment of an embedding table or a normalisation layer: embed*, *embed, *embedding(s), wte, wpe
 * (GPT-2), shared (T5/BART's tied embedding), emb; *norm* (LayerNorm, layer_norm, rmsnorm, norm1, batchnorm),
 * ln, ln_*, ln1 (GPT-2's ln_1, ln_f), bn, bn1.
 */
export const NOT_PRUNABLE_SEGMENT = /^(embed\w*|\w*_?embed|\w*embeddings?|wte|wpe|shared|emb|\w*norm\w*|ln(_?\w+)?|bn\d*)$/i;

/**
 * The bare-state_dict rule (no layer types known): a `*.weight` with 2 or more dimensions none of whose
 * name segments names an embedding or a norm (NOT_PRUNABLE_SEGMENT). Linear and conv weights pass;
 * biases and norm weights (1-d) and embedding tables do not.
 */
export function prunableByName(name: string, t: Tensor): boolean {
  return /(^|\.)weight$/.test(name) && t.ndim >= 2 && !name.split('.').slice(0, -1).some((seg) => NOT_PRUNABLE_SEGMENT.test(seg));
}

/**
 * Names of the parameters pruned by default. From a Module: the weights of Linear/Conv layers, by layer type
 * (TS-built and TorchScript children alike). From a bare Map (a checkpoint): prunableByName. A tensor that
 * is another one under a second name (tied weights, see storageAliases) is listed once, by its first name,
 * and not at all when any of its names is excluded (GPT-2's lm_head.weight is its embedding table).
 */
export function defaultPrunable(model: ParamsLike): string[] {
  if (model instanceof Module) {
    const byType = new Set<string>();
    for (const [prefix, m] of model.namedModules()) {
      if (PRUNABLE_LAYERS.has(m.typeName)) byType.add(prefix ? `${prefix}.weight` : 'weight');
    }
    const names = model.namedParameters().map(([n]) => n);
    const hit = names.filter((n) => byType.has(n));
    // A TorchScript model may not expose its submodules' types: fall back to the name rule.
    if (hit.length) return hit;
  }
  const params = namedTensors(model);
  const aliases = storageAliases(params);
  const excluded = new Set<string>();
  for (const [n, t] of params) if (!prunableByName(n, t)) excluded.add(aliases.get(n) ?? n);
  return [...params].filter(([n]) => !aliases.has(n) && !excluded.has(n)).map(([n]) => n);
}

/** Saliency of every entry of one parameter: ½·F·θ² (fisher), |θ| (magnitude), or U(0,1) (random). */
export function saliency(method: PruneMethod, param: Tensor, fisher?: Tensor): Tensor {
  return noGrad(() => {
    switch (method) {
      case 'fisher':
        if (!fisher) throw new OptionError("saliency: method 'fisher' needs a Fisher diagonal");
        return fisher.mul(param.square()).mul(0.5);
      case 'magnitude': return param.abs();
      case 'random': return rand(param.shape, { device: param.device });
      default: throw new OptionError(`unknown pruning method '${method}' (fisher, magnitude or random)`);
    }
  });
}

export interface PruneOptions {
  /** Fraction of the prunable entries to remove, in [0, 1]. */
  sparsity: number;
  method?: PruneMethod;
  /** 'global': one threshold over all prunable tensors (default); 'layer': the same sparsity in each. */
  scope?: PruneScope;
  /** Required for method 'fisher': a diagonal by parameter name (any source, any global scale). */
  fisher?: NamedTensors;
  /** Which parameters to prune: names, or a predicate; default defaultPrunable(model). */
  prunable?: string[] | ((name: string, t: Tensor) => boolean);
  /** Seed for method 'random' (sets libtorch's global generator). */
  seed?: number;
}
const PRUNE_OPTIONS = optionKeys<PruneOptions>('pruneMasks', { sparsity: true, method: true, scope: true, fisher: true, prunable: true, seed: true });

/**
 * Bool masks (true = keep) for the prunable parameters: exactly round(sparsity·n) entries removed per
 * scope, the lowest-saliency ones. Among equal saliencies at the threshold, which go is torch.topk's choice
 * (the same as Python's for the same tensor), not necessarily the first by position.
 */
export function pruneMasks(model: ParamsLike, o: PruneOptions): NamedTensors {
  checkOptions('pruneMasks', o, PRUNE_OPTIONS);
  checkFraction('sparsity', o.sparsity);
  const method = o.method ?? 'fisher';
  const scope = o.scope ?? 'global';
  if (scope !== 'global' && scope !== 'layer') throw new OptionError(`scope must be 'global' or 'layer', got '${scope}'`);
  const params = namedTensors(model);
  let names: string[];
  if (!o.prunable) names = defaultPrunable(model);
  else if (Array.isArray(o.prunable)) names = o.prunable;
  else { const pred = o.prunable; names = [...params].filter(([n, t]) => pred(n, t)).map(([n]) => n); }
  for (const n of names) if (!params.has(n)) throw new OptionError(`pruneMasks: no parameter '${n}'`);
  // tied names are one tensor: scored, counted and masked once, under its first name
  const aliases = storageAliases(params);
  names = [...new Set(names.map((n) => aliases.get(n) ?? n))];
  if (names.length === 0) throw new OptionError('pruneMasks: no prunable parameters (pass `prunable` to choose some)');
  const fisherOf = new Map<string, Tensor>();
  if (method === 'fisher') {
    if (!o.fisher) throw new OptionError("pruneMasks: method 'fisher' needs `fisher`, a diagonal by parameter name");
    for (const n of names) {
      // the Fisher may name a tied tensor by any of its names (the Squisher keeps the first, a file may keep another)
      const key = o.fisher.has(n) ? n : [...aliases].find(([a, c]) => c === n && o.fisher!.has(a))?.[0] ?? n;
      fisherOf.set(n, matching('pruneMasks: Fisher', o.fisher, key, params.get(n)!));
    }
  }
  if (o.seed !== undefined) manualSeed(o.seed);
  const scores = names.map((n) => saliency(method, params.get(n)!, fisherOf.get(n)));
  try {
    return noGrad(() => {
      const out = new Map<string, Tensor>();
      if (scope === 'layer') {
        names.forEach((n, i) => out.set(n, keep(lowestOff([scores[i]], o.sparsity)[0])));
      } else {
        lowestOff(scores, o.sparsity).forEach((m, i) => out.set(names[i], keep(m)));
      }
      return out;
    });
  } finally {
    for (const s of scores) s.dispose();
  }
}

/** Masks that switch off the round(frac·n) smallest of the concatenated scores. */
function lowestOff(scores: Tensor[], frac: number): Tensor[] {
  return tidy(() => {
    const flat = cat(scores.map((s) => s.reshape([-1])));
    // round(), as torch.nn.utils.prune counts the entries to remove
    const k = Math.round(frac * flat.numel);
    const keepFlat = onesLike(flat).bool();
    if (k > 0) callOp('aten::index_fill_', 'int_Scalar', keepFlat, 0, flat.topk(k, 0, false, false).indices, false);
    const out: Tensor[] = [];
    let off = 0;
    for (const s of scores) { out.push(keepFlat.slice(0, off, off + s.numel).reshape(s.shape).clone()); off += s.numel; }
    return out;
  });
}

/**
 * Zeroes the masked-out entries. inPlace (default) writes into the given tensors (a Module's live
 * parameters); otherwise returns copies of every tensor with the masks applied, leaving the input alone.
 */
export interface ApplyMasksOptions { inPlace?: boolean; }
const APPLY_OPTIONS = optionKeys<ApplyMasksOptions>('applyMasks', { inPlace: true });

export function applyMasks(model: ParamsLike, masks: NamedTensors, o: ApplyMasksOptions = {}): NamedTensors {
  checkOptions('applyMasks', o, APPLY_OPTIONS);
  const params = namedTensors(model);
  for (const [n, m] of masks) {
    const p = params.get(n);
    if (!p) throw new OptionError(`applyMasks: mask for '${n}' but no such parameter`);
    matching('applyMasks: mask', masks, n, p);
    if (m.dtype !== 'bool') throw new DTypeError(`applyMasks: mask '${n}' has dtype ${m.dtype}; masks are bool`);
  }
  return noGrad(() => {
    if (o.inPlace ?? true) {
      for (const [n, m] of masks) tidy(() => { const p = params.get(n)!; p.copy_(p.mul(m)); });
      return params;
    }
    const out = new Map<string, Tensor>();
    const aliases = storageAliases(params);
    for (const [n, p] of params) {
      const c = aliases.get(n);
      // a tied name gets the same (masked) tensor object as its first name, so the copies stay tied
      if (c !== undefined && out.has(c)) { out.set(n, out.get(c)!); continue; }
      const m = masks.get(n) ?? (c !== undefined ? masks.get(c) : undefined);
      out.set(n, keep(m ? p.mul(m) : p.clone()));
    }
    return out;
  });
}

/** Zeroes the gradients of masked-out entries (call between backward and optimizer.step). */
export function maskGradients(model: ParamsLike, masks: NamedTensors): void {
  const params = namedTensors(model);
  noGrad(() => {
    for (const [n, m] of masks) {
      const p = params.get(n);
      if (!p) throw new OptionError(`maskGradients: mask for '${n}' but no such parameter`);
      const g = p.grad;
      if (g) { tidy(() => g.copy_(g.mul(m))); g.dispose(); }
    }
  });
}

export interface LayerSparsity { name: string; total: number; zeros: number; sparsity: number; }
export interface SparsityReport {
  layers: LayerSparsity[]; total: number; zeros: number; sparsity: number;
  /** Names left out of the counts because they are a counted tensor under another name: [alias, counted name]. */
  aliases: [string, string][];
}

/** Per-parameter and overall count of zero entries (of the named tensors, or of all of them), each storage once. */
export function sparsityReport(model: ParamsLike, names?: string[]): SparsityReport {
  const params = namedTensors(model);
  const tied = storageAliases(params);
  const layers: LayerSparsity[] = [];
  const aliases: [string, string][] = [];
  const counted = new Set<string>();
  for (const n of names ?? [...params.keys()]) {
    const t = params.get(n);
    if (!t) throw new OptionError(`sparsityReport: no parameter '${n}'`);
    const c = tied.get(n) ?? n;
    if (counted.has(c)) { aliases.push([n, c]); continue; }
    counted.add(c);
    const total = t.numel;
    const zeros = total - t.countNonzero();
    layers.push({ name: n, total, zeros, sparsity: total ? zeros / total : 0 });
  }
  const total = layers.reduce((a, l) => a + l.total, 0);
  const zeros = layers.reduce((a, l) => a + l.zeros, 0);
  // a tied name outside `names` is still reported: writing its tensor changed it too
  for (const [a, c] of tied) if (counted.has(c) && !aliases.some(([x]) => x === a) && a !== c && !layers.some((l) => l.name === a)) aliases.push([a, c]);
  return { layers, total, zeros, sparsity: total ? zeros / total : 0, aliases };
}

/** A report as aligned text lines (CLI and demo output). */
export function formatSparsity(r: SparsityReport): string {
  const w = Math.max(9, ...r.layers.map((l) => l.name.length));
  const row = (n: string, z: number, t: number, s: number) => `${n.padEnd(w)}  ${String(z).padStart(10)} / ${String(t).padEnd(10)} ${(100 * s).toFixed(2).padStart(6)}%`;
  const tied = (r.aliases ?? []).map(([a, c]) => `${a} is ${c} (one storage, counted once)`);
  return [...r.layers.map((l) => row(l.name, l.zeros, l.total, l.sparsity)), row('total', r.zeros, r.total, r.sparsity), ...tied].join('\n');
}
