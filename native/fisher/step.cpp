// One batch of the graph-level engine: one interpreter run of the rewritten forward, then the backward to
// every captured use output (δ), and the rules turn (inputs, δ) into Σ_n g_n² per Fisher term. Several
// terms (exact: one per class or output; mc: one per sampled label set) share ONE backward per chunk of
// terms: their ∂loss/∂z are written out (loss.cpp's termGrads) and stacked on a leading term axis, which
// functorch's vmap carries through the backward (one backward per term where it cannot). A
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

// Whether t is the only handle on its memory: its tensor object is held only by the caller and its storage
// only by it, or, for a view (views made under no_grad still keep their base alive), only by it and its
// base, which nothing else holds. Dense (no expanded dims), so an in-place op writes each element once.
static bool ownsMemory(const at::Tensor& t) {
  if (t.use_count() != 1 || !t.has_storage() || !t.is_non_overlapping_and_dense()) return false;
  if (!t.is_view()) return t.storage().use_count() == 1;
  return t._base().use_count() == 1 && t.storage().use_count() == 2;
}

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
  // chunks of a quarter of the per-rule budget (16 MiB): on resnet18 they ran as fast as 32 MiB ones (64 MiB
  // and more ran slower: cache) and lowered the peak by ~20 MiB; the square is in place (below) where it can be
  int64_t c = chunkFor(p.acc.numel() * p.acc.element_size() * 4, N);
  std::vector<int64_t> shape{0};
  for (auto s : p.acc.sizes()) shape.push_back(s);
  for (int64_t s = 0; s < N; s += c) {
    int64_t n = std::min(c, N - s);
    shape[0] = n;
    at::Tensor g;
    for (auto& [ui, role] : live) {
      auto gi = uses[ui]->rule->perSample(uv[ui], role, s, n).reshape(shape);
      g = g.defined() ? g.add(gi) : std::move(gi);  // moved: a second handle would count as another user below
    }
    // Squaring in place saves a chunk-sized buffer and a pass over memory (the step is memory-bound), but
    // only where nothing else can see g's memory: a rule may return a view of a captured tensor (a linear
    // bias's per-sample gradient is δ itself when there are no positions), which other parameters read.
    bool own = ownsMemory(g);
    p.acc.add_((own ? g.square_() : g.square()).sum(0), scale);
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

// The δ of a chunk of terms: ONE backward from z with output gradients G [count, *z.shape] batched by
// functorch's vmap, each δ returned as [count, *output shape] (undefined: the output does not reach z).
// False (and why) when functorch cannot batch some backward op; nothing is kept then.
static bool vmappedDeltas(const at::Tensor& z, const at::Tensor& G, const std::vector<at::Tensor>& ys, std::vector<at::Tensor>& out, std::string& why) {
  using namespace at::functorch;
  int64_t n = G.size(0);
  auto depth = getDynamicLayerStack().size();
  try {
    int64_t level = initAndPushDynamicLayer(TransformType::Vmap, c10::SymInt(n), RandomnessType::Error);
    auto ds = torch::autograd::grad({z}, ys, {addBatchDim(G, 0, level)}, true, false, true);
    for (auto& d : ds) {
      if (!d.defined()) continue;
      const auto* b = maybeGetBatchedImpl(d);
      if (b && b->level() == level) {
        d = b->value().movedim(b->bdim(), 0);
      } else {  // the same for every term
        auto sizes = d.sizes().vec();
        sizes.insert(sizes.begin(), n);
        d = d.unsqueeze(0).expand(sizes);
      }
    }
    popDynamicLayerAndDeleteMetadata();
    out = std::move(ds);
    return true;
  } catch (const std::exception& e) {
    while (getDynamicLayerStack().size() > depth) popDynamicLayerAndDeleteMetadata();
    why = e.what();
    why = why.substr(0, why.find('\n'));  // c10 errors append a C++ trace
    return false;
  }
}

// Why a use whose activation is not computed from the forward's inputs cannot be split per sample.
static std::string notFromInput(const Use& use, const UseValues& u) {
  const char* what = use.kind == "aten::embedding" ? "indices" : "input";
  std::string s = use.kind + " " + what + " is computed from parameters, buffers and constants alone, or from one sample of an input (x[i]), " +
                  "not from the model's input batch, so it holds no samples whatever its shape";
  if (u.viaConsumer) return use.kind + " is broadcast by an add/sub whose output is not computed from the model's input";
  if (!u.noConsumer.empty()) s += ", and it is not broadcast over the batch by one add/sub: " + u.noConsumer;
  return s;
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
  // One term's accumulation, once uv holds its δ: the fast parameters by their rules, the fallback ones
  // from the term's per-sample loss vector (built only when some parameter needs it).
  auto accumulateTerm = [&](const Term& t) {
    for (size_t pi = 0; pi < p.params.size(); pi++) {
      auto& prm = p.params[pi];
      if (prm.fallback) continue;
      try {
        for (auto& [ui, role] : r.paramUses[pi]) {
          if (!uv[ui].delta.defined()) continue;
          r.uses[ui]->rule->checkRole(uv[ui], role);  // the shapes first: their reason is the plainer one
          // shapes that pass by coincidence (a first dim equal to the batch size) in a value without samples
          if (!uv[ui].fromInput) throw NotPerSample(notFromInput(*r.uses[ui], uv[ui]));
        }
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
    if (fb.empty()) return;
    auto l = perSampleNll(o, z, t.target, t.weight);
    if (batchedFallback(fb, leaves, l, N, t.scale)) {
      for (auto* prm : fb) if (prm->how.empty()) prm->how = "vmapped backward";
      return;
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
  };
  int64_t K = static_cast<int64_t>(terms.size()), done = 0;
  // The term axis: chunks of terms bounded by memory (each term holds a δ per captured output and a ∂z).
  int64_t bytes = z.numel() * z.element_size();
  for (const auto& t : ys) bytes += t.numel() * t.element_size();
  int64_t kc = o.termsPerBackward > 0 ? std::min(o.termsPerBackward, K) : chunkFor(bytes, K);
  if (K > 1 && o.termsPerBackward == 1) p.perTermWhy = "asked for";
  else if (K > 1 && kc == 1) {
    p.perTermWhy = "two terms' output gradients (2 x " + std::to_string(bytes >> 20) + " MiB) exceed the memory budget; termsPerBackward overrides it";
  }
  if (K > 1 && kc > 1 && !ys.empty() && z.requires_grad()) {
    for (; done < K; done += kc) {
      int64_t n = std::min(kc, K - done);
      std::vector<at::Tensor> ds;
      std::string why;
      if (!vmappedDeltas(z, termGrads(o, z, terms, done, n), ys, ds, why)) {  // the rest one by one
        p.perTermWhy = "functorch could not batch the backward: " + why;
        break;
      }
      p.backwards++;
      p.vmappedBackwards++;
      for (int64_t j = 0; j < n; j++) {
        for (size_t i = 0; i < ys.size(); i++) uv[yUse[i]].delta = ds[i].defined() ? ds[i].select(0, j) : at::Tensor();
        accumulateTerm(terms[done + j]);
      }
    }
  }
  for (; done < K; done++) {
    const auto& t = terms[done];
    if (!ys.empty()) {
      auto l = perSampleNll(o, z, t.target, t.weight);
      auto deltas = torch::autograd::grad({l.sum()}, ys, {}, true, false, true);
      for (size_t j = 0; j < ys.size(); j++) uv[yUse[j]].delta = deltas[j];
      p.backwards++;
      if (K > 1) p.perTermBackwards++;
    }
    accumulateTerm(t);
  }
  return N;
}

}  // namespace sq::fisher
