// aten::mul (Tensor overload) with a parameter P as either operand, and aten::div with P as the numerator,
// broadcast against an activation x [N, ...]: LayerScale's `x * self.gamma`, a learned `x * self.scale`,
// `self.w / x`. The op is linear in P: sample n's gradient is δ_n∘x_n (δ_n/x_n for div) summed over P's
// broadcast dims. Only when P is shared by the samples (it does not vary along the output's dim 0);
// otherwise the exact fallback, as for div by a parameter (not linear in it) and the in-place mul_/div_
// (their output is the activation they overwrite, so the captured x would be x∘P).
#include "fisher/rule.h"

namespace sq::fisher {
namespace {

bool isTensor(const torch::jit::Value* v) { return static_cast<bool>(v->type()->cast<c10::TensorType>()); }

class MulRule : public Rule {
 public:
  explicit MulRule(bool div) : div_(div) {}
  const char* role(const torch::jit::Node* n, size_t i) const override {
    // mul.Tensor / div.Tensor(self, other) only (not div's rounding_mode overload); x must be an activation
    if (n->inputs().size() != 2 || i > (div_ ? 0u : 1u) || !isTensor(n->input(0)) || !isTensor(n->input(1))) return nullptr;
    if (n->input(1 - i)->node()->kind() == c10::prim::GetAttr) return nullptr;
    return i == 0 ? "self" : "other";
  }
  int activationOf(const torch::jit::Node* n) const override {
    // x is read back after the run: the engine copies it if a later node writes it in place
    return n->inputs().size() == 2 && n->input(0)->node()->kind() == c10::prim::GetAttr ? 1 : 0;
  }
  void checkRole(const UseValues& u, const std::string& role) const override {
    size_t pi = role == "self" ? 0 : 1;
    broadcastOverSamples(u.in[pi].toTensor(), u.in[1 - pi].toTensor(), u.delta, u, div_ ? "elementwise div" : "elementwise mul");
  }
  at::Tensor perSample(const UseValues& u, const std::string& role, int64_t s, int64_t c) const override {
    size_t pi = role == "self" ? 0 : 1;
    auto x = u.in[1 - pi].toTensor().narrow(0, s, c);
    auto d = u.delta.narrow(0, s, c);
    return sumToParam(div_ ? d.div(x) : d.mul(x), u.in[pi].toTensor().sizes());
  }

 private:
  bool div_;
};

const MulRule mul(false), div(true);
const RegisterRule regMul({"aten::mul"}, &mul);
const RegisterRule regDiv({"aten::div"}, &div);

}  // namespace
}  // namespace sq::fisher
