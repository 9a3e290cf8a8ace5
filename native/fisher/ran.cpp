// The uses as they ran in one batch. A use outside control flow ran once; one inside an `if` body ran 0 or
// 1 times and one inside a loop body once per iteration (capture.cpp returns their values as lists), so
// each run is an instance with its own inputs and output, and a parameter's per-sample gradient sums
// over all instances of all its uses.
#include "fisher/engine.h"

namespace sq::fisher {

Ran collectRan(const Plan& p, const torch::jit::Stack& st, int64_t N) {
  Ran r;
  std::vector<std::vector<std::pair<size_t, std::string>>> byUse(p.uses.size());  // use -> (param, role)
  for (size_t pi = 0; pi < p.params.size(); pi++) {
    for (const auto& [ui, role] : p.params[pi].uses) byUse[ui].emplace_back(pi, role);
  }
  r.paramUses.resize(p.params.size());
  for (size_t i = 0; i < p.uses.size(); i++) {
    const Use& use = p.uses[i];
    size_t count = use.lifted ? st[use.outSlot].toListRef().size() : 1;
    for (size_t k = 0; k < count; k++) {
      auto value = [&](size_t slot, bool lifted) -> c10::IValue { return lifted ? st[slot].toListRef()[k] : st[slot]; };
      UseValues u;
      for (size_t j = 0; j < use.inSlots.size(); j++) u.in.push_back(value(use.inSlots[j], use.inLifted[j]));
      u.N = N;
      int act = use.act;
      if (use.sourceSlot >= 0 && act >= 0 && u.in[act].isTensor()) {
        auto src = value(use.sourceSlot, use.sourceLifted);
        if (src.isTensor()) {
          u.source = src.toTensor();
          const auto& s = *u.source;
          u.rowsBySample = s.dim() >= 2 && s.size(0) == N && !batchSizeRepeats(s, N, s.dim() - 1) && s.numel() == u.in[act].toTensor().numel();
        }
      }
      size_t at = r.uv.size();
      auto out = value(use.outSlot, use.lifted);
      u.noConsumer = use.noConsumer;
      u.inputFreeIndices = use.inputFreeIndices;
      u.fromInput = use.fromInput;
      if (auto c = use.lifted ? at::Tensor() : broadcastFrom(use, st, out, N, u); c.defined()) {
        r.ys.push_back(c);  // δ of the consumer: the broadcast embedding's per-sample δ (rules/embedding.cpp)
        u.fromInput = use.consumerFromInput;
        r.yUse.push_back(at);
      } else if (out.isTensor() && out.toTensor().requires_grad()) {
        r.ys.push_back(out.toTensor());
        r.yUse.push_back(at);
      }
      r.uses.push_back(&use);
      r.uv.push_back(std::move(u));
      for (const auto& [pi, role] : byUse[i]) r.paramUses[pi].emplace_back(at, role);
    }
  }
  return r;
}

}  // namespace sq::fisher
