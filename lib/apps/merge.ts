// Merging N models trained from a common ancestor, one parameter at a time, so N large models are
// never all in memory: a TensorSource yields one tensor by name on demand (a Map in memory, or a file
// read tensor by tensor: see fileSource). Methods:
//  - average: Σ λ_i θ_i / Σ λ_i (the Fisher-free baseline);
//  - fisher (Matena & Raffel 2022): θ* = Σ λ_i F_i θ_i / Σ λ_i F_i, with F_i floored at `floor` so
//    entries no model has information on fall back to the weighted average, and optional per-model
//    normalisation F_i / ‖F_i‖₂ (over all of model i's entries) so one model's scale does not dominate;
//  - gradient matching (Daheim et al. 2024): θ* = θ0 + Σ_i λ_i (F0 + Σ_j F_j)⁻¹ (F0 + F_i)(θ_i − θ0),
//    with θ0 the common ancestor and F0 its Fisher (or a scalar prior precision).
import { noGrad } from '../autograd';
import { loadSafetensors, inspectSafetensors, loadStateDict } from '../io';
import { Tensor, keep, tidy, stack } from '../tensor';
import { NamedTensors, isFloat, storageAliases } from './named';
import { AbortError, CheckpointError, OptionError, ShapeError } from '../errors';
import { checkOptions, optionKeys, Progress } from '../options';

/** Tensors by name, fetched one at a time. get() returns a tensor the caller disposes. */
export interface TensorSource {
  readonly label: string;
  names(): string[];
  get(name: string): Tensor;
  /** Names that are another name's tensor (tied weights, one storage): alias -> first name. */
  aliases?(): Map<string, string>;
}

/** A Map as a source (get() returns a copy-free alias the merge disposes: we hand out clones). */
export function mapSource(m: NamedTensors, label = 'model'): TensorSource {
  let tied: Map<string, string> | undefined;
  return {
    label,
    names: () => [...m.keys()],
    aliases: () => (tied ??= storageAliases(m)),
    get: (n) => {
      const t = m.get(n);
      if (!t) throw new OptionError(`${label}: no tensor '${n}'`);
      return t.detach();
    },
  };
}

/**
 * A checkpoint file as a source. safetensors files are read one tensor at a time (streaming);
 * torch.save / TorchScript files are loaded once (their format has no per-tensor index here); allowGlobals:
 * Python globals read there as inert data (load()'s option; CLI --allow-global).
 */
export function fileSource(file: string, o: { allowGlobals?: readonly string[] } = {}): TensorSource {
  if (/\.safetensors$/i.test(file)) {
    const names = inspectSafetensors(file).tensors.map((e) => e.name);
    return {
      label: file,
      names: () => names,
      get: (n) => {
        if (!names.includes(n)) throw new CheckpointError(file, `no tensor '${n}'`);
        return loadSafetensors(file, { keys: [n] }).get(n)!;
      },
    };
  }
  const sd = loadStateDict(file, { allowGlobals: o.allowGlobals });
  return mapSource(sd, file);
}

export type MergeMethod = 'average' | 'fisher' | 'gradient-matching';

export interface MergeOptions {
  method?: MergeMethod;
  /** Per-model weights λ_i (default all 1; the result divides by Σλ for average and fisher). */
  weights?: number[];
  /** Fisher floor (default 1e-6, as Matena & Raffel). */
  floor?: number;
  /** Divide each model's Fisher by its global L2 norm before merging. */
  normalize?: boolean;
  /** gradient-matching: the ancestor θ0 and its Fisher F0 (a source) or scalar prior precision. */
  base?: TensorSource;
  baseFisher?: TensorSource | number;
  /** Called after every tensor: { done, total, phase: 'merge', name } (tied names are done with their tensor). */
  onProgress?: (p: MergeProgress) => void;
  signal?: AbortSignal;
}

export const MERGE_OPTIONS = optionKeys<MergeOptions>('mergeModels', {
  method: true, weights: true, floor: true, normalize: true, base: true, baseFisher: true, onProgress: true, signal: true,
});

export interface MergeProgress extends Progress { total: number; phase: 'merge'; name: string; }

export interface MergeResult {
  merged: NamedTensors;
  /** Float tensors with no Fisher in some model: merged by the weighted average, listed here. */
  averagedOnly: string[];
  /** Non-float tensors (e.g. BatchNorm's num_batches_tracked): copied from the first model. */
  copied: string[];
  /**
   * Names that are another name's tensor in the first model (GPT-2's lm_head.weight = transformer.wte.weight):
   * merged once; the result holds the same Tensor under both names, so a torch.save output keeps one storage.
   */
  aliases: [string, string][];
}

