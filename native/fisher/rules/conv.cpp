// aten::conv1d/conv2d/conv3d and aten::_convolution (what tracing records). Positions share the kernel, so
// each sample's gradient sums over them before squaring. One grouped-convolution backward gives a chunk's
// per-sample weight gradients at once (functorch's conv batching trick): fold the batch into channels,
// [1, n·C, ...] against [1, n·O, ...] with groups n·g. Transposed convolutions take the fallback.
#include "fisher/rule.h"

namespace sq::fisher {
namespace {

struct ConvArgs {
  std::vector<int64_t> stride, padding, dilation;
  int64_t groups;
};

class ConvRule : public Rule {
 public:
  explicit ConvRule(bool full) : full_(full) {}
  const char* role(const torch::jit::Node*, size_t i) const override {
    return i == 1 ? "weight" : i == 2 ? "bias" : nullptr;
  }
  void check(const UseValues& u) const override {
    args(u);
    const auto& x = u.in[0].toTensor();
    if (x.dim() != u.in[1].toTensor().dim()) throw NotPerSample("unbatched convolution input");
    samplesFirst(x, u, "convolution input");
    samplesFirst(u.delta, u, "convolution output gradient");
  }
  at::Tensor perSample(const UseValues& u, const std::string& role, int64_t s, int64_t n) const override {
    auto ds = u.delta.narrow(0, s, n);
    if (role == "bias") return ds.flatten(2).sum(2);
    ConvArgs a = args(u);
    const auto& w = u.in[1].toTensor();
    auto xs = u.in[0].toTensor().narrow(0, s, n);
    int64_t O = w.size(0);
    std::vector<int64_t> inShape{1, n * xs.size(1)}, outShape{1, n * O}, wShape{n * O}, one{1};
    for (int64_t i = 2; i < xs.dim(); i++) inShape.push_back(xs.size(i));
    for (int64_t i = 2; i < ds.dim(); i++) outShape.push_back(ds.size(i));
    for (int64_t i = 1; i < w.dim(); i++) { wShape.push_back(w.size(i)); one.push_back(w.size(i)); }
    // only the weight's shape is read: an expanded zero costs no memory
    auto wPlace = at::zeros(one, xs.options()).expand(wShape);
    std::vector<int64_t> outPad(w.dim() - 2, 0);
    auto r = at::convolution_backward(ds.reshape(outShape), xs.reshape(inShape), wPlace, std::nullopt, a.stride, a.padding,
                                      a.dilation, false, outPad, n * a.groups, {false, true, false});
    std::vector<int64_t> per{n};
    for (auto sz : w.sizes()) per.push_back(sz);
    return std::get<1>(r).reshape(per);
  }

 private:
  ConvArgs args(const UseValues& u) const {
    ConvArgs a;
    if (!full_ && u.in[4].isString()) throw NotPerSample("convolution with padding='" + u.in[4].toStringRef() + "'");
    a.stride = intList(u.in[3]);
    a.padding = intList(u.in[4]);
    a.dilation = intList(u.in[5]);
    if (full_) {
      if (u.in[6].toBool()) throw NotPerSample("transposed convolution");
      a.groups = u.in[8].toInt();
    } else {
      a.groups = u.in[6].toInt();
    }
    size_t k = u.in[1].toTensor().dim() - 2;
    auto expand = [k](std::vector<int64_t>& v) { if (v.size() == 1 && k > 1) v.assign(k, v[0]); };
    expand(a.stride); expand(a.padding); expand(a.dilation);
    return a;
  }
  bool full_;
};

const ConvRule plain(false), full(true);
const RegisterRule reg1({"aten::conv1d", "aten::conv2d", "aten::conv3d"}, &plain);
const RegisterRule reg2({"aten::_convolution"}, &full);

}  // namespace
}  // namespace sq::fisher
