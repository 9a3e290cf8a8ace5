// The likelihoods a Fisher is defined by, as per-sample negative log-likelihoods summed over a batch
// (DESIGN.md: l_n = -log p(y_n | x_n), reduction 'sum' for gradients).
//   classification: p = softmax(logits), l_n = logsumexp(z_n) - z_n[y_n]  (= F.cross_entropy, 'sum');
//                   sequence logits [N, T, C] with targets [N, T]: l_n sums over positions whose target is
//                   not ignoreIndex (-100, Hugging Face's convention), so a sample is a sequence; with
//                   `shift` (causal LM) logits[:, :-1] predict labels[:, 1:]
//   regression:     Gaussian with unit variance, l_n = ½‖f(x_n) - y_n‖²    (= ½ F.mse_loss 'sum': PyTorch's
//                   mse_loss has no ½, so its gradients are twice these and its Fisher four times)
// The classification loss is written with logsumexp/gather rather than aten::nll_loss because those
// have vmap batching rules; nll_loss goes through functorch's slow per-sample fallback.
import { noGrad } from '../autograd';
import { callOp, cat, Tensor } from '../tensor/tensor';
import { randn } from '../tensor/create';
import { DTypeError, OptionError, ShapeError } from '../errors';

export type Task = 'classification' | 'regression';

export interface SequenceOptions { shift: boolean; ignoreIndex: number; }

/** Causal LM: the logits that predict a next token, [N, T-1, C]. */
export function shiftLogits(z: Tensor): Tensor { return z.narrow(1, 0, z.shape[1] - 1); }
/** Causal LM: the labels they predict, [N, T-1]. */
export function shiftLabels(y: Tensor): Tensor { return y.narrow(1, 1, y.shape[1] - 1); }
/** A target made for shifted logits, back in the labels' positions (the first position ignored). */
export function unshiftTarget(t: Tensor, shift: boolean, ignoreIndex: number): Tensor {
  if (!shift) return t;
  return cat([callOp('aten::full', '', [t.shape[0], 1], ignoreIndex, 4 /* int64 */, null, t.device, null) as Tensor, t.long()], 1);
}

/**
 * Σ_n w_n · l(out_n, target_n) (w omitted: all ones). out: [B, C] logits, [B, T, C] sequence logits with
 * [B, T] targets, or [B, ...] regression outputs.
 */
export function summedNll(task: Task, out: Tensor, target: Tensor, weight?: Tensor, seq: SequenceOptions = { shift: false, ignoreIndex: -100 }): Tensor {
  if (task === 'classification') {
    if (out.ndim === 3) {
      if (target.ndim !== 2 || target.shape[1] !== out.shape[1]) {
        throw new ShapeError(`classification: sequence logits [${out.shape}] need targets [N, ${out.shape[1]}]; got [${target.shape}]`);
      }
      const z = seq.shift ? shiftLogits(out) : out;
      const t = seq.shift ? shiftLabels(target) : target;
      const keepMask = t.ne(seq.ignoreIndex);
      const safe = t.mul(keepMask.long());
      const nll = z.logsumexp(2).sub(z.gather(2, safe.unsqueeze(2)).squeeze(2)).mul(keepMask.to(z.dtype));
      const per = nll.sum(1);
      return weight ? per.mul(weight).sum() : per.sum();
    }
    if (out.ndim !== 2) throw new ShapeError(`classification: the model must return logits [batch, classes] or [batch, positions, classes]; got shape [${out.shape}]`);
    if (seq.shift) throw new ShapeError(`classification: shift (causal LM) needs sequence logits [N, T, C]; got [${out.shape}]`);
    const idx = target.ndim === 1 ? target.unsqueeze(1) : target;
    const per = out.logsumexp(1).sub(out.gather(1, idx).squeeze(1));
    return weight ? per.mul(weight).sum() : per.sum();
  }
  if (out.shape.join() !== target.shape.join()) {
    throw new ShapeError(`regression: the model's output has shape [${out.shape}] but the targets have [${target.shape}]`);
  }
  const sq = out.sub(target).square();
  const per = sq.ndim > 1 ? sq.flatten(1).sum(1) : sq;
  return (weight ? per.mul(weight) : per).sum().mul(0.5);
}