function asSources(xs: (TensorSource | NamedTensors)[], what: string): TensorSource[] {
  return xs.map((x, i) => (x instanceof Map ? mapSource(x, `${what} ${i + 1}`) : x));
}

/**
 * Merges models parameter by parameter. Every model must have the same names and shapes; fishers
 * (one per model, for 'fisher' and 'gradient-matching') must match the parameters they name.
 */
export async function mergeModels(modelsIn: (TensorSource | NamedTensors)[], fishersIn: (TensorSource | NamedTensors)[] | null, o: MergeOptions = {}): Promise<MergeResult> {
  checkOptions('mergeModels', o, MERGE_OPTIONS);
  const method = o.method ?? (fishersIn ? 'fisher' : 'average');
  const models = asSources(modelsIn, 'model');
  if (models.length < 1) throw new OptionError('merge: no models given');
  const n = models.length;
  const weights = o.weights ?? new Array(n).fill(1);
  if (weights.length !== n) throw new OptionError(`merge: ${weights.length} weights for ${n} models`);
  if (weights.some((w) => !Number.isFinite(w) || w < 0) || weights.every((w) => w === 0)) {
    throw new OptionError(`merge: weights must be finite, ≥ 0 and not all 0, got [${weights}]`);
  }
  const floor = o.floor ?? 1e-6;
  if (!(floor >= 0)) throw new OptionError(`merge: floor must be ≥ 0, got ${floor}`);
  const fishers = method === 'average' ? null : asSources(fishersIn ?? [], 'fisher');
  if (fishers && fishers.length !== n) throw new OptionError(`merge: ${fishers.length} Fisher diagonals for ${n} models (one each)`);
  if (method === 'gradient-matching' && !o.base) throw new OptionError("merge: 'gradient-matching' needs the common ancestor `base`");

  const names = models[0].names();
  const tied = models[0].aliases?.() ?? new Map<string, string>();
  for (const m of models.slice(1)) {
    const have = new Set(m.names());
    // a file may leave out a tied name altogether (Hugging Face's safetensors keep only the first)
    const missing = names.filter((k) => !have.has(k) && !(tied.has(k) && have.has(tied.get(k)!)));
    const extra = [...have].filter((k) => !names.includes(k));
    if (missing.length || extra.length) {
      throw new OptionError(`merge: ${m.label} does not have the same tensors as ${models[0].label}` +
        (missing.length ? `; missing: ${missing.slice(0, 5).join(', ')}` : '') + (extra.length ? `; extra: ${extra.slice(0, 5).join(', ')}` : ''));
    }
  }
  const fisherNames = fishers?.map((f) => new Set(f.names()));
  // Per-model normalisation needs each Fisher's global norm: one streaming pass first.
  const norms = fishers && o.normalize ? fishers.map((f) => {
    let ss = 0;
    for (const k of f.names()) ss += tidy(() => { const t = f.get(k); const v = t.to('float64').square().sum().item(); t.dispose(); return v; });
    if (!(ss > 0)) throw new OptionError(`merge: ${f.label} is all zeros; it cannot be normalised`);
    return Math.sqrt(ss);
  }) : null;

  // Another model may hold the tied names as separate tensors (a file that did not share them): merging
  // one of them is right only if they are equal there.
  for (const m of models.slice(1)) {
    const its = m.aliases?.() ?? new Map<string, string>();
    for (const [a, c] of tied) {
      if (its.get(a) === c || !m.names().includes(a)) continue;
      const same = tidy(() => { const x = m.get(a); const y = m.get(c); const r = x.shape.join() === y.shape.join() && x.equal(y); x.dispose(); y.dispose(); return r; });
      if (!same) throw new OptionError(`merge: '${a}' and '${c}' are one tensor in ${models[0].label} but differ in ${m.label}`);
    }
  }
  // a Fisher may name a tied tensor by any of its names
  const fisherKey = (i: number, name: string): string | undefined => {
    if (fisherNames![i].has(name)) return name;
    return [...tied].find(([a, c]) => c === name && fisherNames![i].has(a))?.[0];
  };
  const merged = new Map<string, Tensor>();
  const averagedOnly: string[] = [];
  const copied: string[] = [];
  const aliases: [string, string][] = [];
  let done = 0;
  for (const name of names) {
    if (o.signal?.aborted) { for (const t of new Set(merged.values())) t.dispose(); throw new AbortError('merge: aborted'); }
    const first = tied.get(name);
    if (first !== undefined && merged.has(first)) {
      merged.set(name, merged.get(first)!);
      aliases.push([name, first]);
      done++;
      o.onProgress?.({ done, total: names.length, phase: 'merge', name });
      continue;
    }
    const out = noGrad(() => tidy(() => {
      const thetas = models.map((m) => m.get(name));
      const shape = thetas[0].shape.join(',');
      thetas.forEach((t, i) => {
        if (t.shape.join(',') !== shape) throw new ShapeError(`merge: '${name}' has shape [${t.shape}] in ${models[i].label} but [${thetas[0].shape}] in ${models[0].label}`);
      });
      if (!isFloat(thetas[0])) { copied.push(name); return thetas[0].clone(); }
      const fkeys = fishers ? fishers.map((_, i) => fisherKey(i, name)) : [];
      const haveF = fishers && fkeys.every((k) => k !== undefined);
      if (!haveF) {
        if (fishers) averagedOnly.push(name);
        return weightedAverage(thetas, weights);
      }
      const Fs = fishers!.map((f, i) => {
        let F = f.get(fkeys[i]!);
        if (F.shape.join(',') !== shape) throw new ShapeError(`merge: Fisher '${name}' in ${f.label} has shape [${F.shape}] but the parameter has [${thetas[0].shape}]`);
        F = F.to('float64');
        if (norms) F = F.div(norms[i]);
        return F;
      });
      if (method === 'fisher') return fisherAverage(thetas, Fs, weights, floor).to(thetas[0].dtype);
      const t0 = o.base!.get(name);
      if (t0.shape.join(',') !== shape) throw new ShapeError(`merge: base '${name}' has shape [${t0.shape}] but [${thetas[0].shape}] in the models`);
      const F0 = typeof o.baseFisher === 'number' || o.baseFisher === undefined ? (o.baseFisher ?? 0) : o.baseFisher.get(name).to('float64');
      return gradientMatch(t0, thetas, Fs, F0, weights).to(thetas[0].dtype);
    }));
    merged.set(name, keep(out));
    done++;
    o.onProgress?.({ done, total: names.length, phase: 'merge', name });
    // Let the event loop breathe between tensors (progress bars, AbortSignals).
    if (done % 8 === 0) await new Promise((r) => setImmediate(r));
  }
  return { merged, averagedOnly, copied, aliases };
}

