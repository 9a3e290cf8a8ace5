// Diagonal Laplace approximation (MacKay 1992; Ritter et al. 2018; Daxberger et al. 2021): around the
// trained θ*, the posterior is N(θ*, diag(1/(F + δ))) with F the summed Fisher/GGN diagonal over the
// training set and δ the prior precision of a N(0, 1/δ) prior. δ is chosen by the Laplace marginal
// likelihood (log p(D|θ*) − ½[Σ log(F+δ) − P log δ] − ½ δ‖θ*−μ0‖², as laplace-torch) or by a grid search
// on a validation metric. Predictions average the softmax over sampled parameters, or use the probit
// approximation softmax(μ / √(1 + π/8·σ²)) given logit variances (e.g. a last-layer Laplace).
// The long calls (the prior search, the sampled predictive) take a `signal` and report Progress.
import { noGrad } from '../autograd';
import { manualSeed } from '../device';
import { Module, functionalCall } from '../nn/module';
import { Tensor, keep, randnLike, tidy, zeros } from '../tensor';
import { NamedTensors, ParamsLike, matching, namedTensors } from './named';
import { OptionError, ShapeError, throwIfAborted } from '../errors';
import { checkOptions, optionKeys, Progress } from '../options';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** 1/(F + δ) per entry (δ a number, or per-parameter numbers/tensors by name). */
export function posteriorVariance(fisher: NamedTensors, priorPrecision: number | NamedTensors): NamedTensors {
  return noGrad(() => {
    const out = new Map<string, Tensor>();
    for (const [n, f] of fisher) {
      if (typeof priorPrecision === 'number' && !(priorPrecision > 0)) throw new OptionError(`posteriorVariance: prior precision must be > 0, got ${priorPrecision}`);
      const d = typeof priorPrecision === 'number' ? priorPrecision : matching('posteriorVariance: prior precision', priorPrecision, n, f);
      out.set(n, keep(tidy(() => f.add(d).reciprocal())));
    }
    return out;
  });
}

/** The three sums the marginal likelihood needs, over every entry of the Fisher: P, ‖θ*−μ0‖². */
function scatterAndCount(fisher: NamedTensors, params: NamedTensors, priorMean?: NamedTensors): { P: number; sq: number } {
  let P = 0; let sq = 0;
  noGrad(() => {
    for (const [n, f] of fisher) {
      const p = matching('laplace: θ*', params, n, f);
      P += f.numel;
      sq += tidy(() => {
        const d = priorMean ? p.sub(matching('laplace: prior mean', priorMean, n, f)) : p;
        return d.to('float64').square().sum().item();
      });
    }
  });
  return { P, sq };
}
function sumLog(fisher: NamedTensors, delta: number): number {
  let s = 0;
  noGrad(() => { for (const f of fisher.values()) s += tidy(() => f.to('float64').add(delta).log().sum().item()); });
  return s;
}
function sumInv(fisher: NamedTensors, delta: number): number {
  let s = 0;
  noGrad(() => { for (const f of fisher.values()) s += tidy(() => f.to('float64').add(delta).reciprocal().sum().item()); });
  return s;
}

export interface MarglikInput {
  /** Summed Fisher/GGN diagonal over the training set. */
  fisher: NamedTensors;
  /** θ* (the MAP parameters). */
  params: ParamsLike;
  /** log p(D | θ*), i.e. minus the summed training NLL. */
  logLikelihood: number;
  priorMean?: NamedTensors;
}
// A mistyped key (prior_mean) would otherwise be ignored: the prior centred at 0 instead.
const MARGLIK_KEYS = optionKeys<MarglikInput>('MarglikInput', { fisher: true, params: true, logLikelihood: true, priorMean: true });

/** The Laplace log marginal likelihood for a scalar prior precision δ. */
export function logMarginalLikelihood(inp: MarglikInput, priorPrecision: number): number {
  checkOptions('logMarginalLikelihood', inp, MARGLIK_KEYS);
  if (!(priorPrecision > 0)) throw new OptionError(`prior precision must be > 0, got ${priorPrecision}`);
  const { P, sq } = scatterAndCount(inp.fisher, namedTensors(inp.params), inp.priorMean);
  const logDetRatio = sumLog(inp.fisher, priorPrecision) - P * Math.log(priorPrecision);
  return inp.logLikelihood - 0.5 * (logDetRatio + priorPrecision * sq);
}

export interface PriorSearch {
  method?: 'marglik' | 'grid';
  /** grid: candidate precisions (default 10^-4 … 10^4, 33 points). */
  grid?: number[];
  /** grid: the metric to minimise for a δ (e.g. validation NLL of the Laplace predictive). */
  evaluate?: (priorPrecision: number) => number | Promise<number>;
  /** Stops the search between steps (grid points, bisection steps) with an AbortError (or the signal's reason). */
  signal?: AbortSignal;
  /** After each step: { done, total, phase: 'prior' } (grid points evaluated, or bisection steps taken). */
  onProgress?: (p: Progress) => void;
}
const PRIOR_SEARCH_OPTIONS = optionKeys<PriorSearch>('optimizePriorPrecision', { method: true, grid: true, evaluate: true, signal: true, onProgress: true });

