#include "core/busy.h"
#include <atomic>
#include <mutex>
#include <unordered_map>

namespace sq {

namespace {
struct Count {
  int64_t readers = 0;
  int64_t writers = 0;
};
std::mutex gMutex;
std::unordered_map<const void*, Count> gBusy;
std::atomic<int64_t> gEntries{0};  // gBusy.size(), readable without the lock

// Tensors with storage are keyed by it (all views share it); wrapper tensors without storage
// (functorch, sparse) by their TensorImpl.
const void* keyOf(const at::Tensor& t) {
  auto* impl = t.unsafeGetTensorImpl();
  if (impl->has_storage() && impl->storage().unsafeGetStorageImpl()) return impl->storage().unsafeGetStorageImpl();
  return impl;
}

// Returns an empty string when `a` is allowed against the registry, else the reason. Caller holds gMutex.
std::string conflict(const Access& a) {
  auto it = gBusy.find(keyOf(*a.t));
  if (it == gBusy.end()) return "";
  if (it->second.writers > 0) return "is being written by a pending async operation";
  if (a.write && it->second.readers > 0) return "shares memory with a tensor a pending async operation is reading";
  return "";
}

[[noreturn]] void refuse(Napi::Env env, const Access& a, const std::string& why) {
  throw typedError(env, "BusyError", a.what + " " + why + "; await it before changing (or, if it writes, reading) this tensor or any view of it");
}
}  // namespace

// The first conflicting access and why, or {nullptr, ""}. Caller holds gMutex.
static std::pair<const Access*, std::string> firstConflict(const std::vector<Access>& accesses) {
  for (const auto& a : accesses) {
    if (!a.t->defined()) continue;
    std::string why = conflict(a);
    if (!why.empty()) return {&a, why};
  }
  return {nullptr, ""};
}

void BusyLease::acquire(Napi::Env env, const std::vector<Access>& accesses, const std::string& opName) {
  std::unique_lock<std::mutex> lock(gMutex);
  auto [bad, why] = firstConflict(accesses);
  if (bad) {
    lock.unlock();  // the error's JS constructor must not run under the lock
    refuse(env, *bad, why);
  }
  for (const auto& a : accesses) {
    if (!a.t->defined()) continue;
    const void* k = keyOf(*a.t);
    auto& c = gBusy[k];
    (a.write ? c.writers : c.readers)++;
    held_.emplace_back(k, a.write);
    auto* impl = a.t->unsafeGetTensorImpl();
    if (k == impl) impls_.emplace_back(c10::intrusive_ptr<c10::TensorImpl>::reclaim_copy(impl));
    else storages_.push_back(impl->storage());
  }
  gEntries.store(static_cast<int64_t>(gBusy.size()));
}

void BusyLease::release() {
  if (held_.empty()) return;
  {
    std::lock_guard<std::mutex> lock(gMutex);
    for (const auto& [k, write] : held_) {
      auto it = gBusy.find(k);
      if (it == gBusy.end()) continue;
      (write ? it->second.writers : it->second.readers)--;
      if (it->second.writers <= 0 && it->second.readers <= 0) gBusy.erase(it);
    }
    gEntries.store(static_cast<int64_t>(gBusy.size()));
    held_.clear();
  }
  storages_.clear();
  impls_.clear();
}

void checkAccess(Napi::Env env, const std::vector<Access>& accesses, const std::string& opName) {
  if (gEntries.load() == 0) return;
  std::unique_lock<std::mutex> lock(gMutex);
  auto [bad, why] = firstConflict(accesses);
  if (!bad) return;
  lock.unlock();
  refuse(env, *bad, why);
}

void checkRead(Napi::Env env, const at::Tensor& t, const std::string& what) {
  if (gEntries.load() == 0) return;
  checkAccess(env, {Access{&t, false, what}}, what);
}

void checkWrite(Napi::Env env, const at::Tensor& t, const std::string& what) {
  if (gEntries.load() == 0) return;
  checkAccess(env, {Access{&t, true, what}}, what);
}

}  // namespace sq
