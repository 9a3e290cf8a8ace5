// The graph-level Fisher engine for TorchScript models: the forward graph, inlined and rewritten so one
// interpreter run also returns every parameter use's inputs and output (capture.cpp); the likelihood terms
// of each variant (loss.cpp); one batch's forward, backward and accumulation (step.cpp); the N-API
// binding that runs a batch on libuv's pool (binding.cpp).
#pragma once
#include "fisher/rule.h"
#include <torch/csrc/jit/runtime/interpreter.h>
#include <atomic>
#include <memory>

namespace sq::fisher {

// One trainable parameter as named_parameters() names it (first name; tied copies are aliases).
struct Param {
  std::string name;
  std::vector<std::string> aliases;  // every dotted name reaching the same tensor (name first)
  at::Tensor tensor;                 // the module's live tensor (a leaf that requires grad)
  std::vector<at::Tensor> leaves;    // distinct tensor objects holding it (tied attributes may be two)
  std::vector<std::pair<size_t, std::string>> uses;  // (use index, role)
  bool fallback = false;
  std::string why;                   // why it takes the fallback (empty on the fast path)
  std::string how;                   // how the fallback ran: "vmapped backward" or "one backward per sample"
  at::Tensor acc;                    // Σ of squared per-sample gradients so far
};

// One node of the rewritten graph that uses at least one parameter on the fast path.
struct Use {
  std::string kind;
  const Rule* rule = nullptr;
  std::vector<size_t> inSlots;  // stack positions (after the run) of the node's inputs
  size_t outSlot = 0;           // stack position of the node's output (δ is taken w.r.t. it)
  int64_t sourceSlot = -1;      // stack position of the activation's reshape source, if any
  int act = -1;                 // the activation's input index (Rule::activationOf this node), or -1
  // Inside an `if` or loop body, values come back as lists with one element per run of the body (see
  // capture.cpp): which slots are such lists. A use whose output is lifted has 0..k instances per batch.
  std::vector<bool> inLifted;
  bool lifted = false;
  bool sourceLifted = false;
  // An aten::embedding whose output reaches the rest of the graph only through one elementwise
  // aten::add/add_/sub/sub_ (a position embedding broadcast over the batch; capture.cpp): the stack
  // position of that op's output, of its alpha when the embedding is its `other` (-1: factor 1), and -1
  // for sub's `other`. noConsumer says why none was taken (appended to the fallback's reason).
  int64_t consumerSlot = -1;
  int64_t alphaSlot = -1;
  double sign = 1;
  std::string noConsumer;
  // An embedding whose indices do not depend on the forward's inputs' values (positions from arange, a
  // buffer): one lookup for the whole batch, whatever its leading size (capture.cpp).
  bool inputFreeIndices = false;
  // Whether the activation (an embedding's indices), and that add/sub's output, are computed from the
  // forward's inputs (capture.cpp's fromInputs): a value made of parameters and constants alone has no
  // sample dim, whatever its shape, and the use then takes the fallback.
  bool fromInput = true;
  bool consumerFromInput = false;
};

struct Plan {
  torch::jit::Module module;
  std::shared_ptr<torch::jit::Graph> graph;
  std::unique_ptr<torch::jit::Code> code;
  size_t nOutputs = 1;  // the forward's own outputs come first on the stack
  std::vector<Param> params;
  std::vector<Use> uses;
  std::atomic<bool> busy{false};
  // How the pass's backwards to the captured outputs ran (read by fisherPlanStats): each plain or vmapped
  // backward counts once; a batch with several Fisher terms takes vmapped ones over chunks of terms, or one
  // per term, and `perTermWhy` says why (asked for, two terms over the memory budget, or functorch could
  // not batch some backward op).
  int64_t backwards = 0;
  int64_t vmappedBackwards = 0;
  int64_t perTermBackwards = 0;  // plain backwards in batches with more than one term
  std::string perTermWhy;
};

// Builds the plan: `only` restricts to these parameter names (empty: all trainable).
std::unique_ptr<Plan> buildPlan(const torch::jit::Module& m, const std::vector<std::string>& only);

// What one batch computes.
struct StepOptions {
  std::string variant = "empirical";  // empirical | mc | exact | batched
  std::string task = "classification";
  int64_t samples = 1;                // mc
  c10::IValue output;                 // None: the output itself / first element / 'logits'; int or string
  bool shift = false;                 // causal LM: logits[:, :-1] predict labels[:, 1:]
  int64_t ignoreIndex = -100;
  int64_t maxExactClasses = 1024;
  bool allowFallback = true;
  int64_t termsPerBackward = 0;       // mc/exact: terms per vmapped backward (0: by memory; 1: one plain backward per term)
};

// The uses as they ran in one batch (ran.cpp): one instance per run of each use (a use in a loop body runs
// once per iteration, one in an `if` body 0 or 1 times), with its values, and per parameter its instances.
struct Ran {
  std::vector<const Use*> uses;  // per instance: the plan's use
  std::vector<UseValues> uv;     // per instance
  std::vector<std::vector<std::pair<size_t, std::string>>> paramUses;  // per plan parameter: (instance, role)
  std::vector<at::Tensor> ys;    // instance outputs that reach the loss (δ is taken w.r.t. them)
  std::vector<size_t> yUse;      // their instances
};
Ran collectRan(const Plan& p, const torch::jit::Stack& st, int64_t N);
// broadcast.cpp: for a use captured with a broadcasting consumer whose shapes show an embedding without
// the batch dim, marks u (viaConsumer, factor, output) and returns the consumer's output to take δ from.
at::Tensor broadcastFrom(const Use& use, const torch::jit::Stack& st, const c10::IValue& out, int64_t N, UseValues& u);

// Runs one batch and adds to every parameter's acc; returns the batch size.
int64_t step(Plan& p, const std::vector<c10::IValue>& inputs, const at::Tensor& y, const StepOptions& o);

// ---- loss.cpp ----
// The model's output tensor picked from a tensor / tuple / list / dict result (named errors otherwise).
at::Tensor selectOutput(const c10::IValue& out, const c10::IValue& which);
struct Term {
  at::Tensor target;
  at::Tensor weight;  // per-sample weight (exact: √p), or undefined
  double scale = 1;
};
// The terms of a variant over logits z (detached values are used for sampling and weights).
std::vector<Term> termsFor(const StepOptions& o, const at::Tensor& z, const at::Tensor& y);
// ∂(Σ_n l_n)/∂z of terms [start, start + count), analytically, stacked: [count, *z.shape], no graph
// (classification: w_n·(softmax(z) − onehot(t)), zero where t is ignoreIndex; regression: z − t).
at::Tensor termGrads(const StepOptions& o, const at::Tensor& z, const std::vector<Term>& terms, int64_t start, int64_t count);
// Per-sample negative log-likelihoods [N] (with graph): sequences sum over positions, ignoring ignoreIndex.
at::Tensor perSampleNll(const StepOptions& o, const at::Tensor& z, const at::Tensor& target, const at::Tensor& weight);
// Checks targets against the task and the output before any work; throws std::invalid_argument.
void checkTargets(const StepOptions& o, const at::Tensor& z, const at::Tensor& y);

}  // namespace sq::fisher
