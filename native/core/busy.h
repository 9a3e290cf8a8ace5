// Which tensor memory pending async work is reading or writing, keyed by storage (c10::StorageImpl), so
// that views, detach(), copies into a view and resize_/set_ of any tensor sharing that memory are all
// seen. Readers/writer rules, as a lock would have them: while async work reads a storage, no one may
// write it; while async work writes one, no one may read or write it. A conflict is refused with a
// BusyError naming the operation and argument, never waited on (the JS thread must not block).
// Process-global behind one mutex: worker_threads each have their own tensors, but the registry must
// stay consistent when two threads touch it at once.
#pragma once
#include "core/env_data.h"
#include <string>
#include <vector>

namespace sq {

// One tensor an operation is about to touch: `what` names it in errors ("aten::add_: argument 'self'").
struct Access {
  const at::Tensor* t;
  bool write;
  std::string what;
};

// The storages one pending async operation holds; released by release() on the JS thread when it
// settles, or by the destructor whatever happens (a terminated worker never settles).
class BusyLease {
 public:
  BusyLease() = default;
  BusyLease(const BusyLease&) = delete;
  BusyLease& operator=(const BusyLease&) = delete;
  ~BusyLease() { release(); }
  // Checks every access against other pending work, then records them all, atomically. Throws a
  // BusyError (as a Napi::Error) on a conflict; nothing is recorded then.
  void acquire(Napi::Env env, const std::vector<Access>& accesses, const std::string& opName);
  void release();

 private:
  std::vector<std::pair<const void*, bool>> held_;
  std::vector<c10::Storage> storages_;           // keeps each keyed StorageImpl alive (no address reuse)
  std::vector<c10::intrusive_ptr<c10::TensorImpl>> impls_;  // same, for tensors without storage
};

// Synchronous use: refuses (BusyError) a read of memory pending work writes, or a write of memory
// pending work reads or writes. Cheap when nothing is pending (one atomic load).
void checkAccess(Napi::Env env, const std::vector<Access>& accesses, const std::string& opName);
void checkRead(Napi::Env env, const at::Tensor& t, const std::string& what);
void checkWrite(Napi::Env env, const at::Tensor& t, const std::string& what);

}  // namespace sq
