// Last-layer diagonal Laplace on the main run's MLP (laplace-torch's default subnetwork): posterior variance
// 1/(F + δ) for the last Linear's weight and bias, F the Squisher (N·B·v) or the exact Fisher (summed over
// N), δ by the Laplace marginal likelihood, and the probit predictive softmax(μ/√(1+π/8·σ²)) with σ² from
// the penultimate features. (Sampling the whole network from a diagonal posterior underfits badly, a known
// failure of the non-linearised predictive, so the demo does not use it.) Against the MAP softmax:
// accuracy, NLL and ECE on the test set.
import { noGrad } from '../../autograd';
import { Module } from '../../nn/module';
import { crossEntropy } from '../../nn/loss';
import { Tensor, dispose, tidy } from '../../tensor';
import { ece, nll, accuracy as probAccuracy, lastLayerLogitVariance, optimizePriorPrecision, posteriorVariance, probitPredictive } from '../../apps';
import { Dataset } from '../deps';
import { OptionError } from '../../errors';

export interface Calibration { accuracy: number; nll: number; ece: number; priorPrecision?: number; }
export interface LaplaceResult { map: Calibration; squisher: Calibration; fisher: Calibration; layer: string; }

/** log p(D | θ*) = −Σ_n CE_n over the training data. */
function logLikelihood(model: Module, data: Dataset): number {
  model.eval();
  let s = 0;
  noGrad(() => {
    for (let i = 0; i < data.x.shape[0]; i += 1000) {
      const len = Math.min(1000, data.x.shape[0] - i);
      s += tidy(() => crossEntropy(model.call(data.x.narrow(0, i, len)) as Tensor, data.y.narrow(0, i, len), { reduction: 'sum' }).item());
    }
  });
  model.train();
  return -s;
}

function scores(probs: Tensor, y: Tensor): Calibration {
  return { accuracy: probAccuracy(probs, y), nll: nll(probs, y), ece: ece(probs, y) };
}

/** The last Linear layer's name, and the model's logits with that layer's inputs (the features). */
function lastLinear(model: Module): string {
  const lin = model.namedModules().filter(([, m]) => m.typeName === 'Linear');
  if (!lin.length) throw new OptionError('laplace: the model has no Linear layer');
  return lin[lin.length - 1][0];
}
function logitsAndFeatures(model: Module, layer: string, x: Tensor): { logits: Tensor; features: Tensor } {
  let features: Tensor | null = null;
  const off = model.getSubmodule(layer).registerForwardHook((_m, inputs) => { features = inputs[0] as Tensor; });
  try {
    const logits = noGrad(() => model.call(x) as Tensor);
    return { logits, features: features! };
  } finally { off(); }
}

export async function laplace(model: Module, train: Dataset, test: Dataset, diagonals: { squisher: Map<string, Tensor>; fisher: Map<string, Tensor> }, seed: number): Promise<LaplaceResult> {
  void seed;
  const layer = lastLinear(model);
  const names = [`${layer}.weight`, `${layer}.bias`];
  const params = new Map(model.namedParameters().filter(([n]) => names.includes(n)));
  const logLik = logLikelihood(model, train);
  model.eval();
  const { logits, features } = logitsAndFeatures(model, layer, test.x);
  const map = tidy(() => scores(logits.softmax(-1), test.y));
  const one = async (Fall: Map<string, Tensor>): Promise<Calibration> => {
    const F = new Map(names.map((n) => [n, Fall.get(n)!]));
    const { priorPrecision } = await optimizePriorPrecision({ fisher: F, params, logLikelihood: logLik });
    const v = posteriorVariance(F, priorPrecision);
    try {
      return tidy(() => ({ ...scores(probitPredictive(logits, lastLayerLogitVariance(features, v.get(names[0])!, v.get(names[1]))), test.y), priorPrecision }));
    } finally { dispose(v); }
  };
  const r = { map, squisher: await one(diagonals.squisher), fisher: await one(diagonals.fisher), layer };
  logits.dispose(); features.dispose();
  model.train();
  return r;
}
