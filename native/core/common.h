// Shared plumbing for every binding: the boxed tensor handle JS holds, and the guard that turns every
// C++/libtorch exception into a JavaScript Error (nothing may abort the process).
#pragma once
#include "pch.h"
#include "core/env_data.h"
#include "core/busy.h"
#include <string>
#include <vector>

namespace sq {

// A tensor as JS sees it: an External pointing at this box. dispose() resets `t`; the finalizer deletes
// the box. `extBytes` is what we told V8 about (CPU storage), so GC feels the memory pressure.
struct TensorBox {
  at::Tensor t;
  int64_t extBytes = 0;
};

// Type tags keep a module handle from being mistaken for a tensor handle (and vice versa).
extern const napi_type_tag kTensorTag;
extern const napi_type_tag kModuleTag;

Napi::Value wrapTensor(Napi::Env env, at::Tensor t);
// Throws a TypeError naming `what` when v is not a live tensor handle.
const at::Tensor& unwrapTensor(const Napi::Value& v, const char* what = "tensor");
TensorBox* unwrapBox(const Napi::Value& v, const char* what = "tensor");
void disposeBox(Napi::Env env, TensorBox* box);

std::vector<int64_t> toInt64Vector(const Napi::Value& v, const char* what);
Napi::Array fromInt64Vector(Napi::Env env, c10::IntArrayRef v);
int64_t toInt64(const Napi::Value& v, const char* what);
c10::ScalarType toScalarType(const Napi::Value& v, const char* what = "dtype");
c10::Device toDevice(const Napi::Value& v, const char* what = "device");

// Converts libtorch exceptions into TorchErrors with libtorch's own message, others into Errors.
template <typename F>
auto guarded(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw torchError(env, e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// Registers `fn` under `name` with the guard around it.
#define SQ_EXPORT(exports, name, fn)                                                              \
  exports.Set(name, Napi::Function::New(                                                          \
                        exports.Env(),                                                            \
                        [](const Napi::CallbackInfo& info) -> Napi::Value {                       \
                          return ::sq::guarded(info.Env(), [&]() -> Napi::Value { return fn(info); }); \
                        },                                                                        \
                        name))

// Argument helpers that name what was wrong.
void requireArgs(const Napi::CallbackInfo& info, size_t n, const char* fn);

// Module registration entry points (one per concept folder).
void initTensor(Napi::Env env, Napi::Object exports);
void initFile(Napi::Env env, Napi::Object exports);
void initOps(Napi::Env env, Napi::Object exports);
void initAutograd(Napi::Env env, Napi::Object exports);
void initFunctorch(Napi::Env env, Napi::Object exports);
void initJit(Napi::Env env, Napi::Object exports);
void initDevice(Napi::Env env, Napi::Object exports);

}  // namespace sq
