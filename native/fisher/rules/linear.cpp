// aten::linear(input, weight, bias): y = a Wᵀ + b. Per sample, g_W = Σ_positions δᵀ a ([out, in]) and
// g_b = Σ_positions δ. Without positions (a is [N, in]) and one use, Σ_n g_n² = (δ∘δ)ᵀ(a∘a) in one matmul
// (BackPACK's sum_grad_squared for Linear); otherwise per-sample gradients are formed in chunks (bmm).
#include "fisher/rule.h"

namespace sq::fisher {
namespace {

class LinearRule : public Rule {
 public:
  const char* role(const torch::jit::Node*, size_t i) const override {
    return i == 1 ? "weight" : i == 2 ? "bias" : nullptr;
  }
  void check(const UseValues& u) const override {
    samplesBy3(u.in[0].toTensor(), u, "linear input");
    samplesBy3(u.delta, u, "linear output gradient");
  }
  at::Tensor perSample(const UseValues& u, const std::string& role, int64_t s, int64_t c) const override {
    auto d = samplesBy3(u.delta, u, "linear output gradient").narrow(0, s, c);
    if (role == "bias") return d.sum(1);
    auto a = samplesBy3(u.in[0].toTensor(), u, "linear input").narrow(0, s, c);
    return d.transpose(1, 2).bmm(a);  // [c, out, in]
  }
  at::Tensor sumSquares(const UseValues& u, const std::string& role) const override {
    auto a = samplesBy3(u.in[0].toTensor(), u, "linear input");
    auto d = samplesBy3(u.delta, u, "linear output gradient");
    if (a.size(1) != 1) return {};
    auto d2 = d.select(1, 0).square();
    if (role == "bias") return d2.sum(0);
    return d2.t().mm(a.select(1, 0).square());
  }
};

const LinearRule rule;
const RegisterRule reg({"aten::linear"}, &rule);

}  // namespace
}  // namespace sq::fisher