/** Checks targets against the task before any work: dtype and shape, named. */
export function checkTargets(task: Task, y: Tensor, n: number): void {
  if (y.shape[0] !== n) throw new ShapeError(`the targets y have ${y.shape[0]} rows but the inputs x have ${n}`);
  if (task === 'classification' && !['int64', 'int32', 'int16', 'uint8', 'int8'].includes(y.dtype)) {
    throw new DTypeError(`classification needs integer class labels y (shape [N]); got dtype ${y.dtype}. ` +
      "For real-valued targets use task 'regression'");
  }
  if (task === 'regression' && !['float32', 'float64', 'float16', 'bfloat16'].includes(y.dtype)) {
    throw new DTypeError(`regression needs floating-point targets y; got dtype ${y.dtype}. For class labels use task 'classification'`);
  }
}

/**
 * One "term" of a Fisher: per-sample scalars s_n = w_n · l(f(x_n), t_n) whose squared gradients,
 * times `scale`, add to the diagonal. Every variant is a list of terms over the same forward pass.
 */
export interface Term { target: Tensor; weight?: Tensor; scale: number; }

/**
 * mc: k labels per example from the model's predictive distribution. The random draws are made in a
 * fixed order per batch (one multinomial [b, k] call, or one randn [k, b, ...] call) so that a seeded run
 * is reproduced exactly by the Python reference (scripts/fixtures/fisher.py).
 */
export function mcTerms(task: Task, out: Tensor, k: number, y?: Tensor, ignoreIndex = -100): Term[] {
  return noGrad(() => {
    const z = out.detach();
    if (task === 'classification') {
      const C = z.shape[z.ndim - 1];
      const labels: Tensor = callOp('aten::multinomial', '', z.reshape([-1, C]).softmax(1), k, true, null);
      return Array.from({ length: k }, (_, j) => {
        let t = labels.select(1, j).reshape(z.shape.slice(0, -1)).contiguous();
        // positions without a label (padding) stay without one
        if (z.ndim === 3 && y) t = callOp('aten::masked_fill', 'Scalar', t, y.eq(ignoreIndex), ignoreIndex) as Tensor;
        return { target: t, scale: 1 / k };
      });
    }
    const eps = randn([k, ...z.shape], { dtype: z.dtype, device: z.device });
    return Array.from({ length: k }, (_, j) => ({ target: z.add(eps.select(0, j)), scale: 1 / k }));
  });
}

/**
 * exact: the expectation over the model's own distribution, as a sum of squared "columns".
 * classification: Σ_c p_c g_c² = Σ_c (√p_c · g_c)², one term per class with weight √p_{n,c}.
 * regression: E‖Jᵀε‖² over ε ~ N(0, I) = Σ_o (∂f_o/∂θ)²; the target f(x) - e_o makes the loss's gradient
 * exactly Jᵀe_o (the targets are constants), so column o is an ordinary loss term.
 */
export function exactTerms(task: Task, out: Tensor, maxClasses = 1024): Term[] {
  return noGrad(() => {
    const z = out.detach();
    if (task === 'classification') {
      if (z.ndim !== 2) {
        throw new OptionError(`fisherDiagonal: the exact Fisher of sequence logits [${z.shape}] needs one backward per position and class (T·C); use variant 'mc' (samples k) instead`);
      }
      const [b, c] = z.shape;
      if (c > maxClasses) {
        throw new OptionError(`fisherDiagonal: the exact Fisher needs one backward per class: C = ${c} > maxExactClasses = ${maxClasses}; use variant 'mc' (samples k), or raise maxExactClasses`);
      }
      const sp = z.softmax(1).sqrt();
      return Array.from({ length: c }, (_, j) => ({
        target: callOp('aten::full', '', [b], j, 4 /* int64 */, null, z.device, null) as Tensor,
        weight: sp.select(1, j).contiguous(), scale: 1,
      }));
    }
    const flat = z.ndim === 1 ? z.unsqueeze(1) : z.flatten(1);
    const o = flat.shape[1];
    if (o > maxClasses) throw new OptionError(`fisherDiagonal: the exact Fisher needs one backward per output: ${o} > maxExactClasses = ${maxClasses}; use variant 'mc'`);
    return Array.from({ length: o }, (_, j) => {
      const t = flat.clone();
      t.select(1, j).sub_(1);
      return { target: t.reshape(z.shape), scale: 1 };
    });
  });
}
