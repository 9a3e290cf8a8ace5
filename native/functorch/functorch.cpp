// functorch's transform primitives, the same ones torch.func is written on in Python
// (torch/csrc/functorch/init.cpp): vmap and grad levels, batch dims and grad wrappers. The transforms
// themselves (vmap, grad, perSampleGrads) are composed from these in lib/func, with try/finally and a
// depth reset so a throwing model never leaves a layer on this thread's stack.
#include "core/common.h"
#include <ATen/functorch/BatchedFallback.h>
#include <ATen/functorch/BatchedTensorImpl.h>
#include <ATen/functorch/DynamicLayer.h>
#include <ATen/functorch/TensorWrapper.h>

namespace sq {
using namespace at::functorch;

static Napi::Value VmapIncrement(const Napi::CallbackInfo& info) {
  requireArgs(info, 2, "vmapIncrementNesting");
  int64_t batch = toInt64(info[0], "vmap: batch size");
  std::string r = info[1].As<Napi::String>().Utf8Value();
  RandomnessType rt = r == "same" ? RandomnessType::Same : r == "different" ? RandomnessType::Different : RandomnessType::Error;
  int64_t level = initAndPushDynamicLayer(TransformType::Vmap, c10::SymInt(batch), rt);
  return Napi::Number::New(info.Env(), static_cast<double>(level));
}

static Napi::Value GradIncrement(const Napi::CallbackInfo& info) {
  int64_t level = initAndPushDynamicLayer(TransformType::Grad, std::nullopt, std::nullopt, at::GradMode::is_enabled());
  return Napi::Number::New(info.Env(), static_cast<double>(level));
}

static Napi::Value DecrementNesting(const Napi::CallbackInfo& info) {
  auto layer = popDynamicLayerAndDeleteMetadata();
  return Napi::Number::New(info.Env(), static_cast<double>(layer.layerId()));
}

static Napi::Value Depth(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(getDynamicLayerStack().size()));
}

// Pops layers until the stack is `depth` deep: the last line of defence after an error.
static Napi::Value ResetDepth(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "resetDepth");
  size_t depth = static_cast<size_t>(toInt64(info[0], "depth"));
  while (getDynamicLayerStack().size() > depth) popDynamicLayerAndDeleteMetadata();
  return info.Env().Undefined();
}

static Napi::Value AddBatchDim(const Napi::CallbackInfo& info) {
  requireArgs(info, 3, "addBatchDim");
  return wrapTensor(info.Env(), addBatchDim(unwrapTensor(info[0]), toInt64(info[1], "dim"), toInt64(info[2], "level")));
}

// Mirrors torch._C._functorch._remove_batch_dim: unbatched results are expanded along out_dim.
static Napi::Value RemoveBatchDim(const Napi::CallbackInfo& info) {
  requireArgs(info, 4, "removeBatchDim");
  const at::Tensor& t = unwrapTensor(info[0]);
  int64_t level = toInt64(info[1], "level"), batch = toInt64(info[2], "batch size"), outDim = toInt64(info[3], "out dim");
  const auto* b = maybeGetBatchedImpl(t);
  if (!b || b->level() != level) {
    auto sizes = t.sizes().vec();
    sizes.insert(sizes.begin() + outDim, batch);
    return wrapTensor(info.Env(), t.expand(sizes));
  }
  return wrapTensor(info.Env(), b->value().movedim(b->bdim(), outDim));
}

static Napi::Value WrapForGrad(const Napi::CallbackInfo& info) {
  requireArgs(info, 2, "wrapForGrad");
  return wrapTensor(info.Env(), makeTensorWrapper(unwrapTensor(info[0]), toInt64(info[1], "level")));
}

static Napi::Value UnwrapForGrad(const Napi::CallbackInfo& info) {
  requireArgs(info, 2, "unwrapForGrad");
  const at::Tensor& t = unwrapTensor(info[0]);
  auto* w = maybeGetTensorWrapper(t);
  if (w && w->level().has_value() && *w->level() == toInt64(info[1], "level")) return wrapTensor(info.Env(), w->value());
  return wrapTensor(info.Env(), t);
}

static Napi::Value SetInplaceRequiresGradAllowed(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "setInplaceRequiresGradAllowed");
  bool prev = getInplaceRequiresGradAllowed();
  setInplaceRequiresGradAllowed(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), prev);
}

// The slow per-sample fallback for ops without a batching rule prints a warning per op; callers that
// know (e.g. a user loss built on nll_loss) can silence it. Returns the previous setting.
static Napi::Value SetVmapFallbackWarning(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "setVmapFallbackWarningEnabled");
  bool prev = isVmapFallbackWarningEnabled();
  setVmapFallbackWarningEnabled(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), prev);
}

void initFunctorch(Napi::Env env, Napi::Object exports) {
  SQ_EXPORT(exports, "vmapIncrementNesting", VmapIncrement);
  SQ_EXPORT(exports, "gradIncrementNesting", GradIncrement);
  SQ_EXPORT(exports, "decrementNesting", DecrementNesting);
  SQ_EXPORT(exports, "functorchDepth", Depth);
  SQ_EXPORT(exports, "functorchResetDepth", ResetDepth);
  SQ_EXPORT(exports, "addBatchDim", AddBatchDim);
  SQ_EXPORT(exports, "removeBatchDim", RemoveBatchDim);
  SQ_EXPORT(exports, "wrapForGrad", WrapForGrad);
  SQ_EXPORT(exports, "unwrapForGrad", UnwrapForGrad);
  SQ_EXPORT(exports, "setInplaceRequiresGradAllowed", SetInplaceRequiresGradAllowed);
  SQ_EXPORT(exports, "setVmapFallbackWarningEnabled", SetVmapFallbackWarning);
}

}  // namespace sq
