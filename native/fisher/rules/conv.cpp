// aten::conv1d/conv2d/conv3d and aten::_convolution (what tracing records). Positions share the kernel, so
// each sample's gradient sums over them before squaring: g_n = δ_n · unfold(x_n)ᵀ, a [O/G, L] × [L, Cin/G·k]
// product per sample and group. 1-D and 2-D convolutions with small output maps or few channels
// (kMinPositionsForGrouped, kMinChannelsForGrouped) form it by im2col (a 1-D convolution is a 2-D one with
// height 1) and one batched matmul, much faster there than the grouped-convolution backward (functorch's
// conv batching trick:
// fold the batch into channels, [1, n·C, ...] against [1, n·O, ...] with groups n·g), which large maps of
// many channels and 3-D convolutions (ATen has no 3-D im2col) keep. A weight used once with an output map of
// at most kMaxPositionsForPairs positions (a ResNet's last stages) gets Σ_n g_n² in one matmul over
// position pairs instead (pairsSumSquares). Transposed convolutions take the fallback.
#include "fisher/rule.h"
#include <ATen/ops/im2col.h>
#include <optional>

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

// A 1-D or 2-D convolution's input and δ as im2col sees them: a 1-D convolution is a 2-D one of height 1.
struct Unfold {
  at::Tensor x, d;  // [n, C, H, W], [n, O, H', W']
  std::vector<int64_t> k, stride, padding, dilation;
  int64_t C = 0, O = 0, G = 1, L = 0;
  // [m, C·k·k, L] (channel-major rows) for samples [s, s+m), or undefined when its positions are not δ's
  at::Tensor cols(int64_t s, int64_t m) const {
    auto u = at::im2col(x.narrow(0, s, m), k, dilation, padding, stride);
    return u.size(2) == L ? u : at::Tensor();
  }
};

std::optional<Unfold> unfoldOf(const at::Tensor& xs, const at::Tensor& ds, const at::Tensor& w, const ConvArgs& a) {
  if (w.dim() != 3 && w.dim() != 4) return std::nullopt;  // ATen has no 3-D im2col
  Unfold f{xs, ds, {}, a.stride, a.padding, a.dilation};
  if (w.dim() == 3) {
    f.x = xs.unsqueeze(2);
    f.d = ds.unsqueeze(2);
    f.k = {1, w.size(2)};
    f.stride.insert(f.stride.begin(), 1);
    f.padding.insert(f.padding.begin(), 0);
    f.dilation.insert(f.dilation.begin(), 1);
  } else {
    f.k = {w.size(2), w.size(3)};
  }
  f.C = f.x.size(1);
  f.O = f.d.size(1);
  f.G = a.groups;
  f.L = f.d.size(2) * f.d.size(3);
  if (f.G < 1 || f.C % f.G != 0 || f.O % f.G != 0 || f.O != w.size(0) || f.C / f.G != w.size(1)) return std::nullopt;
  return f;
}

// [n, *w] per-sample weight gradients by im2col + bmm, or undefined (then the caller uses the grouped
// trick). The unfolded input is Cin·k·k·L per sample, often larger than the gradient (the stem of a CNN):
// it is formed in slices of samples that keep it within an eighth of the per-rule budget (8 MiB: on the
// Sequential CNN, B=256, one 29 MiB slice raised the peak by 17 MiB over the grouped trick's).
at::Tensor unfoldBmm(const Unfold& f, const at::Tensor& w) {
  int64_t n = f.x.size(0), G = f.G, L = f.L, Kg = w.numel() / w.size(0);
  auto dg = f.d.reshape({n * G, f.O / G, L});  // [n·G, O/G, L]
  int64_t slice = chunkFor(8 * f.C * f.k[0] * f.k[1] * L * f.x.element_size(), n);
  auto out = at::empty({n * G, f.O / G, Kg}, f.d.options());
  for (int64_t s = 0; s < n; s += slice) {
    int64_t m = std::min(slice, n - s);
    auto u = f.cols(s, m);
    if (!u.defined()) return {};
    // rows of group g are the contiguous block [g·Kg, (g+1)·Kg)
    auto ug = u.view({m * G, Kg, L}).transpose(1, 2);  // [m·G, L, Kg]
    auto o = out.narrow(0, s * G, m * G);
    at::bmm_out(o, dg.narrow(0, s * G, m * G), ug);
  }
  std::vector<int64_t> per{n};
  for (auto sz : w.sizes()) per.push_back(sz);
  return out.view(per);
}

