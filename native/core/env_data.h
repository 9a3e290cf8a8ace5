// State that belongs to one JavaScript environment (the main thread or one worker_thread), kept with
// napi_set_instance_data so that workers never share or race on it: the error classes of
// lib/errors (so native code throws TorchError, DTypeError, ... directly) and a flag that says the
// environment is shutting down (a terminated worker), which async completions check before touching JS.
#pragma once
#include "pch.h"
#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>

namespace sq {

struct EnvData {
  // Shared with async workers: still readable after the environment's data is gone.
  std::shared_ptr<std::atomic<bool>> alive = std::make_shared<std::atomic<bool>>(true);
  std::unordered_map<std::string, Napi::FunctionReference> errorClasses;
};

// This environment's data (created by initEnvData at module load).
EnvData& envData(Napi::Env env);
void initEnvData(Napi::Env env, Napi::Object exports);

// A JS error of lib/errors' class `cls` ("TorchError", "DTypeError", "OptionError", ...), built with
// (message) or, for TorchError, (message, op). Falls back to a plain Error before lib registered them.
Napi::Error typedError(Napi::Env env, const char* cls, const std::string& message, const std::string& op = "");

// libtorch's message as a user should read it: a TorchScript interpreter error's generic first line
// ("The following operation failed in the TorchScript interpreter.") is replaced by the real error
// line found further down, and the full text is kept after it.
std::string torchMessage(const std::string& what);

// The error a c10::Error (or another exception raised inside libtorch) becomes: a TorchError whose
// `op` names the operator when one was being called.
Napi::Error torchError(Napi::Env env, const std::string& what, const std::string& op = "");

}  // namespace sq
