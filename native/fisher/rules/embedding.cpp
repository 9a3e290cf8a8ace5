// aten::embedding(weight, indices, padding_idx, scale_grad_by_freq, sparse): the gradient of row v for
// sample n is the sum of δ over the positions where sample n looks up v; the padding row gets none (as in
// PyTorch's embedding backward). One use: sum per (sample, row) pair, square, scatter by row (no dense
// per-sample tensor). Shared (a tied LM head): dense per-sample rows in chunks.
#include "fisher/rule.h"

namespace sq::fisher {
namespace {

class EmbeddingRule : public Rule {
 public:
  const char* role(const torch::jit::Node*, size_t i) const override { return i == 0 ? "weight" : nullptr; }
  int activation() const override { return 1; }
  void check(const UseValues& u) const override {
    if (u.in[3].toBool()) throw NotPerSample("embedding with scale_grad_by_freq");
    samplesFirst(u.in[1].toTensor(), u, "embedding indices");
    unambiguousSamples(u.in[1].toTensor(), u, u.in[1].toTensor().dim(), "embedding indices");
  }
  at::Tensor perSample(const UseValues& u, const std::string&, int64_t s, int64_t c) const override {
    auto [ix, dd] = flat(u);
    const auto& w = u.in[0].toTensor();
    int64_t V = w.size(0), D = w.size(1);
    ix = ix.narrow(0, s, c);
    dd = dd.narrow(0, s, c);
    auto out = at::zeros({c * V, D}, dd.options());
    auto keys = ix.add(at::arange(c, ix.options()).unsqueeze(1).mul(V)).flatten();
    out.index_add_(0, keys, dd.flatten(0, 1));
    return out.reshape({c, V, D});
  }
  at::Tensor sumSquares(const UseValues& u, const std::string&) const override {
    auto [ix, dd] = flat(u);
    const auto& w = u.in[0].toTensor();
    int64_t V = w.size(0), D = w.size(1), B = ix.size(0);
    auto acc = at::zeros({V, D}, dd.options());
    if (ix.size(1) == 1) return acc.index_add_(0, ix.flatten(), dd.flatten(0, 1).square());
    auto keys = ix.add(at::arange(B, ix.options()).unsqueeze(1).mul(V)).flatten();
    auto [uniq, inverse, counts] = at::_unique2(keys, true, true, false);
    auto sums = at::zeros({uniq.size(0), D}, dd.options()).index_add_(0, inverse.flatten(), dd.flatten(0, 1));
    return acc.index_add_(0, uniq.remainder(V), sums.square());
  }

 private:
  // indices [N, S] (int64) and δ [N, S, D] with padding positions zeroed
  std::pair<at::Tensor, at::Tensor> flat(const UseValues& u) const {
    const auto& w = u.in[0].toTensor();
    auto ix = samplesFirst(u.in[1].toTensor(), u, "embedding indices").to(at::kLong).reshape({u.N, -1});
    auto dd = u.delta.reshape({u.N, -1, w.size(1)});
    int64_t pad = u.in[2].toInt();
    if (pad >= 0) dd = dd.mul(ix.ne(pad).unsqueeze(2).to(dd.scalar_type()));
    return {ix, dd};
  }
};

const EmbeddingRule rule;
const RegisterRule reg({"aten::embedding"}, &rule);

}  // namespace
}  // namespace sq::fisher
