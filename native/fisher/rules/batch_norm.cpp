// aten::batch_norm in eval mode (running statistics): y = γ·x̂ + β with x̂ = (x - mean)/√(var + eps) per
// channel, so per sample g_γ = Σ_spatial δ·x̂, g_β = Σ_spatial δ. In training mode the batch statistics
// mix samples and per-sample gradients are undefined: the engine refuses that before accumulating.
#include "fisher/rule.h"

namespace sq::fisher {
namespace {

class BatchNormRule : public Rule {
 public:
  const char* role(const torch::jit::Node*, size_t i) const override {
    return i == 1 ? "weight" : i == 2 ? "bias" : nullptr;
  }
  void check(const UseValues& u) const override {
    if (u.in[5].toBool() || !u.in[3].isTensor() || !u.in[4].isTensor()) {
      throw std::invalid_argument(
          "batch_norm runs in training mode (batch statistics mix the samples, so per-sample gradients are undefined); "
          "call model.eval() first, or trace/script the model in eval mode");
    }
    samplesFirst(u.in[0].toTensor(), u, "batch_norm input");
  }
  at::Tensor perSample(const UseValues& u, const std::string& role, int64_t s, int64_t c) const override {
    auto d = u.delta.narrow(0, s, c);
    std::vector<int64_t> spatial;
    for (int64_t i = 2; i < d.dim(); i++) spatial.push_back(i);
    auto red = [&](const at::Tensor& t) { return spatial.empty() ? t : t.sum(spatial); };
    if (role == "bias") return red(d);
    auto x = u.in[0].toTensor().narrow(0, s, c);
    std::vector<int64_t> bshape(x.dim(), 1);
    bshape[1] = x.size(1);
    auto xhat = x.sub(u.in[3].toTensor().reshape(bshape)).mul(u.in[4].toTensor().add(u.in[7].toDouble()).rsqrt().reshape(bshape));
    return red(d.mul(xhat));
  }
};

const BatchNormRule rule;
const RegisterRule reg({"aten::batch_norm"}, &rule);

}  // namespace
}  // namespace sq::fisher
