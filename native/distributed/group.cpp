// Group: rendezvous through c10d's TCPStore (rank 0 hosts it, as torchrun's MASTER_ADDR:MASTER_PORT
// says), the backend on top, and the bookkeeping that lets a survivor name a dead or hung rank.
#include "distributed/group.h"
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

namespace sq {

static std::string hbKey(int r) { return "hb/" + std::to_string(r); }
static std::string seqKey(int r) { return "seq/" + std::to_string(r); }

Group::Group(const GroupConfig& cfg) : cfg_(cfg) {
  if (cfg.worldSize < 1 || cfg.rank < 0 || cfg.rank >= cfg.worldSize) {
    throw std::invalid_argument("rank " + std::to_string(cfg.rank) + " is not in [0, " + std::to_string(cfg.worldSize) + ")");
  }
  if (cfg.masterPort < 1 || cfg.masterPort > 65535) throw std::invalid_argument("MASTER_PORT " + std::to_string(cfg.masterPort) + " is not a TCP port");
  c10d::TCPStoreOptions o;
  o.port = static_cast<std::uint16_t>(cfg.masterPort);
  o.isServer = cfg.storeServer;
  o.multiTenant = true;  // as torch.distributed's env:// store
  o.numWorkers = static_cast<std::size_t>(cfg.worldSize);
  o.waitWorkers = true;
  o.timeout = cfg.timeout;
  // Our keys (Gloo's rendezvous, heartbeats, counters) under one prefix: the store may be a launcher's.
  store_ = c10::make_intrusive<c10d::PrefixStore>("squisher/pg", c10::make_intrusive<c10d::TCPStore>(cfg.masterAddr, o));
  backend_ = cfg.backend == "nccl" ? makeNccl(store_, cfg) : makeGloo(store_, cfg);
  hbStore_ = store_->clone();
  // A heartbeat that cannot reach the store gives up quickly instead of holding destroy() up.
  hbStore_->setTimeout(std::min(cfg.timeout, std::chrono::milliseconds(5000)));
  hbStore_->add(hbKey(cfg.rank), 1);
  hbThread_ = std::thread([this] { heartbeatLoop(); });
}

Group::~Group() {
  try {
    destroy();
  } catch (...) {
  }
}

void Group::heartbeatLoop() {
  std::unique_lock<std::mutex> lk(hbMutex_);
  while (!hbStop_) {
    lk.unlock();
    try {
      hbStore_->add(hbKey(cfg_.rank), 1);
    } catch (...) {
      return;  // the store (rank 0) is gone; the next collective reports it
    }
    lk.lock();
    hbCv_.wait_for(lk, std::chrono::milliseconds(250), [this] { return hbStop_; });
  }
}

void Group::destroy() {
  if (destroyed_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lk(hbMutex_);
    hbStop_ = true;
  }
  hbCv_.notify_all();
  if (hbThread_.joinable()) hbThread_.join();
  backend_.reset();  // Gloo joins its worker threads here
  hbStore_.reset();
  store_.reset();
}

void Group::enter() {
  if (destroyed_.load()) throw std::runtime_error("the process group was destroyed");
  entered_++;
  store_->add(seqKey(cfg_.rank), 1);
}

void Group::wait(const c10::intrusive_ptr<c10d::Work>& w, const char* what) {
  if (!w->wait(cfg_.timeout)) {
    throw std::runtime_error(std::string(what) + " timed out after " + std::to_string(cfg_.timeout.count()) + " ms");
  }
}

void Group::allReduceSum(at::Tensor& t) {
  enter();
  std::vector<at::Tensor> ts{t};
  c10d::AllreduceOptions o;
  o.reduceOp = c10d::ReduceOp::SUM;
  o.timeout = cfg_.timeout;
  wait(backend_->allreduce(ts, o), "allReduce");
}

void Group::broadcast(at::Tensor& t, int root) {
  if (root < 0 || root >= cfg_.worldSize) throw std::invalid_argument("broadcast: root " + std::to_string(root) + " is not a rank");
  enter();
  std::vector<at::Tensor> ts{t};
  c10d::BroadcastOptions o;
  o.rootRank = root;
  o.timeout = cfg_.timeout;
  wait(backend_->broadcast(ts, o), "broadcast");
}

void Group::barrier() {
  if (cfg_.backend == "nccl") {
    // NCCL's barrier guesses a device from the rank; an all-reduce of one number on ours says it plainly.
    at::Tensor one = at::ones({1}, at::TensorOptions().device(c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(cfg_.localRank))));
    allReduceSum(one);
    return;
  }
  enter();
  c10d::BarrierOptions o;
  o.timeout = cfg_.timeout;
  wait(backend_->barrier(o), "barrier");
}

std::vector<Group::PeerState> Group::diagnose(std::chrono::milliseconds watch) {
  if (destroyed_.load()) throw std::runtime_error("the process group was destroyed");
  auto probe = store_->clone();
  probe->setTimeout(std::min(cfg_.timeout, std::chrono::milliseconds(5000)));
  const int n = cfg_.worldSize;
  std::vector<int64_t> before(n);
  for (int r = 0; r < n; r++) before[r] = probe->add(hbKey(r), 0);
  std::this_thread::sleep_for(watch);
  std::vector<PeerState> out;
  for (int r = 0; r < n; r++) {
    int64_t after = probe->add(hbKey(r), 0);
    out.push_back({r, probe->add(seqKey(r), 0), after != before[r]});
  }
  return out;
}

std::string Group::blame(const std::string& verdict) {
  if (destroyed_.load()) throw std::runtime_error("the process group was destroyed");
  auto probe = store_->clone();
  probe->setTimeout(std::min(cfg_.timeout, std::chrono::milliseconds(5000)));
  const std::string key = "blame";
  std::vector<uint8_t> v;
  if (!verdict.empty()) {
    v = probe->compareSet(key, {}, std::vector<uint8_t>(verdict.begin(), verdict.end()));
  } else if (probe->check({key})) {
    v = probe->get(key);
  }
  return std::string(v.begin(), v.end());
}

}  // namespace sq
