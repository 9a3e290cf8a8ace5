// Devices, threads and seeds: CUDA availability and memory statistics, intra-op thread count, RNG seed.
#include "core/common.h"
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/csrc/api/include/torch/version.h>
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 9)
#include <ATen/DeviceAccelerator.h>
#define SQ_HAS_DEVICE_STATS 1
#endif

namespace sq {

static Napi::Value CudaIsAvailable(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), at::hasCUDA() && at::detail::getCUDAHooks().deviceCount() > 0);
}

static Napi::Value CudaDeviceCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::hasCUDA() ? static_cast<double>(at::detail::getCUDAHooks().deviceCount()) : 0);
}

static void requireCuda(Napi::Env env, const char* fn) {
  if (!at::hasCUDA() || at::detail::getCUDAHooks().deviceCount() == 0) {
    throw Napi::Error::New(env, std::string(fn) + ": CUDA is not available (this libtorch has no CUDA support or no GPU is visible)");
  }
}

static Napi::Value CudaSynchronize(const Napi::CallbackInfo& info) {
  requireCuda(info.Env(), "cuda.synchronize");
  // An empty tensor round trip would also sync; the accelerator API is the direct way where present.
  at::empty({1}, at::TensorOptions().device(at::kCUDA)).cpu();
  return info.Env().Undefined();
}

// memoryStats(device): allocated/reserved bytes, current and peak, from the caching allocator.
static Napi::Value CudaMemoryStats(const Napi::CallbackInfo& info) {
  requireCuda(info.Env(), "cuda.memoryStats");
  int64_t dev = info.Length() > 0 && info[0].IsNumber() ? toInt64(info[0], "device") : 0;
#ifdef SQ_HAS_DEVICE_STATS
  auto s = at::accelerator::getDeviceStats(static_cast<c10::DeviceIndex>(dev));
  auto o = Napi::Object::New(info.Env());
  auto agg = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
  o.Set("allocatedBytes", Napi::Number::New(info.Env(), static_cast<double>(s.allocated_bytes[agg].current)));
  o.Set("peakAllocatedBytes", Napi::Number::New(info.Env(), static_cast<double>(s.allocated_bytes[agg].peak)));
  o.Set("reservedBytes", Napi::Number::New(info.Env(), static_cast<double>(s.reserved_bytes[agg].current)));
  o.Set("peakReservedBytes", Napi::Number::New(info.Env(), static_cast<double>(s.reserved_bytes[agg].peak)));
  return o;
#else
  throw Napi::Error::New(info.Env(), "cuda.memoryStats needs libtorch >= 2.9");
#endif
}

static Napi::Value CudaResetPeak(const Napi::CallbackInfo& info) {
  requireCuda(info.Env(), "cuda.resetPeakMemoryStats");
#ifdef SQ_HAS_DEVICE_STATS
  int64_t dev = info.Length() > 0 && info[0].IsNumber() ? toInt64(info[0], "device") : 0;
  at::accelerator::resetPeakStats(static_cast<c10::DeviceIndex>(dev));
#endif
  return info.Env().Undefined();
}

static Napi::Value ManualSeed(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "manualSeed");
  uint64_t seed = static_cast<uint64_t>(toInt64(info[0], "seed"));
  {
    auto gen = at::globalContext().defaultGenerator(c10::DeviceType::CPU);
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(seed);
  }
  if (at::hasCUDA()) {
    for (int i = 0; i < static_cast<int>(at::detail::getCUDAHooks().deviceCount()); i++) {
      auto gen = at::globalContext().defaultGenerator(c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(i)));
      std::lock_guard<std::mutex> lock(gen.mutex());
      gen.set_current_seed(seed);
    }
  }
  return info.Env().Undefined();
}

static Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "setNumThreads");
  int64_t n = toInt64(info[0], "threads");
  if (n < 1) throw Napi::RangeError::New(info.Env(), "setNumThreads: need at least 1 thread");
  at::set_num_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

static Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

void initDevice(Napi::Env env, Napi::Object exports) {
  SQ_EXPORT(exports, "cudaIsAvailable", CudaIsAvailable);
  SQ_EXPORT(exports, "cudaDeviceCount", CudaDeviceCount);
  SQ_EXPORT(exports, "cudaSynchronize", CudaSynchronize);
  SQ_EXPORT(exports, "cudaMemoryStats", CudaMemoryStats);
  SQ_EXPORT(exports, "cudaResetPeakMemoryStats", CudaResetPeak);
  SQ_EXPORT(exports, "manualSeed", ManualSeed);
  SQ_EXPORT(exports, "setNumThreads", SetNumThreads);
  SQ_EXPORT(exports, "getNumThreads", GetNumThreads);
}

}  // namespace sq