/** Bisection on log δ ∈ [-30, 30] down to a width of 1e-12: always this many halvings. */
const BISECTION_STEPS = Math.ceil(Math.log2(60 / 1e-12));

/**
 * The prior precision. 'marglik' (default): the maximiser of logMarginalLikelihood, which is concave in δ
 * (its derivative ½[P/δ − Σ 1/(F+δ) − ‖θ*−μ0‖²] decreases strictly), found by bisection on log δ.
 * 'grid': the grid value with the smallest `evaluate`.
 */
export async function optimizePriorPrecision(inp: Omit<MarglikInput, 'logLikelihood'> & { logLikelihood?: number }, s: PriorSearch = {}):
  Promise<{ priorPrecision: number; scores?: { priorPrecision: number; score: number }[] }> {
  checkOptions('optimizePriorPrecision', s, PRIOR_SEARCH_OPTIONS);
  checkOptions('optimizePriorPrecision: input', inp, MARGLIK_KEYS);
  const what = 'optimizePriorPrecision';
  throwIfAborted(s.signal, what);
  if ((s.method ?? 'marglik') === 'grid') {
    if (!s.evaluate) throw new OptionError("optimizePriorPrecision: method 'grid' needs `evaluate(δ)`");
    const grid = s.grid ?? Array.from({ length: 33 }, (_, i) => 10 ** (-4 + i / 4));
    const bad = grid.find((d) => !(d > 0));
    if (bad !== undefined) throw new OptionError(`optimizePriorPrecision: grid values must be > 0, got ${bad}`);
    const scores: { priorPrecision: number; score: number }[] = [];
    for (const d of grid) {
      throwIfAborted(s.signal, what);
      scores.push({ priorPrecision: d, score: await s.evaluate(d) });
      s.onProgress?.({ done: scores.length, total: grid.length, phase: 'prior' });
    }
    throwIfAborted(s.signal, what);
    const best = scores.reduce((a, b) => (b.score < a.score ? b : a));
    return { priorPrecision: best.priorPrecision, scores };
  }
  const { P, sq } = scatterAndCount(inp.fisher, namedTensors(inp.params), inp.priorMean);
  const deriv = (d: number) => P / d - sumInv(inp.fisher, d) - sq;
  let lo = -30; let hi = 30;  // log δ
  if (deriv(Math.exp(hi)) > 0) return { priorPrecision: Math.exp(hi) };
  if (deriv(Math.exp(lo)) < 0) return { priorPrecision: Math.exp(lo) };
  // Each step sums over every Fisher entry: the event loop turns between steps (abort, progress).
  for (let i = 0; i < BISECTION_STEPS; i++) {
    throwIfAborted(s.signal, what);
    const mid = (lo + hi) / 2;
    if (deriv(Math.exp(mid)) > 0) lo = mid; else hi = mid;
    s.onProgress?.({ done: i + 1, total: BISECTION_STEPS, phase: 'prior' });
    await nextTurn();
  }
  throwIfAborted(s.signal, what);
  return { priorPrecision: Math.exp((lo + hi) / 2) };
}

/** θ* + √var·ε, ε ~ N(0, I), for the named entries (others keep θ*). */
export function sampleParameters(params: ParamsLike, variance: NamedTensors): NamedTensors {
  const ps = namedTensors(params);
  return noGrad(() => {
    const out = new Map<string, Tensor>();
    for (const [n, v] of variance) {
      const p = ps.get(n);
      if (!p) throw new OptionError(`sampleParameters: variance for '${n}' but no such parameter`);
      matching('sampleParameters: variance', variance, n, p);
      out.set(n, keep(tidy(() => p.add(v.sqrt().mul(randnLike(p))))));
    }
    return out;
  });
}

export interface SamplePredictiveOptions {
  /** Parameter draws (default 30). */
  samples?: number;
  /** Seeds the global generators (manualSeed) first, for a reproducible result. */
  seed?: number;
}
const PREDICTIVE_OPTIONS = optionKeys<SamplePredictiveOptions>('samplePredictive', { samples: true, seed: true });

export interface SamplePredictiveAsyncOptions extends SamplePredictiveOptions {
  /** Stops between draws with an AbortError (or the signal's reason); the partial sum is freed. */
  signal?: AbortSignal;
  /** After each draw: { done, total, phase: 'predictive' }. */
  onProgress?: (p: Progress) => void;
}
const PREDICTIVE_ASYNC_OPTIONS = optionKeys<SamplePredictiveAsyncOptions>('samplePredictiveAsync', { samples: true, seed: true, signal: true, onProgress: true });

function drawCount(o: SamplePredictiveOptions, who: string): number {
  const S = o.samples ?? 30;
  if (!(Number.isInteger(S) && S >= 1)) throw new OptionError(`${who}: samples must be an integer ≥ 1, got ${S}`);
  return S;
}

