#include "core/live.h"
#include "core/common.h"
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

namespace sq {
namespace {
struct DeviceCount { int64_t tensors = 0; int64_t bytes = 0; };
struct StorageCount { int64_t handles = 0; int64_t bytes = 0; std::string device; };
std::mutex mu;
std::map<std::string, DeviceCount> devices;
// Views share a storage: its bytes count once, while any handle on it is alive. The bytes recorded when
// the storage was first seen are the ones taken away, so a resize in between cannot skew the total.
std::unordered_map<const void*, StorageCount> storages;

const c10::StorageImpl* storageOf(const at::Tensor& t) {
  return t.unsafeGetTensorImpl()->has_storage() ? t.storage().unsafeGetStorageImpl() : nullptr;
}
}  // namespace

void liveAdd(const at::Tensor& t) {
  if (!t.defined()) return;
  const std::string dev = t.device().str();
  const c10::StorageImpl* st = storageOf(t);
  std::lock_guard<std::mutex> lock(mu);
  DeviceCount& d = devices[dev];
  d.tensors++;
  if (!st) return;
  StorageCount& s = storages[st];
  if (s.handles++ == 0) {
    s.bytes = static_cast<int64_t>(st->nbytes());
    s.device = dev;
    d.bytes += s.bytes;
  }
}

void liveRemove(const at::Tensor& t) {
  if (!t.defined()) return;
  const std::string dev = t.device().str();
  const c10::StorageImpl* st = storageOf(t);
  std::lock_guard<std::mutex> lock(mu);
  devices[dev].tensors--;
  if (!st) return;
  auto it = storages.find(st);
  if (it == storages.end()) return;
  if (--it->second.handles == 0) {
    devices[it->second.device].bytes -= it->second.bytes;
    storages.erase(it);
  }
}

// liveTensors(): [[device, tensors, bytes, storages], ...] for every device that has had a tensor.
static Napi::Value LiveTensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::lock_guard<std::mutex> lock(mu);
  std::map<std::string, int64_t> nStorages;
  for (const auto& kv : storages) nStorages[kv.second.device]++;
  auto out = Napi::Array::New(env, devices.size());
  uint32_t i = 0;
  for (const auto& kv : devices) {
    auto row = Napi::Array::New(env, 4);
    row.Set(0u, Napi::String::New(env, kv.first));
    row.Set(1u, Napi::Number::New(env, static_cast<double>(kv.second.tensors)));
    row.Set(2u, Napi::Number::New(env, static_cast<double>(kv.second.bytes)));
    row.Set(3u, Napi::Number::New(env, static_cast<double>(nStorages[kv.first])));
    out.Set(i++, row);
  }
  return out;
}

void initLive(Napi::Env env, Napi::Object exports) {
  SQ_EXPORT(exports, "liveTensors", LiveTensors);
}
}  // namespace sq
