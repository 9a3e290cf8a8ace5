// aten::group_norm(input, num_groups, weight, bias, eps, cudnn): statistics per sample and group (no
// mixing across samples), y = γ·x̂ + β per channel, so per sample g_γ = Σ_spatial δ·x̂, g_β = Σ_spatial δ.
#include "fisher/rule.h"

namespace sq::fisher {
namespace {

class GroupNormRule : public Rule {
 public:
  const char* role(const torch::jit::Node*, size_t i) const override {
    return i == 2 ? "weight" : i == 3 ? "bias" : nullptr;
  }
  void check(const UseValues& u) const override { samplesFirst(u.in[0].toTensor(), u, "group_norm input"); }
  at::Tensor perSample(const UseValues& u, const std::string& role, int64_t s, int64_t c) const override {
    auto d = u.delta.narrow(0, s, c);
    std::vector<int64_t> spatial;
    for (int64_t i = 2; i < d.dim(); i++) spatial.push_back(i);
    auto red = [&](const at::Tensor& t) { return spatial.empty() ? t : t.sum(spatial); };
    if (role == "bias") return red(d);
    auto x = u.in[0].toTensor().narrow(0, s, c);
    int64_t G = u.in[1].toInt();
    auto g = x.reshape({c, G, -1});
    auto xhat = g.sub(g.mean({2}, true)).mul(g.var({2}, 0, true).add(u.in[4].toDouble()).rsqrt()).reshape(x.sizes());
    return red(d.mul(xhat));
  }
};

const GroupNormRule rule;
const RegisterRule reg({"aten::group_norm"}, &rule);

}  // namespace
}  // namespace sq::fisher