/** Σ λ_i θ_i / Σ λ_i. */
export function weightedAverage(thetas: Tensor[], weights: number[]): Tensor {
  const s = weights.reduce((a, b) => a + b, 0);
  return tidy(() => {
    let acc = thetas[0].to('float64').mul(weights[0] / s);
    for (let i = 1; i < thetas.length; i++) acc = acc.add(thetas[i].to('float64').mul(weights[i] / s));
    return acc.to(thetas[0].dtype);
  });
}

/** Σ λ_i max(F_i, floor) θ_i / Σ λ_i max(F_i, floor), in float64. */
export function fisherAverage(thetas: Tensor[], fishers: Tensor[], weights: number[], floor: number): Tensor {
  return tidy(() => {
    const Fw = fishers.map((F, i) => F.to('float64').clamp(floor, null).mul(weights[i]));
    const num = stack(Fw.map((F, i) => F.mul(thetas[i].to('float64')))).sum(0);
    return num.div(stack(Fw).sum(0));
  });
}

/** θ0 + Σ_i λ_i (F0 + Σ_j F_j)⁻¹ (F0 + F_i)(θ_i − θ0), in float64. */
export function gradientMatch(theta0: Tensor, thetas: Tensor[], fishers: Tensor[], F0: Tensor | number, weights: number[]): Tensor {
  return tidy(() => {
    const t0 = theta0.to('float64');
    const Fs = fishers.map((F) => F.to('float64'));
    const denom = stack(Fs).sum(0).add(F0);
    if (denom.le(0).any().item()) throw new OptionError('gradient matching: F0 + Σ F_i has entries ≤ 0; give a positive prior precision (baseFisher)');
    const num = stack(Fs.map((F, i) => F.add(F0).mul(thetas[i].to('float64').sub(t0)).mul(weights[i]))).sum(0);
    return t0.add(num.div(denom));
  });
}
