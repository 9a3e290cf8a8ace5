#include "core/common.h"
#include "core/live.h"

namespace sq {

const napi_type_tag kTensorTag = {0x5a5c1f2e9b3d4a71ULL, 0x8e0c6f4d2b1a9c35ULL};
const napi_type_tag kModuleTag = {0x1d2e3f4a5b6c7d8eULL, 0x9f0a1b2c3d4e5f60ULL};

static int64_t cpuStorageBytes(const at::Tensor& t) {
  // Wrapper tensors (functorch, sparse) have no storage of their own; only plain CPU storage counts.
  if (!t.defined() || !t.unsafeGetTensorImpl()->has_storage() || !t.is_cpu()) return 0;
  return static_cast<int64_t>(t.storage().nbytes());
}

Napi::Value wrapTensor(Napi::Env env, at::Tensor t) {
  auto* box = new TensorBox{std::move(t)};
  liveAdd(box->t);
  box->extBytes = cpuStorageBytes(box->t);
  if (box->extBytes) Napi::MemoryManagement::AdjustExternalMemory(env, box->extBytes);
  auto ext = Napi::External<TensorBox>::New(env, box, [](Napi::Env env, TensorBox* b) {
    if (b->extBytes) Napi::MemoryManagement::AdjustExternalMemory(env, -b->extBytes);
    liveRemove(b->t);
    delete b;
  });
  ext.TypeTag(&kTensorTag);
  return ext;
}

void disposeBox(Napi::Env env, TensorBox* box) {
  if (box->extBytes) Napi::MemoryManagement::AdjustExternalMemory(env, -box->extBytes);
  box->extBytes = 0;
  liveRemove(box->t);
  box->t.reset();
}

TensorBox* unwrapBox(const Napi::Value& v, const char* what) {
  if (!v.IsExternal() || !v.As<Napi::External<TensorBox>>().CheckTypeTag(&kTensorTag)) {
    throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a Tensor");
  }
  return v.As<Napi::External<TensorBox>>().Data();
}

const at::Tensor& unwrapTensor(const Napi::Value& v, const char* what) {
  TensorBox* box = unwrapBox(v, what);
  if (!box->t.defined()) throw Napi::Error::New(v.Env(), std::string(what) + ": the tensor was disposed");
  return box->t;
}

int64_t toInt64(const Napi::Value& v, const char* what) {
  if (v.IsBigInt()) {
    bool lossless = true;
    int64_t r = v.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(v.Env(), std::string(what) + ": BigInt out of int64 range");
    return r;
  }
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected an integer");
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d))) {
    throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected an integer, got " + std::to_string(d));
  }
  return static_cast<int64_t>(d);
}

std::vector<int64_t> toInt64Vector(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected an array of integers");
  auto a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out[i] = toInt64(a.Get(i), what);
  return out;
}

Napi::Array fromInt64Vector(Napi::Env env, c10::IntArrayRef v) {
  auto a = Napi::Array::New(env, v.size());
  for (size_t i = 0; i < v.size(); i++) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(v[i])));
  return a;
}

c10::ScalarType toScalarType(const Napi::Value& v, const char* what) {
  int64_t code = toInt64(v, what);
  if (code < 0 || code >= static_cast<int64_t>(c10::ScalarType::Undefined)) {
    throw typedError(v.Env(), "DTypeError", std::string(what) + ": unknown dtype code " + std::to_string(code));
  }
  return static_cast<c10::ScalarType>(code);
}

c10::Device toDevice(const Napi::Value& v, const char* what) {
  if (!v.IsString()) throw Napi::TypeError::New(v.Env(), std::string(what) + ": expected a device string such as 'cpu' or 'cuda:0'");
  std::string s = v.As<Napi::String>().Utf8Value();
  c10::Device d(s);  // throws c10::Error with a clear message for bad strings
  if (d.is_cuda() && !at::hasCUDA()) {
    throw Napi::Error::New(v.Env(), std::string(what) + ": device '" + s +
                                        "' requested but this libtorch has no CUDA support or no CUDA device is visible");
  }
  return d;
}

void requireArgs(const Napi::CallbackInfo& info, size_t n, const char* fn) {
  if (info.Length() < n) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": expected " + std::to_string(n) + " arguments, got " +
                                               std::to_string(info.Length()));
  }
}

}  // namespace sq
