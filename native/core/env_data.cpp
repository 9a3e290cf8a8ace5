#include "core/env_data.h"
#include <cstring>
#include <vector>

namespace sq {

EnvData& envData(Napi::Env env) {
  auto* d = env.GetInstanceData<EnvData>();
  if (!d) {
    d = new EnvData();
    env.SetInstanceData<EnvData>(d);  // node-addon-api deletes it when the environment goes away
  }
  return *d;
}

// setErrorClasses({ TorchError, DTypeError, ... }): called once per environment by lib/native.ts.
static Napi::Value SetErrorClasses(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "setErrorClasses: expected an object of classes");
  auto& d = envData(info.Env());
  auto o = info[0].As<Napi::Object>();
  auto keys = o.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); i++) {
    std::string k = keys.Get(i).As<Napi::String>().Utf8Value();
    auto v = o.Get(k);
    if (v.IsFunction()) d.errorClasses[k] = Napi::Persistent(v.As<Napi::Function>());
  }
  return info.Env().Undefined();
}

void initEnvData(Napi::Env env, Napi::Object exports) {
  auto& d = envData(env);
  // Runs when the environment starts tearing down (worker.terminate(), process exit), before its
  // instance data is deleted: async work that completes after this must not call into JS.
  auto* flag = new std::shared_ptr<std::atomic<bool>>(d.alive);
  napi_add_env_cleanup_hook(
      env,
      [](void* p) {
        auto* f = static_cast<std::shared_ptr<std::atomic<bool>>*>(p);
        (*f)->store(false);
        delete f;
      },
      flag);
  exports.Set("setErrorClasses", Napi::Function::New(env, SetErrorClasses, "setErrorClasses"));
}

Napi::Error typedError(Napi::Env env, const char* cls, const std::string& message, const std::string& op) {
  auto* d = env.GetInstanceData<EnvData>();
  if (d) {
    auto it = d->errorClasses.find(cls);
    if (it != d->errorClasses.end() && !it->second.IsEmpty()) {
      Napi::Value opv = op.empty() ? env.Undefined() : Napi::String::New(env, op);
      Napi::Object e = it->second.New({Napi::String::New(env, message), opv});
      return Napi::Error(env, e);
    }
  }
  return Napi::Error::New(env, message);
}

static bool endsWith(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() > n && s.compare(s.size() - n, n, suffix) == 0;
}

std::string torchMessage(const std::string& what) {
  static const std::string kInterp = "The following operation failed in the TorchScript interpreter.";
  if (what.compare(0, kInterp.size(), kInterp) != 0) return what;
  // The real error is the last line shaped like Python's exception line, "RuntimeError: ...".
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= what.size()) {
    size_t nl = what.find('\n', start);
    if (nl == std::string::npos) nl = what.size();
    lines.push_back(what.substr(start, nl - start));
    start = nl + 1;
  }
  for (size_t i = lines.size(); i-- > 0;) {
    const std::string& line = lines[i];
    size_t colon = line.find(": ");
    if (colon == std::string::npos || colon == 0 || line[0] == ' ') continue;
    std::string kind = line.substr(0, colon);
    if (kind.find(' ') != std::string::npos) continue;
    if (endsWith(kind, "Error") || endsWith(kind, "Exception")) return line.substr(colon + 2) + "\n" + what;
  }
  return what;
}

Napi::Error torchError(Napi::Env env, const std::string& what, const std::string& op) {
  return typedError(env, "TorchError", torchMessage(what), op);
}

}  // namespace sq
