// The engine's side of a position embedding broadcast over the batch: capture.cpp captured the output of
// the one aten::add/sub an embedding's output flows into; here, per batch, the shapes decide whether that
// output's gradient stands in for the embedding's per-sample δ (rules/embedding.cpp reads it).
#include "fisher/engine.h"

namespace sq::fisher {

// For an embedding captured with its broadcasting add/sub (capture.cpp) whose output has no batch dim
// while the consumer's has it first (position ids [1, T] or [T] against [N, T, D]): marks uv as taking δ
// from the consumer and returns the consumer's output. Undefined otherwise (δ then comes from the use's
// own output, as for every other use, and the reason is kept for the fallback message).
at::Tensor broadcastFrom(const Use& use, const torch::jit::Stack& st, const c10::IValue& out, int64_t N, UseValues& u) {
  if (use.consumerSlot < 0 || !out.isTensor() || !st[use.consumerSlot].isTensor()) return {};
  const auto& e = out.toTensor();
  const auto& c = st[use.consumerSlot].toTensor();
  bool noBatchDim = c.dim() >= 1 && c.size(0) == N &&
                    ((c.dim() == e.dim() + 1 && c.sizes().slice(1).equals(e.sizes())) ||
                     (c.dim() == e.dim() && e.size(0) == 1 && c.sizes().slice(1).equals(e.sizes().slice(1))));
  if (!noBatchDim) {
    u.noConsumer = "its output " + c10::str(e.sizes()) + " is not broadcast over the batch as [" + std::to_string(N) +
                   ", ...] by its consumer (output " + c10::str(c.sizes()) + ")";
    return {};
  }
  if (!c.requires_grad()) return {};
  double alpha = 1;
  if (use.alphaSlot >= 0) {
    const auto& a = st[use.alphaSlot];
    if (a.isInt()) alpha = static_cast<double>(a.toInt());
    else if (a.isDouble()) alpha = a.toDouble();
    else { u.noConsumer = "its consumer's alpha is a " + a.tagKind(); return {}; }
  }
  u.viaConsumer = true;
  u.factor = use.sign * alpha;
  u.output = e;
  return c;
}

}  // namespace sq::fisher
