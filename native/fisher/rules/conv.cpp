// aten::conv1d/conv2d/conv3d and aten::_convolution (what tracing records). Positions share the kernel, so
// each sample's gradient sums over them before squaring: g_n = δ_n · unfold(x_n)ᵀ, a [O/G, L] × [L, Cin/G·k]
// product per sample and group. 1-D and 2-D convolutions form it by im2col (a 1-D convolution is a 2-D one
// with height 1) and one batched matmul: on resnet18's shapes (CPU) that is ~7× faster than the grouped-
// convolution backward (functorch's conv batching trick: fold the batch into channels, [1, n·C, ...]
// against [1, n·O, ...] with groups n·g), whose weight-gradient kernel is slow for many small groups.
// ATen has no 3-D im2col, so 3-D convolutions keep that trick. Transposed convolutions take the fallback.
#include "fisher/rule.h"
#include <ATen/ops/im2col.h>

namespace sq::fisher {
namespace {

struct ConvArgs {
  std::vector<int64_t> stride, padding, dilation;
  int64_t groups;
};

// [n, *w] per-sample weight gradients by the grouped-convolution backward (any number of spatial dims).
at::Tensor groupedTrick(const at::Tensor& xs, const at::Tensor& ds, const at::Tensor& w, const ConvArgs& a) {
  int64_t n = xs.size(0), O = w.size(0);
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

// [n, *w] per-sample weight gradients of a 1-D or 2-D convolution by im2col + bmm, or undefined when the
// unfolded positions do not match δ's (then the caller uses the grouped trick).
at::Tensor unfoldBmm(at::Tensor xs, at::Tensor ds, const at::Tensor& w, const ConvArgs& a) {
  bool oneD = w.dim() == 3;
  std::vector<int64_t> k, st = a.stride, pad = a.padding, dil = a.dilation;
  if (oneD) {  // [n, C, L] as [n, C, 1, L]
    xs = xs.unsqueeze(2);
    ds = ds.unsqueeze(2);
    k = {1, w.size(2)};
    st.insert(st.begin(), 1);
    pad.insert(pad.begin(), 0);
    dil.insert(dil.begin(), 1);
  } else {
    k = {w.size(2), w.size(3)};
  }
  int64_t n = xs.size(0), C = xs.size(1), O = ds.size(1), G = a.groups, L = ds.size(2) * ds.size(3);
  if (G < 1 || C % G != 0 || O % G != 0 || O != w.size(0) || C / G != w.size(1)) return {};
  int64_t Kg = (C / G) * k[0] * k[1];
  auto dg = ds.reshape({n * G, O / G, L});  // [n·G, O/G, L]
  // the unfolded input is Cin·k·k·L per sample, often larger than the gradient (the stem of a CNN): it is
  // formed in slices of samples that keep it within the per-rule budget
  int64_t slice = chunkFor(C * k[0] * k[1] * L * xs.element_size(), n);
  auto out = at::empty({n * G, O / G, Kg}, ds.options());
  for (int64_t s = 0; s < n; s += slice) {
    int64_t m = std::min(slice, n - s);
    auto u = at::im2col(xs.narrow(0, s, m), k, dil, pad, st);  // [m, C·k·k, L'] (channel-major rows)
    if (u.size(2) != L) return {};
    // rows of group g are the contiguous block [g·Kg, (g+1)·Kg)
    auto ug = u.view({m * G, Kg, L}).transpose(1, 2);  // [m·G, L, Kg]
    auto o = out.narrow(0, s * G, m * G);
    at::bmm_out(o, dg.narrow(0, s * G, m * G), ug);
  }
  std::vector<int64_t> per{n};
  for (auto sz : w.sizes()) per.push_back(sz);
  return out.view(per);
}

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
    if ((w.dim() == 3 || w.dim() == 4)) {
      auto g = unfoldBmm(xs, ds, w, a);
      if (g.defined()) return g;
    }
    return groupedTrick(xs, ds, w, a);
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
