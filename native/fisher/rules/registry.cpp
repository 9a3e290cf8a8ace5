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

void broadcastOverSamples(const at::Tensor& p, const at::Tensor& x, const at::Tensor& delta, const UseValues& u, const char* op) {
  std::string what = std::string(op) + " output";
  samplesFirst(delta, u, what.c_str());
  // no dim of an elementwise op's output has a fixed meaning: [T, N, C] with T == N, or [C, N] with C == N
  // (a transposed activation), would read rows that are not samples as samples
  unambiguousSamples(delta, u, delta.dim(), what.c_str());
  if (x.dim() != delta.dim() || x.size(0) != u.N) {
    throw NotPerSample(std::string(op) + ": the operand beside the parameter has shape " + c10::str(x.sizes()) +
                       ", not [" + std::to_string(u.N) + ", ...] as the output " + c10::str(delta.sizes()));
  }
  if (p.dim() > delta.dim() || (p.dim() == delta.dim() && p.size(0) != 1)) {
    // a parameter whose leading dim lines up with the samples is not shared by them: the gradient of its
    // row n is not sample n's alone to sum over
    throw NotPerSample(std::string(op) + ": the parameter's shape " + c10::str(p.sizes()) + " varies along the samples dim of the output " +
                       c10::str(delta.sizes()));
  }
}

at::Tensor sumToParam(const at::Tensor& t, at::IntArrayRef p) {
  std::vector<int64_t> target(static_cast<size_t>(t.dim()), 1);
  target[0] = t.size(0);
  // p right-aligned against t's dims 1..end (a leading size-1 dim of p in t's dim 0 drops out)
  int64_t k = static_cast<int64_t>(p.size()) == t.dim() ? 1 : 0;
  for (int64_t i = k; i < static_cast<int64_t>(p.size()); i++) target[t.dim() - static_cast<int64_t>(p.size()) + i] = p[i];
  return t.sum_to_size(target);
}

}  // namespace sq::fisher
