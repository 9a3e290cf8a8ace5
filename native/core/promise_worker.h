// The one shape of every async binding: run() on a libuv worker thread under the caller's thread-local
// state (grad mode etc.), with no N-API call there; libtorch and standard exceptions become a rejected
// Promise (message prefixed); result() converts on the JS thread; settled() runs on the JS thread
// however the work ended.
#pragma once
#include "core/common.h"

namespace sq {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  // Queues the worker (libuv deletes it when done) and returns its promise.
  static Napi::Promise start(PromiseWorker* w) {
    auto p = w->deferred_.Promise();
    w->Queue();
    return p;
  }

 protected:
  PromiseWorker(Napi::Env env, std::string errorPrefix)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), prefix_(std::move(errorPrefix)) {}
  virtual void run() = 0;
  virtual Napi::Value result(Napi::Env env) = 0;
  virtual void settled() {}

 private:
  void Execute() final {
    try {
      at::ThreadLocalStateGuard g(tls_);
      run();
    } catch (const c10::Error& e) {
      SetError(e.what_without_backtrace());
    } catch (const std::exception& e) {
      SetError(e.what());
    }
  }
  void OnOK() final {
    settled();
    try {
      deferred_.Resolve(result(Env()));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) final {
    settled();
    deferred_.Reject(Napi::Error::New(Env(), prefix_ + e.Message()).Value());
  }

  Napi::Promise::Deferred deferred_;
  std::string prefix_;
  at::ThreadLocalState tls_;
};

}  // namespace sq
