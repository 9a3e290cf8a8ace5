// The Fisher fast path's per-op rules (Opacus / BackPACK style): for each supported use of a parameter in
// a TorchScript graph (aten::linear, aten::conv2d, ...), a rule turns the use's captured inputs and the
// gradient of the loss w.r.t. its output (δ) into per-sample gradients of the parameter, or directly into
// Σ_n g_n² when the parameter has only that one use. Each rule lives in its own file under rules/ and
// registers itself by op name, so adding an op is adding a file.
#pragma once
#include "core/common.h"
#include <torch/csrc/jit/ir/ir.h>
#include <map>
#include <optional>

namespace sq::fisher {

// A use's runtime values for one Fisher term of one batch.
struct UseValues {
  std::vector<c10::IValue> in;  // the op's inputs as it ran (tensors, int lists, scalars)
  at::Tensor delta;             // ∂loss/∂(op output); undefined when the output does not reach the loss
  int64_t N = 0;                // samples in the batch
  // The activation's reshape source (e.g. x before x.view(-1, nx)), when the activation came out of a
  // reshape: its leading size tells whether rows of the activation group by sample.
  std::optional<at::Tensor> source;
  // Set by the engine: the source's first dim is N and it holds as many elements as the activation, so
  // the activation's (and the output's) rows group by sample.
  bool rowsBySample = false;
  // Set by the engine for an embedding whose output has no batch dim and is broadcast over the batch by
  // its one consumer, an elementwise add/sub (capture.cpp): `delta` is then ∂loss/∂(consumer output)
  // [N, ...], `output` the use's own output and `factor` ∂(consumer)/∂(use output): 1, alpha or -alpha.
  bool viaConsumer = false;
  double factor = 1;
  at::Tensor output;
  std::string noConsumer;  // why no such consumer was used (for the fallback's reason)
  bool inputFreeIndices = false;  // Use::inputFreeIndices
  // Set by the engine: the activation (or, viaConsumer, the add/sub's output) is computed from the
  // forward's inputs; false: it holds no samples whatever its shape (checked before the rule's check).
  bool fromInput = true;
};

// Thrown by a rule when this use cannot be split per sample (the parameter then takes the fallback).
struct NotPerSample : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Rule {
 public:
  virtual ~Rule() = default;
  // The role ("weight", "weight_t", "bias") of the parameter passed as input `index` of node n, or
  // nullptr when this rule cannot handle a parameter there (the parameter then takes the fallback).
  virtual const char* role(const torch::jit::Node* n, size_t index) const = 0;
  // The input index holding the activation (for the reshape-source check), or -1.
  virtual int activation() const { return 0; }
  // The activation's input index for this node: by default activation(); an elementwise op takes the
  // parameter as either operand, so its activation is whichever operand the node's parameter is not.
  virtual int activationOf(const torch::jit::Node*) const { return activation(); }
  // Per-sample gradients [count, *param shape] of the parameter in `role`, samples [start, start+count).
  virtual at::Tensor perSample(const UseValues& u, const std::string& role, int64_t start, int64_t count) const = 0;
  // Σ_n g_n² when this is the parameter's only use, or an undefined tensor to fall back to perSample.
  virtual at::Tensor sumSquares(const UseValues& u, const std::string& role) const { return {}; }
  // Throws NotPerSample when the values cannot be split per sample (checked before any accumulation).
  virtual void check(const UseValues& u) const {}
  // check() for the use of the parameter in `role` (what the engine calls): an elementwise rule's
  // conditions are on the parameter's operand, which only the role names.
  virtual void checkRole(const UseValues& u, const std::string& role) const { check(u); }
};

// op name ("aten::linear") -> rule
std::map<std::string, const Rule*>& registry();
struct RegisterRule {
  RegisterRule(std::initializer_list<const char*> ops, const Rule* r) {
    for (auto op : ops) registry()[op] = r;
  }
};

// ---- helpers shared by the rules ----
// t viewed as [N, S, features] (S positions share the parameter), using the reshape source when t's rows
// are samples × positions flattened; throws NotPerSample when rows cannot be attributed to samples.
at::Tensor samplesBy3(const at::Tensor& t, const UseValues& u, const char* what);
// t viewed as [N, ...] with dim 0 the sample; throws NotPerSample otherwise.
const at::Tensor& samplesFirst(const at::Tensor& t, const UseValues& u, const char* what);
// Whether N is also the size of one of t's dims 1..end-1 (dim 0 aside).
bool batchSizeRepeats(const at::Tensor& t, int64_t N, int64_t end);
// For ops whose leading dims have no fixed meaning: refuses (NotPerSample) a shape in which the batch size
// appears in dims 1..end-1 too, since the sample dim is then not known from the shape.
void unambiguousSamples(const at::Tensor& t, const UseValues& u, int64_t end, const char* what);
// Samples per chunk so that `bytesPerSample` × chunk stays under the per-rule memory budget.
// For an elementwise op whose output's dim 0 is the samples: throws NotPerSample unless the parameter p
// (broadcast against the activation x) is the same for every sample (right-aligned, it has fewer dims than
// the output or size 1 in the output's dim 0) and x and the output are [N, ...] with N in no other dim.
void broadcastOverSamples(const at::Tensor& p, const at::Tensor& x, const at::Tensor& delta, const UseValues& u, const char* op);
// Per-sample t [c, *output dims] summed over the dims along which the parameter of shape p was broadcast
// (as autograd reduces a broadcast operand's gradient): [c, ...] with p's elements.
at::Tensor sumToParam(const at::Tensor& t, at::IntArrayRef p);
int64_t chunkFor(int64_t bytesPerSample, int64_t n);
std::vector<int64_t> intList(const c10::IValue& v);

}  // namespace sq::fisher
