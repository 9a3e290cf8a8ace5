// The one shape of every async binding: run() on a libuv worker thread under the caller's thread-local
// state (grad mode etc.), with no N-API call there; libtorch errors become a rejected Promise holding a
// TorchError (other exceptions a plain Error, message prefixed); result() converts on the JS thread;
// settled() runs on the JS thread however the work ended.
// Written on napi_async_work directly (not Napi::AsyncWorker) so that completion is safe when the
// environment is going away (worker.terminate() with work in flight): then nothing touches JS, no
// exception escapes, and the worker is still deleted (subclasses release what they hold in their
// destructors).
#pragma once
#include "core/common.h"

namespace sq {

class PromiseWorker {
 public:
  // Queues the worker (it deletes itself when done) and returns its promise.
  static Napi::Promise start(PromiseWorker* w) {
    napi_env env = w->env_;
    if (napi_queue_async_work(env, w->work_) != napi_ok) {
      delete w;
      throw Napi::Error::New(Napi::Env(env), "could not queue async work");
    }
    return Napi::Promise(w->env_, w->promise_);
  }
  virtual ~PromiseWorker() {
    if (work_) napi_delete_async_work(env_, work_);
  }

 protected:
  // errorPrefix ("allReduce: "): put before non-libtorch error messages. op: TorchError.op for libtorch
  // errors (whose message is libtorch's own, unprefixed); by default the prefix without its ": ".
  PromiseWorker(Napi::Env env, std::string errorPrefix, std::string op = "")
      : env_(env), prefix_(std::move(errorPrefix)), op_(std::move(op)), alive_(envData(env).alive) {
    if (op_.empty()) {
      op_ = prefix_;
      while (!op_.empty() && (op_.back() == ' ' || op_.back() == ':')) op_.pop_back();
    }
    NAPI_THROW_IF_FAILED_VOID(env_, napi_create_promise(env_, &deferred_, &promise_));
    napi_value name;
    NAPI_THROW_IF_FAILED_VOID(env_, napi_create_string_utf8(env_, "squisher", NAPI_AUTO_LENGTH, &name));
    NAPI_THROW_IF_FAILED_VOID(env_, napi_create_async_work(env_, nullptr, name, &PromiseWorker::execute, &PromiseWorker::complete, this, &work_));
  }
  virtual void run() = 0;
  virtual Napi::Value result(Napi::Env env) = 0;
  virtual void settled() {}
  // TorchScript raises std::runtime_error subclasses for errors inside a scripted model: count them as
  // libtorch errors too.
  bool stdExceptionsAreTorch_ = false;

 private:
  static void execute(napi_env, void* data) {
    auto* w = static_cast<PromiseWorker*>(data);
    try {
      at::ThreadLocalStateGuard g(w->tls_);
      w->run();
    } catch (const c10::Error& e) {
      w->error_ = e.what_without_backtrace();
      w->torch_ = true;
    } catch (const std::exception& e) {
      w->error_ = e.what();
      w->torch_ = w->stdExceptionsAreTorch_;
    } catch (...) {
      w->error_ = "unknown native exception";
    }
    w->failed_ = !w->error_.empty() || w->failed_;
  }

  static void complete(napi_env env, napi_status status, void* data) {
    std::unique_ptr<PromiseWorker> w(static_cast<PromiseWorker*>(data));
    try {
      w->settled();
    } catch (...) {
    }
    // A terminating environment cannot run JS: leave the promise unsettled, only free what we hold.
    if (status == napi_cancelled || !w->alive_->load()) return;
    try {
      Napi::HandleScope scope(env);
      napi_value v;
      if (!w->failed_) {
        try {
          v = w->result(Napi::Env(env));
        } catch (const Napi::Error& e) {
          napi_reject_deferred(env, w->deferred_, e.Value());
          return;
        }
        napi_resolve_deferred(env, w->deferred_, v);
      } else {
        Napi::Error e = w->torch_ ? torchError(Napi::Env(env), w->error_, w->op_)
                                  : Napi::Error::New(Napi::Env(env), w->prefix_ + w->error_);
        napi_reject_deferred(env, w->deferred_, e.Value());
      }
    } catch (...) {
      // The environment started shutting down under us; there is no one left to tell.
    }
  }

  napi_env env_;
  napi_async_work work_ = nullptr;
  napi_deferred deferred_ = nullptr;
  napi_value promise_ = nullptr;
  std::string prefix_, op_, error_;
  bool torch_ = false, failed_ = false;
  at::ThreadLocalState tls_;
  std::shared_ptr<std::atomic<bool>> alive_;
};

}  // namespace sq
