// aten::layer_norm(input, normalized_shape, weight, bias, eps, cudnn): y = γ·x̂ + β, so per sample
// g_γ = Σ_positions δ·x̂ and g_β = Σ_positions δ; x̂ is recomputed from the captured input exactly as
// layer_norm normalises it (biased variance over the normalised dims).
#include "fisher/rule.h"

namespace sq::fisher {
namespace {

class LayerNormRule : public Rule {
 public:
  const char* role(const torch::jit::Node*, size_t i) const override {
    return i == 2 ? "weight" : i == 3 ? "bias" : nullptr;
  }
  void check(const UseValues& u) const override {
    const auto& x = u.in[0].toTensor();
    const auto normalized = static_cast<int64_t>(intList(u.in[1]).size());
    if (x.dim() <= normalized) throw NotPerSample("layer_norm of an unbatched input");
    samplesFirst(x, u, "layer_norm input");
    unambiguousSamples(x, u, x.dim() - normalized, "layer_norm input");
  }
  at::Tensor perSample(const UseValues& u, const std::string& role, int64_t s, int64_t c) const override {
    const auto& x0 = u.in[0].toTensor();
    int64_t nd = static_cast<int64_t>(intList(u.in[1]).size());
    std::vector<int64_t> shared, normDims;
    for (int64_t i = 1; i < x0.dim() - nd; i++) shared.push_back(i);
    for (int64_t i = x0.dim() - nd; i < x0.dim(); i++) normDims.push_back(i);
    auto red = [&](const at::Tensor& t) { return shared.empty() ? t : t.sum(shared); };
    auto d = u.delta.narrow(0, s, c);
    if (role == "bias") return red(d);
    auto x = x0.narrow(0, s, c);
    auto xhat = x.sub(x.mean(normDims, true)).mul(x.var(normDims, 0, true).add(u.in[4].toDouble()).rsqrt());
    return red(d.mul(xhat));
  }
};

const LayerNormRule rule;
const RegisterRule reg({"aten::layer_norm"}, &rule);

}  // namespace
}  // namespace sq::fisher
