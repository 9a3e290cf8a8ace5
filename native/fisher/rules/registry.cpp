// The rule registry and the helpers every rule shares: how a captured tensor's rows map to samples, and
// the memory budget for per-sample gradients.
#include "fisher/rule.h"

namespace sq::fisher {

std::map<std::string, const Rule*>& registry() {
  static std::map<std::string, const Rule*> r;
  return r;
}

// Bytes of per-sample gradients one rule may hold at once (as the TS rules' CHUNK_BYTES).
static constexpr int64_t kChunkBytes = 64LL << 20;

int64_t chunkFor(int64_t bytesPerSample, int64_t n) {
  return std::max<int64_t>(1, std::min<int64_t>(n, kChunkBytes / std::max<int64_t>(bytesPerSample, 1)));
}

std::vector<int64_t> intList(const c10::IValue& v) {
  if (v.isIntList()) return v.toIntVector();
  if (v.isInt()) return {v.toInt()};
  throw NotPerSample("expected an int list argument");
}

const at::Tensor& samplesFirst(const at::Tensor& t, const UseValues& u, const char* what) {
  if (t.dim() < 1 || t.size(0) != u.N) {
    throw NotPerSample(std::string(what) + " has shape " + c10::str(t.sizes()) + ", whose first dim is not the batch (" +
                       std::to_string(u.N) + " samples)");
  }
  return t;
}

bool batchSizeRepeats(const at::Tensor& t, int64_t N, int64_t end) {
  for (int64_t d = 1; d < std::min<int64_t>(end, t.dim()); d++) {
    if (t.size(d) == N) return true;
  }
  return false;
}

void unambiguousSamples(const at::Tensor& t, const UseValues& u, int64_t end, const char* what) {
  // An op whose leading dims carry no fixed meaning (linear, matmul, layer_norm, embedding) says nothing of
  // which dim holds the samples; the shape does only while the batch size appears once. [T, N, C] with
  // T == N (a time-major model) would otherwise be read as samples-first: a wrong Fisher that looks right.
  if (batchSizeRepeats(t, u.N, end)) {
    throw NotPerSample(std::string(what) + " has shape " + c10::str(t.sizes()) + ": the batch size " + std::to_string(u.N) +
                       " is also the size of another leading dim, so which dim holds the samples is not known");
  }
}

at::Tensor samplesBy3(const at::Tensor& t, const UseValues& u, const char* what) {
  if (t.dim() >= 2 && t.size(0) == u.N) {
    unambiguousSamples(t, u, t.dim() - 1, what);
    return t.reshape({u.N, -1, t.size(-1)});
  }
  // rows = samples × positions flattened (x.view(-1, nx), as Hugging Face's Conv1D does): a reshape is
  // row-major in the logical order, so the rows group by sample exactly when the source's first dim is N
  if (t.dim() == 2 && u.rowsBySample && u.N > 0 && t.size(0) % u.N == 0) {
    return t.reshape({u.N, -1, t.size(-1)});
  }
  throw NotPerSample(std::string(what) + " has shape " + c10::str(t.sizes()) + ": its rows cannot be attributed to the " +
                     std::to_string(u.N) + " samples");
}

}  // namespace sq::fisher
