// The two c10d backends, made the way torch.distributed makes them: ProcessGroupGloo (CPU; every libtorch
// build on Linux/macOS has it, though PyTorch's wheels ship without Gloo's headers, hence the copy in
// gloo-headers/) and ProcessGroupNCCL (CUDA; compiled only when the libtorch has it and nccl.h is found).
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1  // libtorch's own build flag; its header is empty without it
#endif
#include "distributed/group.h"
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#ifdef SQUISHER_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#include <c10/cuda/CUDAFunctions.h>
#endif
#include <cstdlib>

namespace sq {

static bool isLoopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

c10::intrusive_ptr<c10d::Backend> makeGloo(const c10::intrusive_ptr<c10d::Store>& store, const GroupConfig& cfg) {
  auto opts = c10d::ProcessGroupGloo::Options::create(cfg.timeout);
  // As torch.distributed: GLOO_SOCKET_IFNAME picks the interface; otherwise this host's address. A
  // loopback MASTER_ADDR means a single-machine job: bind there too, whatever the hostname resolves to.
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifname && *ifname) {
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  } else if (isLoopback(cfg.masterAddr)) {
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(cfg.masterAddr));
  } else {
    opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  // One worker thread: squisher issues one collective at a time.
  opts->threads = 1;
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, cfg.rank, cfg.worldSize, opts);
}

bool ncclCompiled() {
#ifdef SQUISHER_WITH_NCCL
  return true;
#else
  return false;
#endif
}

c10::intrusive_ptr<c10d::Backend> makeNccl(const c10::intrusive_ptr<c10d::Store>& store, const GroupConfig& cfg) {
#ifdef SQUISHER_WITH_NCCL
  // One process per GPU: this rank's GPU is LOCAL_RANK, as under torchrun.
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(cfg.localRank));
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  opts->timeout = cfg.timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, cfg.rank, cfg.worldSize, opts);
#else
  throw std::runtime_error(
      "backend 'nccl' is not available: this squisher was built against a libtorch without CUDA/NCCL "
      "(or nccl.h was not found at build time); use backend 'gloo'");
#endif
}

}  // namespace sq