/** acc + softmax(f(x; θ_s)) for one draw θ_s (acc disposed; null for the first draw). */
function addDraw(model: Module, variance: NamedTensors, x: Tensor, acc: Tensor | null): Tensor {
  const next: Tensor = noGrad(() => tidy(() => {
    const theta = sampleParameters(model, variance);
    const p = (functionalCall(model, theta, x) as Tensor).softmax(-1);
    for (const t of theta.values()) t.dispose();
    return acc ? acc.add(p) : p;
  }));
  acc?.dispose();
  return next;
}

function meanOf(acc: Tensor, S: number): Tensor {
  const out = noGrad(() => acc.div(S));
  acc.dispose();
  return out;
}

/** Monte-Carlo predictive: the mean of softmax(f(x; θ_s)) over `samples` parameter draws. */
export function samplePredictive(model: Module, variance: NamedTensors, x: Tensor, o: SamplePredictiveOptions = {}): Tensor {
  checkOptions('samplePredictive', o, PREDICTIVE_OPTIONS);
  const S = drawCount(o, 'samplePredictive');
  if (o.seed !== undefined) manualSeed(o.seed);
  let acc: Tensor | null = null;
  for (let s = 0; s < S; s++) acc = addDraw(model, variance, x, acc);
  return meanOf(acc!, S);
}

/**
 * samplePredictive with the event loop turning between draws (one forward each): the same draws, so the
 * same result for the same seed (unless other code draws from the global generator meanwhile); `signal`
 * stops it between draws, `onProgress` reports each.
 */
export async function samplePredictiveAsync(model: Module, variance: NamedTensors, x: Tensor, o: SamplePredictiveAsyncOptions = {}): Promise<Tensor> {
  checkOptions('samplePredictiveAsync', o, PREDICTIVE_ASYNC_OPTIONS);
  const S = drawCount(o, 'samplePredictiveAsync');
  const what = 'samplePredictiveAsync';
  throwIfAborted(o.signal, what);
  if (o.seed !== undefined) manualSeed(o.seed);
  let acc: Tensor | null = null;
  try {
    for (let s = 0; s < S; s++) {
      acc = addDraw(model, variance, x, acc);
      o.onProgress?.({ done: s + 1, total: S, phase: 'predictive' });
      await nextTurn();
      throwIfAborted(o.signal, what);
    }
  } catch (e) {
    acc?.dispose();
    throw e;
  }
  return meanOf(acc!, S);
}

/** Probit approximation to E[softmax(f)] with f ~ N(mean, diag(var)): softmax(μ/√(1+π/8·σ²)). */
export function probitPredictive(logitMean: Tensor, logitVar: Tensor): Tensor {
  return tidy(() => logitMean.div(logitVar.mul(Math.PI / 8).add(1).sqrt()).softmax(-1));
}

/**
 * Logit variances of a last-layer diagonal Laplace: for features φ [N, D] and weight/bias variances
 * [C, D] / [C], Var f_c = Σ_d φ_d² var(W_cd) + var(b_c).
 */
export function lastLayerLogitVariance(features: Tensor, weightVar: Tensor, biasVar?: Tensor | null): Tensor {
  if (features.ndim !== 2 || weightVar.ndim !== 2 || features.shape[1] !== weightVar.shape[1]) {
    throw new ShapeError(`lastLayerLogitVariance: features [N, D] and weight variance [C, D] needed, got [${features.shape}] and [${weightVar.shape}]`);
  }
  return tidy(() => {
    const v = features.square().matmul(weightVar.t());
    return biasVar ? v.add(biasVar) : v;
  });
}

/** Mean negative log-likelihood of labels under predicted probabilities (clamped at 1e-12). */
export function nll(probs: Tensor, y: Tensor): number {
  return tidy(() => probs.gather(1, y.reshape([-1, 1])).clamp(1e-12, null).log().mean().neg().item());
}

/** Accuracy of argmax predictions. */
export function accuracy(probs: Tensor, y: Tensor): number {
  return tidy(() => probs.argmax(1).eq(y).to('float64').mean().item());
}

/**
 * Expected calibration error with `bins` equal-width confidence bins on (0, 1] (Guo et al. 2017):
 * Σ_b |B_b|/N · |acc(B_b) − conf(B_b)|, confidence = max probability, bin b = (b/B, (b+1)/B].
 */
export function ece(probs: Tensor, y: Tensor, bins = 15): number {
  return tidy(() => {
    const { values: conf, indices: pred } = probs.max(1);
    const correct = pred.eq(y).to('float64');
    const c = conf.to('float64');
    const N = c.numel;
    // bin index = ceil(conf·B) − 1, so conf in (b/B, (b+1)/B] lands in b. Since |B_b|·|acc_b − conf_b| =
    // |Σ_{i∈b}(correct_i − conf_i)|, one scatter-add of the differences gives every bin at once.
    const bin = c.mul(bins).ceil().sub(1).clamp(0, bins - 1).long();
    const perBin = zeros([bins], { dtype: 'float64', device: c.device }).scatterAdd(0, bin, correct.sub(c));
    return perBin.abs().sum().item() / N;
  });
}