// Output maps of at least this many positions, with at least this many input channels per group, keep the
// grouped-convolution backward: oneDNN's grouped weight gradient does well when each group has a large map
// and enough channels, im2col + bmm when maps are small (deep layers) or channels few (a stem; a grouped
// oneDNN pass over 3-channel groups also pads them, ~35 MiB more peak on resnet18). CPU time of a whole
// Fisher pass (2 threads, interleaved, median of 7-15) with im2col everywhere / grouped for large maps / this
// rule: Sequential CNN (maps of 784 and 196 positions, 1 and 16 input channels) 106 / 93 / 91 ms; resnet18 at
// 64×64 (maps of 1024 positions with 3 channels, 256 with 64, then 64, 16, 4) 617 / 613 / 588 ms.
constexpr int64_t kMinPositionsForGrouped = 128;
constexpr int64_t kMinChannelsForGrouped = 8;

// Output maps of at most this many positions take the pairs form of Σ_n g_n² (sumSquares).
constexpr int64_t kMaxPositionsForPairs = 4;

// Σ_n g_n² without forming g_n, for small output maps (a ResNet's last stages: 2×2, 1×1). With g_n = D_n U_nᵀ
// (D_n [O, L], U_n [K, L]), g_n[o,k]² = Σ_{l≤l'} c_{ll'} D[o,l]D[o,l'] · U[k,l]U[k,l'] (c = 1 on the
// diagonal, 2 off it), so Σ_n g_n² is ONE matmul [O, n·pairs] × [n·pairs, K]. That is L(L+1)/2 multiply-adds
// per weight and sample, where the per-sample route does L plus writing, squaring and summing n weight-sized
// tensors (bound by memory bandwidth); past a few positions the pairs cost more.
at::Tensor pairsSumSquares(const Unfold& f, const at::Tensor& w) {
  int64_t n = f.x.size(0), L = f.L, O = f.O, K = w.numel() / O;
  auto iu = at::triu_indices(L, L, 0, at::TensorOptions().dtype(at::kLong).device(f.d.device()));
  auto i = iu[0], j = iu[1];
  int64_t pairs = i.size(0);
  auto c = at::where(i.eq(j), 1.0, 2.0).to(f.d.scalar_type());
  auto d = f.d.reshape({n, O, L});
  auto acc = at::zeros({O, K}, f.d.options());
  int64_t slice = chunkFor((f.C * f.k[0] * f.k[1] * L + (K + O) * pairs) * f.x.element_size(), n);
  for (int64_t s = 0; s < n; s += slice) {
    int64_t m = std::min(slice, n - s);
    auto u = f.cols(s, m);
    if (!u.defined()) return {};
    auto ds = d.narrow(0, s, m);
    auto P = ds.index_select(2, i).mul_(ds.index_select(2, j)).mul_(c);  // [m, O, pairs]
    auto Q = u.index_select(2, i).mul_(u.index_select(2, j));            // [m, K, pairs]
    acc.addmm_(P.permute({1, 0, 2}).reshape({O, m * pairs}), Q.permute({0, 2, 1}).reshape({m * pairs, K}));
  }
  return acc;
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
    auto f = unfoldOf(xs, ds, w, a);
    if (f && (f->L < kMinPositionsForGrouped || f->C / f->G < kMinChannelsForGrouped)) {
      auto g = unfoldBmm(*f, w);
      if (g.defined()) return g;
    }
    return groupedTrick(xs, ds, w, a);
  }
  at::Tensor sumSquares(const UseValues& u, const std::string& role) const override {
    if (role != "weight") return {};
    ConvArgs a = args(u);
    const auto& w = u.in[1].toTensor();
    auto f = unfoldOf(u.in[0].toTensor(), u.delta, w, a);
    if (!f || f->G != 1 || f->L > kMaxPositionsForPairs) return {};
    return pairsSumSquares(*f, w);
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
