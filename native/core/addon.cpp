// The addon's entry point: each concept folder registers its functions on one exports object.
#include "core/common.h"
#include "core/live.h"
#include <torch/csrc/api/include/torch/version.h>

namespace sq {
void initDistributed(Napi::Env env, Napi::Object exports);  // native/distributed (c10d)
namespace fisher { void initFisher(Napi::Env env, Napi::Object exports); }
static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  initEnvData(env, exports);
  initTensor(env, exports);
  initFile(env, exports);
  initOps(env, exports);
  initAutograd(env, exports);
  initFunctorch(env, exports);
  initJit(env, exports);
  initDevice(env, exports);
  initLive(env, exports);
  initDistributed(env, exports);
  fisher::initFisher(env, exports);
  exports.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
  return exports;
}
}  // namespace sq

static Napi::Object SquisherInit(Napi::Env env, Napi::Object exports) { return sq::Init(env, exports); }
NODE_API_MODULE(squisher, SquisherInit)
