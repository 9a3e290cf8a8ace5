// Autograd: gradient mode, requires_grad, .grad, backward and grad(). Grad mode is thread-local in
// libtorch, so JS toggles it on the JS thread and async workers inherit it via ThreadLocalState.
#include "core/common.h"

namespace sq {

static std::vector<at::Tensor> tensorList(const Napi::Value& v, const char* what, bool allowNull) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected an array of tensors");
  auto a = v.As<Napi::Array>();
  std::vector<at::Tensor> out;
  for (uint32_t i = 0; i < a.Length(); i++) {
    auto e = a.Get(i);
    if (allowNull && (e.IsNull() || e.IsUndefined())) out.emplace_back();
    else out.push_back(unwrapTensor(e, what));
  }
  return out;
}

static Napi::Value SetGradEnabled(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "setGradEnabled");
  bool prev = at::GradMode::is_enabled();
  at::GradMode::set_enabled(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), prev);
}

static Napi::Value IsGradEnabled(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled());
}

static Napi::Value SetRequiresGrad(const Napi::CallbackInfo& info) {
  requireArgs(info, 2, "setRequiresGrad");
  at::Tensor t = unwrapTensor(info[0]);
  checkWrite(info.Env(), t, "requiresGrad_");
  t.requires_grad_(info[1].ToBoolean().Value());
  return info.Env().Undefined();
}

static Napi::Value IsLeaf(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "isLeaf");
  return Napi::Boolean::New(info.Env(), unwrapTensor(info[0]).is_leaf());
}

static Napi::Value GetGrad(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "grad");
  const at::Tensor& g = unwrapTensor(info[0]).grad();
  return g.defined() ? wrapTensor(info.Env(), g) : info.Env().Null();
}

static Napi::Value SetGrad(const Napi::CallbackInfo& info) {
  requireArgs(info, 2, "setGrad");
  at::Tensor t = unwrapTensor(info[0]);
  checkWrite(info.Env(), t, "grad setter");
  if (info[1].IsNull() || info[1].IsUndefined()) t.mutable_grad().reset();
  else t.mutable_grad() = unwrapTensor(info[1], "setGrad: grad");
  return info.Env().Undefined();
}

// backward(tensors, gradTensors|null, retainGraph, createGraph)
static Napi::Value Backward(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "backward");
  auto outs = tensorList(info[0], "backward: tensors", false);
  std::vector<at::Tensor> grads;
  if (info.Length() > 1 && info[1].IsArray()) grads = tensorList(info[1], "backward: grad_tensors", true);
  std::optional<bool> retain;
  if (info.Length() > 2 && info[2].IsBoolean()) retain = info[2].As<Napi::Boolean>().Value();
  bool create = info.Length() > 3 && info[3].ToBoolean().Value();
  torch::autograd::backward(outs, grads, retain, create);
  return info.Env().Undefined();
}

// grad(outputs, inputs, gradOutputs|null, retainGraph, createGraph, allowUnused): unused inputs give null.
static Napi::Value Grad(const Napi::CallbackInfo& info) {
  requireArgs(info, 2, "grad");
  auto outs = tensorList(info[0], "grad: outputs", false);
  auto ins = tensorList(info[1], "grad: inputs", false);
  std::vector<at::Tensor> gouts;
  if (info.Length() > 2 && info[2].IsArray()) gouts = tensorList(info[2], "grad: grad_outputs", true);
  std::optional<bool> retain;
  if (info.Length() > 3 && info[3].IsBoolean()) retain = info[3].As<Napi::Boolean>().Value();
  bool create = info.Length() > 4 && info[4].ToBoolean().Value();
  bool allowUnused = info.Length() > 5 && info[5].ToBoolean().Value();
  auto res = torch::autograd::grad(outs, ins, gouts, retain, create, allowUnused);
  auto a = Napi::Array::New(info.Env(), res.size());
  for (size_t i = 0; i < res.size(); i++) {
    a.Set(static_cast<uint32_t>(i), res[i].defined() ? wrapTensor(info.Env(), res[i]) : info.Env().Null());
  }
  return a;
}

void initAutograd(Napi::Env env, Napi::Object exports) {
  SQ_EXPORT(exports, "setGradEnabled", SetGradEnabled);
  SQ_EXPORT(exports, "isGradEnabled", IsGradEnabled);
  SQ_EXPORT(exports, "setRequiresGrad", SetRequiresGrad);
  SQ_EXPORT(exports, "isLeaf", IsLeaf);
  SQ_EXPORT(exports, "getGrad", GetGrad);
  SQ_EXPORT(exports, "setGrad", SetGrad);
  SQ_EXPORT(exports, "backward", Backward);
  SQ_EXPORT(exports, "grad", Grad);
}

}  // namespace sq
