// One batch of the graph-level engine: one interpreter run of the rewritten forward, then per Fisher term
// ONE backward to every captured use output (δ), and the rules turn (inputs, δ) into Σ_n g_n². A
// parameter with one use takes its rule's direct Σ g² when it has one; a parameter with several uses
// (tied weights, a layer applied twice) sums its per-sample gradients over the uses before squaring,
// Σ_n (Σ_uses g_{n,use})², in sample chunks bounded by memory. Fallback parameters get exact per-sample
// gradients from the per-sample loss vector, for those parameters alone: one backward whose output
// gradients are rows of the identity, batched by functorch's vmap (what autograd.grad's is_grads_batched
// does), in chunks; where a backward op has no batching rule, one backward per sample.
#include "fisher/engine.h"
#include <ATen/functorch/BatchedTensorImpl.h>
#include <ATen/functorch/DynamicLayer.h>

namespace sq::fisher {

static void accumulateFast(Param& p, const std::vector<std::pair<size_t, std::string>>& pu, const std::vector<const Use*>& uses,
                           const std::vector<UseValues>& uv, double scale) {
  std::vector<std::pair<size_t, std::string>> live;
  for (auto& [ui, role] : pu) if (uv[ui].delta.defined()) live.emplace_back(ui, role);
  if (live.empty()) return;  // no use reaches the loss: zero contribution
  if (live.size() == 1) {
    auto s = uses[live[0].first]->rule->sumSquares(uv[live[0].first], live[0].second);
    if (s.defined()) {
      p.acc.add_(s.reshape(p.acc.sizes()), scale);
      return;
    }
  }
  int64_t N = uv[live[0].first].N;
  int64_t c = chunkFor(p.acc.numel() * p.acc.element_size() * 2, N);
  std::vector<int64_t> shape{0};
  for (auto s : p.acc.sizes()) shape.push_back(s);
  for (int64_t s = 0; s < N; s += c) {
    int64_t n = std::min(c, N - s);
    shape[0] = n;
    at::Tensor g;
    for (auto& [ui, role] : live) {
      auto gi = uses[ui]->rule->perSample(uv[ui], role, s, n).reshape(shape);
      g = g.defined() ? g.add(gi) : gi;
    }
    p.acc.add_(g.square().sum(0), scale);
  }
}

// Per-sample gradients of the fallback parameters by one vmapped backward per chunk of samples; false
// (nothing accumulated) when functorch cannot batch some backward op.
static bool batchedFallback(std::vector<Param*>& fb, const std::vector<at::Tensor>& leaves, const at::Tensor& l, int64_t N, double scale) {
  using namespace at::functorch;
  int64_t bytes = 0;
  for (auto* prm : fb) bytes += prm->acc.numel() * prm->acc.element_size();
  int64_t c = chunkFor(bytes * 3, N);
  std::vector<std::vector<at::Tensor>> parts;  // per chunk, per leaf: [count, *shape] (undefined: unused)
  auto depth = getDynamicLayerStack().size();
  try {
    for (int64_t s = 0; s < N; s += c) {
      int64_t n = std::min(c, N - s);
      auto eye = at::eye(N, l.options()).narrow(0, s, n).contiguous();
      int64_t level = initAndPushDynamicLayer(TransformType::Vmap, c10::SymInt(n), RandomnessType::Error);
      std::vector<at::Tensor> gs;
      {
        auto go = addBatchDim(eye, 0, level);
        gs = torch::autograd::grad({l}, leaves, {go}, true, false, true);
        for (auto& g : gs) {
          if (!g.defined()) continue;
          const auto* b = maybeGetBatchedImpl(g);
          if (b && b->level() == level) {
            g = b->value().movedim(b->bdim(), 0);
          } else {
            auto sizes = g.sizes().vec();
            sizes.insert(sizes.begin(), n);
            g = g.unsqueeze(0).expand(sizes);
          }
        }
      }
      popDynamicLayerAndDeleteMetadata();
      parts.push_back(std::move(gs));
    }
  } catch (const std::exception&) {
    while (getDynamicLayerStack().size() > depth) popDynamicLayerAndDeleteMetadata();
    return false;
  }
  at::NoGradGuard ng;
  for (auto& gs : parts) {
    size_t k = 0;
    for (auto* prm : fb) {
      at::Tensor g;
      for (size_t i = 0; i < prm->leaves.size(); i++, k++) if (gs[k].defined()) g = g.defined() ? g.add(gs[k]) : gs[k];
      if (g.defined()) prm->acc.add_(g.square().sum(0), scale);
    }
  }
  return true;
}

int64_t step(Plan& p, const std::vector<c10::IValue>& inputs, const at::Tensor& y0, const StepOptions& o) {
  at::AutoGradMode gradOn(true);
  torch::jit::Stack st;
  st.push_back(p.module._ivalue());
  for (const auto& v : inputs) st.push_back(v);
  torch::jit::InterpreterState(*p.code).run(st);
  auto z = selectOutput(st[0], o.output);
  auto y = y0;
  if (o.shift) {
    if (z.dim() != 3 || y.dim() != 2 || z.size(1) < 2) {
      throw std::invalid_argument("[ShapeError] shift (causal LM) needs logits [N, T, C] and labels [N, T] with T >= 2; got " +
                                  c10::str(z.sizes()) + " and " + c10::str(y.sizes()));
    }
    z = z.narrow(1, 0, z.size(1) - 1);
    y = y.narrow(1, 1, y.size(1) - 1);
  }
  checkTargets(o, z, y);
  int64_t N = z.size(0);
  if (o.variant == "batched") {
    auto L = perSampleNll(o, z, y, {}).sum();
    std::vector<at::Tensor> leaves;
    for (auto& prm : p.params) for (auto& l : prm.leaves) leaves.push_back(l);
    auto gs = torch::autograd::grad({L}, leaves, {}, false, false, true);
    size_t k = 0;
    for (auto& prm : p.params) {
      at::Tensor g;
      for (size_t i = 0; i < prm.leaves.size(); i++, k++) if (gs[k].defined()) g = g.defined() ? g.add(gs[k]) : gs[k];
      if (g.defined()) prm.acc.add_(g.square());
    }
    return N;
  }
  auto terms = termsFor(o, z, y);
  Ran r = collectRan(p, st, N);
  auto& uv = r.uv;
  auto& ys = r.ys;
  auto& yUse = r.yUse;
  for (const auto& t : terms) {
    auto l = perSampleNll(o, z, t.target, t.weight);
    if (!ys.empty()) {
      auto deltas = torch::autograd::grad({l.sum()}, ys, {}, true, false, true);
      for (size_t j = 0; j < ys.size(); j++) uv[yUse[j]].delta = deltas[j];
    }
    for (size_t pi = 0; pi < p.params.size(); pi++) {
      auto& prm = p.params[pi];
      if (prm.fallback) continue;
      try {
        for (auto& [ui, role] : r.paramUses[pi]) if (uv[ui].delta.defined()) r.uses[ui]->rule->check(uv[ui]);
      } catch (const NotPerSample& e) {
        if (!o.allowFallback) throw std::invalid_argument(std::string("[OptionError] no fast path for parameter '") + prm.name + "': " + e.what());
        prm.fallback = true;
        prm.why = e.what();
        continue;
      }
      at::NoGradGuard ng;
      accumulateFast(prm, r.paramUses[pi], r.uses, uv, t.scale);
    }
    std::vector<Param*> fb;
    std::vector<at::Tensor> leaves;
    for (auto& prm : p.params) {
      if (!prm.fallback) continue;
      if (!o.allowFallback) throw std::invalid_argument("[OptionError] no fast path for parameter '" + prm.name + "': " + prm.why);
      fb.push_back(&prm);
      for (auto& lf : prm.leaves) leaves.push_back(lf);
    }
    if (fb.empty()) continue;
    if (batchedFallback(fb, leaves, l, N, t.scale)) {
      for (auto* prm : fb) if (prm->how.empty()) prm->how = "vmapped backward";
      continue;
    }
    for (auto* prm : fb) prm->how = "one backward per sample";
    for (int64_t n = 0; n < N; n++) {
      auto gs = torch::autograd::grad({l.select(0, n)}, leaves, {}, true, false, true);
      at::NoGradGuard ng;
      size_t k = 0;
      for (auto* prm : fb) {
        at::Tensor g;
        for (size_t i = 0; i < prm->leaves.size(); i++, k++) if (gs[k].defined()) g = g.defined() ? g.add(gs[k]) : gs[k];
        if (g.defined()) prm->acc.add_(g.square(), t.scale);
      }
    }
  }
  return N;
}

}  // namespace sq::fisher
