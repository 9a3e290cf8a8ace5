// A Linear in disguise: aten::matmul(x, W) / aten::mm(x, W) and aten::addmm(b, x, W) with a 2-D
// parameter W [in, out] on the right (Hugging Face's Conv1D in GPT-2: addmm(bias, x.view(-1, nx), W)).
// Per sample g_W = Σ_positions aᵀ δ ([in, out]), g_b = Σ_positions δ; addmm needs beta = alpha = 1.
#include "fisher/rule.h"

namespace sq::fisher {
namespace {

class MatmulRule : public Rule {
 public:
  explicit MatmulRule(bool addmm) : addmm_(addmm) {}
  const char* role(const torch::jit::Node*, size_t i) const override {
    if (addmm_) return i == 2 ? "weight_t" : i == 0 ? "bias" : nullptr;
    return i == 1 ? "weight_t" : nullptr;
  }
  int activation() const override { return addmm_ ? 1 : 0; }
  void check(const UseValues& u) const override {
    if (addmm_) {
      if (u.in[3].toScalar().toDouble() != 1.0 || u.in[4].toScalar().toDouble() != 1.0) throw NotPerSample("addmm with beta or alpha != 1");
      if (u.in[0].isTensor() && u.in[0].toTensor().dim() != 1) throw NotPerSample("addmm with a bias that is not 1-D");
    }
    const auto& w = u.in[addmm_ ? 2 : 1].toTensor();
    if (w.dim() != 2) throw NotPerSample("matmul against a parameter that is not 2-D");
    samplesBy3(input(u), u, "matmul input");
    samplesBy3(u.delta, u, "matmul output gradient");
  }
  at::Tensor perSample(const UseValues& u, const std::string& role, int64_t s, int64_t c) const override {
    auto d = samplesBy3(u.delta, u, "matmul output gradient").narrow(0, s, c);
    if (role == "bias") return d.sum(1);
    auto a = samplesBy3(input(u), u, "matmul input").narrow(0, s, c);
    return a.transpose(1, 2).bmm(d);  // [c, in, out]
  }
  at::Tensor sumSquares(const UseValues& u, const std::string& role) const override {
    auto a = samplesBy3(input(u), u, "matmul input");
    auto d = samplesBy3(u.delta, u, "matmul output gradient");
    if (a.size(1) != 1) return {};
    auto d2 = d.select(1, 0).square();
    if (role == "bias") return d2.sum(0);
    return a.select(1, 0).square().t().mm(d2);
  }

 private:
  const at::Tensor& input(const UseValues& u) const { return u.in[addmm_ ? 1 : 0].toTensor(); }
  bool addmm_;
};

const MatmulRule matmul(false), addmm(true);
const RegisterRule reg1({"aten::matmul", "aten::mm"}, &matmul);
const RegisterRule reg2({"aten::addmm"}, &addmm);

}  // namespace
}  // namespace sq::fisher
