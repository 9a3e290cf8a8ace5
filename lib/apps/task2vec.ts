// Task2Vec (Achille et al. 2019): a task's embedding is the Fisher diagonal of a fixed probe network
// fine-tuned on it, averaged per filter (the entries feeding one output unit/channel), so the vector has
// one entry per unit rather than per weight. Two tasks are compared with the normalised cosine distance
// d(a, b) = 1 − cos(a/(a+b), b/(a+b)) (elementwise division), which discounts how large the Fisher is
// overall and is what the paper uses for task similarity.
import { noGrad } from '../autograd';
import { Tensor, cat, tidy } from '../tensor';
import { NamedTensors } from './named';
import { OptionError, ShapeError } from '../errors';

/**
 * The per-filter averaged Fisher, as one float64 vector: for each named tensor (in the given order, default
 * the Map's), a ≥2-d weight contributes the mean over all dims but the first (one value per output unit /
 * channel) and a 1-d tensor (bias, norm) its values.
 */
export function task2vecEmbedding(fisher: NamedTensors, names?: string[]): Tensor {
  const ns = names ?? [...fisher.keys()];
  if (ns.length === 0) throw new OptionError('task2vecEmbedding: the Fisher holds no tensors');
  return noGrad(() => tidy(() => cat(ns.map((n) => {
    const f = fisher.get(n);
    if (!f) throw new OptionError(`task2vecEmbedding: the Fisher has no tensor '${n}'`);
    const d = f.to('float64');
    if (d.ndim === 0) return d.reshape([1]);
    return d.ndim === 1 ? d : d.reshape([d.shape[0], -1]).mean(1);
  }))));
}

/** Normalised cosine distance between two embeddings of the same length (entries where a+b = 0 count as 0). */
export function task2vecDistance(a: Tensor, b: Tensor): number {
  if (a.shape.join(',') !== b.shape.join(',')) throw new ShapeError(`task2vecDistance: embeddings of shapes [${a.shape}] and [${b.shape}] differ`);
  return noGrad(() => tidy(() => {
    const x = a.to('float64'); const y = b.to('float64');
    const s = x.add(y);
    const safe = s.where(s.ne(0), 1);
    const u = x.div(safe); const v = y.div(safe);
    const denom = u.norm().item() * v.norm().item();
    if (denom === 0) throw new OptionError('task2vecDistance: an embedding is all zeros');
    return 1 - u.dot(v).item() / denom;
  }));
}

/** All pairwise distances between task embeddings (a symmetric matrix with a zero diagonal). */
export function task2vecDistances(embeddings: Tensor[]): number[][] {
  return embeddings.map((a, i) => embeddings.map((b, j) => (i === j ? 0 : task2vecDistance(a, b))));
}
