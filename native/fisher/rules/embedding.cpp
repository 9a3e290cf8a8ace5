// aten::embedding(weight, indices, padding_idx, scale_grad_by_freq, sparse): the gradient of row v for
// sample n is the sum of δ over the positions where sample n looks up v; the padding row gets none (as in
// PyTorch's embedding backward). One use: sum per (sample, row) pair, square, scatter by row (no dense
// per-sample tensor). Shared (a tied LM head): dense per-sample rows in chunks.
// A position embedding looked up once for the whole batch (ids [1, T] or [T]) and broadcast over it by an
// add/sub has no per-sample output; the engine then hands us δ of that add/sub's output [N, T, D]
// (UseValues::viaConsumer): its row n times ∂(add)/∂(embedding) (1, alpha or -alpha) is sample n's δ of
// the embedding, looked up at the indices every sample shares.
#include "fisher/rule.h"

namespace sq::fisher {
namespace {

// Indices and per-sample δ with the padding positions zeroed: ix [N, S] (own lookups per sample) or [S]
// (one lookup shared by all samples), dd [N, S, D].
struct Lookup {
  at::Tensor ix, dd;
  bool shared = false;
};

class EmbeddingRule : public Rule {
 public:
  const char* role(const torch::jit::Node*, size_t i) const override { return i == 0 ? "weight" : nullptr; }
  int activation() const override { return 1; }
  void check(const UseValues& u) const override {
    if (u.in[3].toBool()) throw NotPerSample("embedding with scale_grad_by_freq");
    if (u.viaConsumer) {
      // the engine matched the shapes; the consumer's dim 0 is read as the samples, which is only known
      // while the batch size appears in no other leading dim
      unambiguousSamples(u.delta, u, u.delta.dim() - 1, "the add/sub broadcasting the embedding over the batch");
      return;
    }
    try {
      samplesFirst(u.in[1].toTensor(), u, "embedding indices");
    } catch (const NotPerSample& e) {
      if (u.noConsumer.empty()) throw;
      throw NotPerSample(std::string(e.what()) + ", and it is not broadcast over the batch by one add/sub: " + u.noConsumer);
    }
    unambiguousSamples(u.in[1].toTensor(), u, u.in[1].toTensor().dim(), "embedding indices");
    if (u.inputFreeIndices && u.in[1].toTensor().dim() == 1) {
      // positions [T] with T = N look exactly like per-sample ids [N]; ids that no input value reaches are
      // one lookup for the whole batch, so reading dim 0 as the samples would be a guess
      throw NotPerSample("embedding indices have shape " + c10::str(u.in[1].toTensor().sizes()) +
                         " but do not depend on the input's values (one lookup for the whole batch), so dim 0 is not known to be the batch" +
                         (u.noConsumer.empty() ? std::string() : ", and they are not broadcast over the batch by one add/sub: " + u.noConsumer));
    }
  }
  at::Tensor perSample(const UseValues& u, const std::string&, int64_t s, int64_t c) const override {
    auto l = lookup(u);
    const auto& w = u.in[0].toTensor();
    int64_t V = w.size(0), D = w.size(1);
    auto dd = l.dd.narrow(0, s, c);
    if (l.shared) return at::zeros({c, V, D}, dd.options()).index_add_(1, l.ix, dd);
    auto ix = l.ix.narrow(0, s, c);
    auto out = at::zeros({c * V, D}, dd.options());
    auto keys = ix.add(at::arange(c, ix.options()).unsqueeze(1).mul(V)).flatten();
    out.index_add_(0, keys, dd.flatten(0, 1));
    return out.reshape({c, V, D});
  }
  at::Tensor sumSquares(const UseValues& u, const std::string&) const override {
    auto [ix, dd, shared] = lookup(u);
    const auto& w = u.in[0].toTensor();
    int64_t V = w.size(0), D = w.size(1), B = dd.size(0);
    auto acc = at::zeros({V, D}, dd.options());
    if (shared) {
      // rows looked up at several positions sum per sample before squaring
      auto [uniq, inverse, counts] = at::_unique2(ix, true, true, false);
      auto sums = at::zeros({B, uniq.size(0), D}, dd.options()).index_add_(1, inverse.flatten(), dd);
      return acc.index_add_(0, uniq, sums.square().sum(0));
    }
    if (ix.size(1) == 1) return acc.index_add_(0, ix.flatten(), dd.flatten(0, 1).square());
    auto keys = ix.add(at::arange(B, ix.options()).unsqueeze(1).mul(V)).flatten();
    auto [uniq, inverse, counts] = at::_unique2(keys, true, true, false);
    auto sums = at::zeros({uniq.size(0), D}, dd.options()).index_add_(0, inverse.flatten(), dd.flatten(0, 1));
    return acc.index_add_(0, uniq.remainder(V), sums.square());
  }

 private:
  Lookup lookup(const UseValues& u) const {
    const auto& w = u.in[0].toTensor();
    int64_t pad = u.in[2].toInt();
    Lookup l;
    if (u.viaConsumer) {
      // ∂l_n/∂E = factor · δ_consumer[n] (E broadcast over dim 0), in E's dtype as autograd would give it
      l.shared = true;
      l.ix = u.in[1].toTensor().to(at::kLong).reshape({-1});
      l.dd = u.delta.reshape({u.N, l.ix.size(0), w.size(1)});
      if (u.factor != 1) l.dd = l.dd.mul(u.factor);
      l.dd = l.dd.to(u.output.scalar_type());
      if (pad >= 0) l.dd = l.dd.mul(l.ix.ne(pad).unsqueeze(1).to(l.dd.scalar_type()));
      return l;
    }
    l.ix = samplesFirst(u.in[1].toTensor(), u, "embedding indices").to(at::kLong).reshape({u.N, -1});
    l.dd = u.delta.reshape({u.N, -1, w.size(1)});
    if (pad >= 0) l.dd = l.dd.mul(l.ix.ne(pad).unsqueeze(2).to(l.dd.scalar_type()));
    return l;
  }
};

const EmbeddingRule rule;
const RegisterRule reg({"aten::embedding"}, &rule);

}  // namespace
}  // namespace sq::fisher
