// readFileBytes(fd, offset, nbytes): a new uint8 CPU tensor filled straight from a file with pread, so
// loading a checkpoint costs one copy (kernel -> tensor), as torch.load's does, not two via a JS buffer.
#include "core/common.h"
#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace sq {

static Napi::Value ReadFileBytes(const Napi::CallbackInfo& info) {
  requireArgs(info, 3, "readFileBytes");
  int fd = static_cast<int>(toInt64(info[0], "readFileBytes: fd"));
  int64_t offset = toInt64(info[1], "readFileBytes: offset");
  int64_t nbytes = toInt64(info[2], "readFileBytes: nbytes");
  if (offset < 0 || nbytes < 0) throw Napi::RangeError::New(info.Env(), "readFileBytes: negative offset or size");
  at::Tensor t = at::empty({nbytes}, at::TensorOptions().dtype(at::kByte));
  auto* dst = static_cast<char*>(t.data_ptr());
  int64_t done = 0;
  while (done < nbytes) {
    // Large reads are split by the OS (about 2 GiB at most per call on Linux).
    size_t want = static_cast<size_t>(std::min<int64_t>(nbytes - done, int64_t(1) << 30));
    ssize_t n = ::pread(fd, dst + done, want, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Napi::Error::New(info.Env(), std::string("read failed: ") + std::strerror(errno));
    if (n == 0) {
      throw Napi::Error::New(info.Env(), "unexpected end of file at byte " + std::to_string(offset + done) + " (wanted " +
                                             std::to_string(nbytes) + " bytes at " + std::to_string(offset) + ")");
    }
    done += n;
  }
  return wrapTensor(info.Env(), std::move(t));
}

void initFile(Napi::Env env, Napi::Object exports) {
  SQ_EXPORT(exports, "readFileBytes", ReadFileBytes);
}

}  // namespace sq
