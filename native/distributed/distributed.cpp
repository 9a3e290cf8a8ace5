// N-API over Group: every call that waits on other ranks (rendezvous, collectives, diagnosis, teardown)
// runs on a libuv worker thread and returns a Promise, so the event loop keeps turning (signals, timers,
// progress) while the ranks meet. A group handle is a type-tagged External holding a shared_ptr, which
// each in-flight call copies, so the Group outlives any call still using it.
#include "core/busy.h"
#include "core/promise_worker.h"
#include "distributed/group.h"

namespace sq {

static const napi_type_tag kGroupTag = {0x6c3a9e1d27f04b58ULL, 0xa41f8d2c5e7b9063ULL};

struct GroupBox {
  std::shared_ptr<Group> g;
};

static std::shared_ptr<Group> unwrapGroup(const Napi::Value& v) {
  if (!v.IsExternal() || !v.As<Napi::External<GroupBox>>().CheckTypeTag(&kGroupTag)) {
    throw Napi::TypeError::New(v.Env(), "expected a process group handle");
  }
  auto* box = v.As<Napi::External<GroupBox>>().Data();
  if (!box->g || box->g->destroyed()) throw Napi::Error::New(v.Env(), "the process group was destroyed");
  return box->g;
}

static std::string getString(const Napi::Object& o, const char* k) {
  auto v = o.Get(k);
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string("initProcessGroup: '") + k + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}

static int getInt(const Napi::Object& o, const char* k) {
  return static_cast<int>(toInt64(o.Get(k), k));
}

class InitWorker : public PromiseWorker {
 public:
  InitWorker(Napi::Env env, GroupConfig cfg) : PromiseWorker(env, "initProcessGroup: "), cfg_(std::move(cfg)) {}

 protected:
  void run() override { g_ = std::make_shared<Group>(cfg_); }
  Napi::Value result(Napi::Env env) override {
    auto* box = new GroupBox{std::move(g_)};
    auto ext = Napi::External<GroupBox>::New(env, box, [](Napi::Env, GroupBox* b) {
      // A group dropped without destroy(): tear it down on a detached thread so GC never blocks on peers.
      if (b->g && !b->g->destroyed()) {
        std::thread([g = std::move(b->g)]() mutable { g.reset(); }).detach();
      }
      delete b;
    });
    ext.TypeTag(&kGroupTag);
    return ext;
  }

 private:
  GroupConfig cfg_;
  std::shared_ptr<Group> g_;
};

// initProcessGroup({backend, rank, worldSize, localRank, masterAddr, masterPort, timeoutMs}) -> Promise<handle>
static Napi::Value Init(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "initProcessGroup");
  if (!info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "initProcessGroup: expected an options object");
  auto o = info[0].As<Napi::Object>();
  GroupConfig cfg;
  cfg.backend = getString(o, "backend");
  if (cfg.backend != "gloo" && cfg.backend != "nccl") throw Napi::TypeError::New(info.Env(), "initProcessGroup: backend must be 'gloo' or 'nccl', got '" + cfg.backend + "'");
  cfg.rank = getInt(o, "rank");
  cfg.worldSize = getInt(o, "worldSize");
  cfg.localRank = getInt(o, "localRank");
  cfg.masterAddr = getString(o, "masterAddr");
  cfg.masterPort = getInt(o, "masterPort");
  cfg.storeServer = o.Get("storeServer").ToBoolean();
  cfg.timeout = std::chrono::milliseconds(toInt64(o.Get("timeoutMs"), "timeoutMs"));
  if (cfg.timeout.count() < 1) throw Napi::RangeError::New(info.Env(), "initProcessGroup: timeoutMs must be ≥ 1");
  return PromiseWorker::start(new InitWorker(info.Env(), std::move(cfg)));
}

// One worker for the three collectives: the tensor is held (refcounted) until the collective settles.
class CollectiveWorker : public PromiseWorker {
 public:
  enum Kind { kAllReduce, kBroadcast, kBarrier };
  CollectiveWorker(Napi::Env env, const char* name, std::shared_ptr<Group> g, Kind k, at::Tensor t, int root)
      : PromiseWorker(env, std::string(name) + ": "), g_(std::move(g)), kind_(k), t_(std::move(t)), root_(root) {
    // allReduce and broadcast write their tensor in place on a worker thread: hold its storage as written
    // until the collective settles, so no alias of it is read or written meanwhile (a BusyError instead).
    if (kind_ != kBarrier) lease_.acquire(env, {{&t_, true, std::string(name) + ": argument 'tensor'"}}, name);
  }

 protected:
  void run() override {
    switch (kind_) {
      case kAllReduce: g_->allReduceSum(t_); break;
      case kBroadcast: g_->broadcast(t_, root_); break;
      case kBarrier: g_->barrier(); break;
    }
  }
  Napi::Value result(Napi::Env env) override { return env.Undefined(); }
  void settled() override { lease_.release(); }

 private:
  std::shared_ptr<Group> g_;
  Kind kind_;
  at::Tensor t_;
  int root_;
  BusyLease lease_;
};

static at::Tensor collectiveTensor(const Napi::CallbackInfo& info, const char* fn, const Group& g) {
  const at::Tensor& t = unwrapTensor(info[1], "tensor");
  if (!t.is_contiguous() || t.layout() != c10::kStrided) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": the tensor must be dense and contiguous (call .contiguous())");
  }
  bool cuda = t.is_cuda();
  if (g.config().backend == "gloo" && cuda) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": backend 'gloo' here takes CPU tensors; move it with .cpu() or use 'nccl'");
  if (g.config().backend == "nccl" && !cuda) throw Napi::TypeError::New(info.Env(), std::string(fn) + ": backend 'nccl' takes CUDA tensors");
  return t;
}

