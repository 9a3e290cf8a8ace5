// readFileBytes(fd, offset, nbytes): a new uint8 CPU tensor filled straight from a file with pread, so
// loading a checkpoint costs one copy (kernel -> tensor), as torch.load's does, not two via a JS buffer.
#include "core/promise_worker.h"
#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace sq {

// Plain C++ (no N-API), so the async form can run it on a worker thread; throws std::runtime_error.
static at::Tensor preadTensor(int fd, int64_t offset, int64_t nbytes) {
  at::Tensor t = at::empty({nbytes}, at::TensorOptions().dtype(at::kByte));
  auto* dst = static_cast<char*>(t.data_ptr());
  int64_t done = 0;
  while (done < nbytes) {
    // Large reads are split by the OS (about 2 GiB at most per call on Linux).
    size_t want = static_cast<size_t>(std::min<int64_t>(nbytes - done, int64_t(1) << 30));
    ssize_t n = ::pread(fd, dst + done, want, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error(std::string("read failed: ") + std::strerror(errno));
    if (n == 0) {
      throw std::runtime_error("unexpected end of file at byte " + std::to_string(offset + done) + " (wanted " +
                               std::to_string(nbytes) + " bytes at " + std::to_string(offset) + ")");
    }
    done += n;
  }
  return t;
}

static void readArgs(const Napi::CallbackInfo& info, const char* fn, int& fd, int64_t& offset, int64_t& nbytes) {
  requireArgs(info, 3, fn);
  fd = static_cast<int>(toInt64(info[0], "fd"));
  offset = toInt64(info[1], "offset");
  nbytes = toInt64(info[2], "nbytes");
  if (offset < 0 || nbytes < 0) throw Napi::RangeError::New(info.Env(), std::string(fn) + ": negative offset or size");
}

static Napi::Value ReadFileBytes(const Napi::CallbackInfo& info) {
  int fd;
  int64_t offset, nbytes;
  readArgs(info, "readFileBytes", fd, offset, nbytes);
  return wrapTensor(info.Env(), preadTensor(fd, offset, nbytes));
}

// The async form: allocation and read on a libuv worker thread; the caller keeps fd open until it settles.
class ReadWorker : public PromiseWorker {
 public:
  ReadWorker(Napi::Env env, int fd, int64_t offset, int64_t nbytes)
      : PromiseWorker(env, ""), fd_(fd), offset_(offset), nbytes_(nbytes) {}

 protected:
  void run() override { t_ = preadTensor(fd_, offset_, nbytes_); }
  Napi::Value result(Napi::Env env) override { return wrapTensor(env, std::move(t_)); }

 private:
  int fd_;
  int64_t offset_, nbytes_;
  at::Tensor t_;
};

static Napi::Value ReadFileBytesAsync(const Napi::CallbackInfo& info) {
  int fd;
  int64_t offset, nbytes;
  readArgs(info, "readFileBytesAsync", fd, offset, nbytes);
  return PromiseWorker::start(new ReadWorker(info.Env(), fd, offset, nbytes));
}

void initFile(Napi::Env env, Napi::Object exports) {
  SQ_EXPORT(exports, "readFileBytes", ReadFileBytes);
  SQ_EXPORT(exports, "readFileBytesAsync", ReadFileBytesAsync);
}

}  // namespace sq
