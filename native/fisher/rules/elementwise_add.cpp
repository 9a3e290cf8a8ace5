// aten::add / aten::sub (Tensor overloads: self ± alpha·other) with a parameter P as either operand,
// broadcast against an activation [N, ...]: timm ViT's `x + self.pos_embed`, `x - self.mean`, a [C, 1, 1]
// bias added to a conv output. ∂out/∂P is ±1 or ±alpha at every position P is broadcast to, so sample n's
// gradient is δ_n summed over P's broadcast dims, times that factor. Only when P is shared by the samples
// (it does not vary along the output's dim 0); otherwise the exact fallback. In-place add_/sub_ have no
// rule (the fallback): their output is the activation they overwrite.
#include "fisher/rule.h"

namespace sq::fisher {
namespace {

bool isTensor(const torch::jit::Value* v) { return static_cast<bool>(v->type()->cast<c10::TensorType>()); }

class AddRule : public Rule {
 public:
  const char* role(const torch::jit::Node* n, size_t i) const override {
    // add.Tensor(self, other, alpha) only; the other operand must be an activation, not another attribute
    if (n->inputs().size() != 3 || i > 1 || !isTensor(n->input(0)) || !isTensor(n->input(1))) return nullptr;
    if (n->input(1 - i)->node()->kind() == c10::prim::GetAttr) return nullptr;
    return i == 0 ? "self" : "other";
  }
  int activationOf(const torch::jit::Node* n) const override {
    return n->inputs().size() == 3 && n->input(0)->node()->kind() == c10::prim::GetAttr ? 1 : 0;
  }
  void checkRole(const UseValues& u, const std::string& role) const override {
    size_t pi = role == "self" ? 0 : 1;
    broadcastOverSamples(u.in[pi].toTensor(), u.in[1 - pi].toTensor(), u.delta, u, "elementwise add/sub");
  }
  at::Tensor perSample(const UseValues& u, const std::string& role, int64_t s, int64_t c) const override {
    size_t pi = role == "self" ? 0 : 1;
    auto g = sumToParam(u.delta.narrow(0, s, c), u.in[pi].toTensor().sizes());
    double f = role == "self" ? 1.0 : sign_ * u.in[2].toScalar().toDouble();
    return f == 1.0 ? g : g.mul(f);
  }
  explicit AddRule(double sign) : sign_(sign) {}

 private:
  double sign_;  // +1 for add, -1 for sub (other enters as -alpha·other)
};

const AddRule add(1), sub(-1);
const RegisterRule regAdd({"aten::add"}, &add);
const RegisterRule regSub({"aten::sub"}, &sub);

}  // namespace
}  // namespace sq::fisher