static Napi::Value AllReduce(const Napi::CallbackInfo& info) {
  requireArgs(info, 2, "allReduce");
  auto g = unwrapGroup(info[0]);
  auto t = collectiveTensor(info, "allReduce", *g);
  return PromiseWorker::start(new CollectiveWorker(info.Env(), "allReduce", g, CollectiveWorker::kAllReduce, t, 0));
}

static Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  requireArgs(info, 3, "broadcast");
  auto g = unwrapGroup(info[0]);
  auto t = collectiveTensor(info, "broadcast", *g);
  int root = static_cast<int>(toInt64(info[2], "root"));
  return PromiseWorker::start(new CollectiveWorker(info.Env(), "broadcast", g, CollectiveWorker::kBroadcast, t, root));
}

static Napi::Value Barrier(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "barrier");
  auto g = unwrapGroup(info[0]);
  return PromiseWorker::start(new CollectiveWorker(info.Env(), "barrier", g, CollectiveWorker::kBarrier, at::Tensor(), 0));
}

class DiagnoseWorker : public PromiseWorker {
 public:
  DiagnoseWorker(Napi::Env env, std::shared_ptr<Group> g, int64_t watchMs)
      : PromiseWorker(env, "diagnose: "), g_(std::move(g)), watch_(watchMs) {}

 protected:
  void run() override { peers_ = g_->diagnose(std::chrono::milliseconds(watch_)); }
  Napi::Value result(Napi::Env env) override {
    auto a = Napi::Array::New(env, peers_.size());
    for (size_t i = 0; i < peers_.size(); i++) {
      auto o = Napi::Object::New(env);
      o.Set("rank", peers_[i].rank);
      o.Set("collectives", Napi::Number::New(env, static_cast<double>(peers_[i].collectives)));
      o.Set("alive", peers_[i].alive);
      a.Set(static_cast<uint32_t>(i), o);
    }
    return a;
  }

 private:
  std::shared_ptr<Group> g_;
  int64_t watch_;
  std::vector<Group::PeerState> peers_;
};

// diagnose(handle, watchMs) -> Promise<[{rank, collectives, alive}]>
static Napi::Value Diagnose(const Napi::CallbackInfo& info) {
  requireArgs(info, 2, "diagnose");
  auto g = unwrapGroup(info[0]);
  return PromiseWorker::start(new DiagnoseWorker(info.Env(), g, toInt64(info[1], "watchMs")));
}

class BlameWorker : public PromiseWorker {
 public:
  BlameWorker(Napi::Env env, std::shared_ptr<Group> g, std::string verdict)
      : PromiseWorker(env, "blame: "), g_(std::move(g)), verdict_(std::move(verdict)) {}

 protected:
  void run() override { result_ = g_->blame(verdict_); }
  Napi::Value result(Napi::Env env) override { return Napi::String::New(env, result_); }

 private:
  std::shared_ptr<Group> g_;
  std::string verdict_, result_;
};

// blame(handle, verdict) -> Promise<string>: the first verdict recorded on a failure ("" if none);
// records `verdict` (when non-empty) if no rank has recorded one yet.
static Napi::Value Blame(const Napi::CallbackInfo& info) {
  requireArgs(info, 2, "blame");
  auto g = unwrapGroup(info[0]);
  if (!info[1].IsString()) throw Napi::TypeError::New(info.Env(), "blame: verdict must be a string");
  return PromiseWorker::start(new BlameWorker(info.Env(), g, info[1].As<Napi::String>().Utf8Value()));
}

class DestroyWorker : public PromiseWorker {
 public:
  DestroyWorker(Napi::Env env, std::shared_ptr<Group> g) : PromiseWorker(env, "destroy: "), g_(std::move(g)) {}

 protected:
  void run() override { g_->destroy(); }
  Napi::Value result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::shared_ptr<Group> g_;
};

// destroy(handle) -> Promise<void>; a second destroy() is a no-op.
static Napi::Value Destroy(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "destroy");
  if (!info[0].IsExternal() || !info[0].As<Napi::External<GroupBox>>().CheckTypeTag(&kGroupTag)) {
    throw Napi::TypeError::New(info.Env(), "destroy: expected a process group handle");
  }
  auto* box = info[0].As<Napi::External<GroupBox>>().Data();
  std::shared_ptr<Group> g = std::move(box->g);
  if (!g) {
    auto d = Napi::Promise::Deferred::New(info.Env());
    d.Resolve(info.Env().Undefined());
    return d.Promise();
  }
  return PromiseWorker::start(new DestroyWorker(info.Env(), std::move(g)));
}

static Napi::Value Backends(const Napi::CallbackInfo& info) {
  auto o = Napi::Object::New(info.Env());
  o.Set("gloo", true);
  o.Set("nccl", ncclCompiled());
  return o;
}

void initDistributed(Napi::Env env, Napi::Object exports) {
  auto d = Napi::Object::New(env);
  SQ_EXPORT(d, "initProcessGroup", Init);
  SQ_EXPORT(d, "allReduce", AllReduce);
  SQ_EXPORT(d, "broadcast", Broadcast);
  SQ_EXPORT(d, "barrier", Barrier);
  SQ_EXPORT(d, "diagnose", Diagnose);
  SQ_EXPORT(d, "blame", Blame);
  SQ_EXPORT(d, "destroy", Destroy);
  SQ_EXPORT(d, "backends", Backends);
  exports.Set("distributed", d);
}

}  // namespace sq
