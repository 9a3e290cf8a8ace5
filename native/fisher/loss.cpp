// The likelihoods a Fisher is defined by, as per-sample negative log-likelihoods l_n (as
// lib/fisher/likelihood.ts): classification l_n = logsumexp(z_n) - z_n[y_n], for sequence logits
// [N, T, C] summed over positions whose target is not ignoreIndex (Hugging Face's -100), so a sample is a
// sequence; regression l_n = ½‖f(x_n) - y_n‖². The variants are lists of terms over one forward: the
// true labels (empirical), k sampled labels (mc: one multinomial [M, k] or one randn [k, ...] per batch,
// the order scripts/fixtures documents), or one term per class weighted by √p (exact).
#include "fisher/engine.h"

namespace sq::fisher {

static std::string shapeStr(const at::Tensor& t) { return c10::str(t.sizes()); }

at::Tensor selectOutput(const c10::IValue& out, const c10::IValue& which) {
  auto describe = [&]() -> std::string {
    if (out.isTuple()) return "a tuple of " + std::to_string(out.toTupleRef().elements().size());
    if (out.isList()) return "a list of " + std::to_string(out.toListRef().size());
    if (out.isGenericDict()) {
      std::vector<std::string> keys;
      for (const auto& kv : out.toGenericDict()) keys.push_back(kv.key().isString() ? "'" + kv.key().toStringRef() + "'" : "?");
      return "a dict with keys " + c10::Join(", ", keys);
    }
    return out.tagKind();
  };
  c10::IValue picked;
  if (which.isNone()) {
    if (out.isTensor()) return out.toTensor();
    if (out.isTuple() && !out.toTupleRef().elements().empty()) picked = out.toTupleRef().elements()[0];
    else if (out.isList() && !out.toListRef().empty()) picked = out.toListRef()[0];
    else if (out.isGenericDict() && out.toGenericDict().contains(c10::IValue(std::string("logits")))) picked = out.toGenericDict().at(std::string("logits"));
    else throw std::invalid_argument("[OptionError] the model returns " + describe() + ": pick the logits with the output option (an index or a key)");
  } else if (which.isInt()) {
    int64_t i = which.toInt();
    size_t n = out.isTuple() ? out.toTupleRef().elements().size() : out.isList() ? out.toListRef().size() : 0;
    if (out.isTensor() && i == 0) return out.toTensor();
    if (i < 0 || static_cast<size_t>(i) >= n) {
      throw std::invalid_argument("[OptionError] output " + std::to_string(i) + " does not exist: the model returns " + describe());
    }
    picked = out.isTuple() ? out.toTupleRef().elements()[i] : out.toListRef()[i];
  } else {
    std::string k = which.toStringRef();
    if (!out.isGenericDict() || !out.toGenericDict().contains(c10::IValue(k))) {
      throw std::invalid_argument("[OptionError] output '" + k + "' does not exist: the model returns " + describe());
    }
    picked = out.toGenericDict().at(c10::IValue(k));
  }
  if (!picked.isTensor()) throw std::invalid_argument("[OptionError] the selected output is a " + picked.tagKind() + ", not a tensor; the model returns " + describe());
  return picked.toTensor();
}

void checkTargets(const StepOptions& o, const at::Tensor& z, const at::Tensor& y) {
  int64_t N = z.dim() ? z.size(0) : 0;
  if (y.dim() == 0 || y.size(0) != N) {
    throw std::invalid_argument("[ShapeError] the targets y have shape " + shapeStr(y) + " but the model output has " + std::to_string(N) +
                                " rows (shape " + shapeStr(z) + ")");
  }
  if (o.task == "classification") {
    if (at::isFloatingType(y.scalar_type()) || y.scalar_type() == at::kBool) {
      throw std::invalid_argument(std::string("[DTypeError] classification needs integer class labels y; got dtype ") + c10::toString(y.scalar_type()) +
                                  ". For real-valued targets use task 'regression'");
    }
    bool flat = z.dim() == 2 && (y.dim() == 1 || (y.dim() == 2 && y.size(1) == 1));
    bool seq = z.dim() == 3 && y.dim() == 2 && y.size(1) == z.size(1);
    if (!flat && !seq) {
      throw std::invalid_argument("[ShapeError] classification: logits " + shapeStr(z) + " and targets " + shapeStr(y) +
                                  " do not fit: expected logits [N, C] with targets [N], or sequence logits [N, T, C] with targets [N, T]" +
                                  (o.shift ? " (after the causal shift)" : ""));
    }
    int64_t C = z.size(-1);
    auto bad = (y.ge(C) | (y.lt(0) & y.ne(o.ignoreIndex))).any().item<bool>();
    if (bad) {
      throw std::invalid_argument("[ShapeError] classification: a target is outside [0, " + std::to_string(C) + ") (and not the ignore index " +
                                  std::to_string(o.ignoreIndex) + ")");
    }
  } else {
    if (!at::isFloatingType(y.scalar_type())) {
      throw std::invalid_argument(std::string("[DTypeError] regression needs floating-point targets y; got dtype ") + c10::toString(y.scalar_type()) +
                                  ". For class labels use task 'classification'");
    }
    if (!z.sizes().equals(y.sizes())) {
      throw std::invalid_argument("[ShapeError] regression: the model's output has shape " + shapeStr(z) + " but the targets have " + shapeStr(y));
    }
  }
}

at::Tensor perSampleNll(const StepOptions& o, const at::Tensor& z, const at::Tensor& target, const at::Tensor& weight) {
  at::Tensor per;
  if (o.task == "classification") {
    auto t = target.dim() == z.dim() ? target.squeeze(-1) : target;
    auto mask = t.ne(o.ignoreIndex);
    auto safe = t.masked_fill(mask.logical_not(), 0).to(at::kLong);
    auto nll = z.logsumexp(-1).sub(z.gather(-1, safe.unsqueeze(-1)).squeeze(-1));
    nll = at::where(mask, nll, at::zeros({}, nll.options()));
    per = z.dim() == 3 ? nll.sum(1) : nll;
  } else {
    auto sq = z.sub(target).square();
    per = (sq.dim() > 1 ? sq.flatten(1).sum(1) : sq).mul(0.5);
  }
  return weight.defined() ? per.mul(weight) : per;
}

// What autograd gives through perSampleNll, written out so that one vmapped backward can take every term
// of a chunk at once (test/fisher/term-axis.test.ts compares the two paths).
at::Tensor termGrads(const StepOptions& o, const at::Tensor& z0, const std::vector<Term>& terms, int64_t start, int64_t count) {
  at::NoGradGuard ng;
  auto z = z0.detach();
  std::vector<at::Tensor> ts, ws;
  for (int64_t k = start; k < start + count; k++) {
    const auto& t = terms[k];
    ts.push_back(o.task == "classification" && t.target.dim() == z.dim() ? t.target.squeeze(-1) : t.target);
    if (t.weight.defined()) ws.push_back(t.weight);
  }
  auto T = at::stack(ts);  // [count, N(, T)] labels, or [count, *z.shape] regression targets
  if (o.task != "classification") return z.unsqueeze(0).sub(T);
  auto mask = T.ne(o.ignoreIndex);
  auto idx = T.masked_fill(mask.logical_not(), 0).to(at::kLong).unsqueeze(-1);
  std::vector<int64_t> shape{count};
  for (auto s : z.sizes()) shape.push_back(s);
  auto G = z.softmax(-1).unsqueeze(0).expand(shape).clone();
  G.scatter_add_(-1, idx, at::full(idx.sizes(), -1.0, G.options()));
  auto scale = mask.to(G.scalar_type());  // [count, N(, T)]
  if (!ws.empty()) {
    auto W = at::stack(ws).to(G.scalar_type());  // [count, N]
    while (W.dim() < scale.dim()) W = W.unsqueeze(-1);
    scale = scale.mul(W);
  }
  return G.mul_(scale.unsqueeze(-1));
}

std::vector<Term> termsFor(const StepOptions& o, const at::Tensor& z0, const at::Tensor& y) {
  at::NoGradGuard ng;
  auto z = z0.detach();
  std::vector<Term> out;
  if (o.variant == "empirical") return {Term{y, {}, 1}};
  int64_t k = o.samples;
  if (o.variant == "mc") {
    if (o.task == "classification") {
      int64_t C = z.size(-1);
      auto labels = at::multinomial(z.reshape({-1, C}).softmax(1), k, true);  // [M, k]
      auto ignored = y.dim() == z.dim() - 1 ? y.eq(o.ignoreIndex) : at::Tensor();
      for (int64_t j = 0; j < k; j++) {
        auto t = labels.select(1, j).reshape(z.sizes().slice(0, z.dim() - 1)).contiguous();
        if (ignored.defined() && z.dim() == 3) t = t.masked_fill(ignored, o.ignoreIndex);
        out.push_back({t, {}, 1.0 / k});
      }
    } else {
      std::vector<int64_t> shape{k};
      for (auto s : z.sizes()) shape.push_back(s);
      auto eps = at::randn(shape, z.options());
      for (int64_t j = 0; j < k; j++) out.push_back({z.add(eps.select(0, j)), {}, 1.0 / k});
    }
    return out;
  }
  // exact
  if (o.task == "classification") {
    if (z.dim() != 2) {
      throw std::invalid_argument("[OptionError] the exact Fisher of sequence logits " + shapeStr(z) +
                                  " needs one backward per position and class (T·C); use variant 'mc' (samples k) instead");
    }
    int64_t N = z.size(0), C = z.size(1);
    if (C > o.maxExactClasses) {
      throw std::invalid_argument("[OptionError] the exact Fisher needs one backward per class: C = " + std::to_string(C) + " > maxExactClasses = " +
                                  std::to_string(o.maxExactClasses) + "; use variant 'mc' (samples k), or raise maxExactClasses");
    }
    auto sp = z.softmax(1).sqrt();
    for (int64_t j = 0; j < C; j++) out.push_back({at::full({N}, j, z.options().dtype(at::kLong)), sp.select(1, j).contiguous(), 1});
    return out;
  }
  auto flat = z.dim() == 1 ? z.unsqueeze(1) : z.flatten(1);
  int64_t O = flat.size(1);
  if (O > o.maxExactClasses) {
    throw std::invalid_argument("[OptionError] the exact Fisher needs one backward per output: " + std::to_string(O) + " > maxExactClasses = " +
                                std::to_string(o.maxExactClasses) + "; use variant 'mc'");
  }
  for (int64_t j = 0; j < O; j++) {
    auto t = flat.clone();
    t.select(1, j).sub_(1);
    out.push_back({t.reshape(z.sizes()), {}, 1});
  }
  return out;
}

}  // namespace sq::fisher
