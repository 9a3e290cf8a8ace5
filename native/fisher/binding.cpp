// N-API surface of the graph-level Fisher engine: build a plan for a TorchScript module, run batches on
// libuv's worker pool (or, for comparison, on the JS thread), read the per-parameter plan and the sums.
// Errors carry a "[ShapeError]" / "[OptionError]" / "[DTypeError]" tag that lib/fisher maps to its
// typed errors.
#include "core/promise_worker.h"
#include "fisher/engine.h"
#include "jit/module.h"
#include "ops/ivalue.h"

namespace sq {

namespace fisher {
namespace {

const napi_type_tag kPlanTag = {0x7c4b2a19e8d34f60ULL, 0xa1b2c3d4e5f60718ULL};

struct PlanBox {
  std::shared_ptr<Plan> plan;
};

std::shared_ptr<Plan> planOf(const Napi::Value& v) {
  if (!v.IsExternal() || !v.As<Napi::External<PlanBox>>().CheckTypeTag(&kPlanTag)) {
    throw Napi::TypeError::New(v.Env(), "expected a Fisher plan handle");
  }
  return v.As<Napi::External<PlanBox>>().Data()->plan;
}

Napi::Value wrapPlan(Napi::Env env, std::shared_ptr<Plan> plan);

// fisherPlan(module, onlyNames: string[] | null)
Napi::Value MakePlan(const Napi::CallbackInfo& info) {
  requireArgs(info, 2, "fisherPlan");
  std::vector<std::string> only;
  if (info[1].IsArray()) {
    auto a = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) only.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  }
  std::shared_ptr<Plan> plan;
  try {
    plan = buildPlan(unwrapModule(info[0]), only);
  } catch (const std::invalid_argument& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
  return wrapPlan(info.Env(), plan);
}

Napi::Value wrapPlan(Napi::Env env, std::shared_ptr<Plan> plan) {
  auto ext = Napi::External<PlanBox>::New(env, new PlanBox{std::move(plan)}, [](Napi::Env, PlanBox* b) { delete b; });
  ext.TypeTag(&kPlanTag);
  return ext;
}

// Building a plan (copy, inline and analyse a large graph) takes tens of ms: off the JS thread too.
class PlanWorker : public PromiseWorker {
 public:
  PlanWorker(Napi::Env env, torch::jit::Module m, std::vector<std::string> only) : PromiseWorker(env, ""), m_(std::move(m)), only_(std::move(only)) {}

 protected:
  void run() override { plan_ = buildPlan(m_, only_); }
  Napi::Value result(Napi::Env env) override { return wrapPlan(env, std::move(plan_)); }

 private:
  torch::jit::Module m_;
  std::vector<std::string> only_;
  std::shared_ptr<Plan> plan_;
};

// fisherPlanAsync(module, onlyNames | null) -> Promise<plan>
Napi::Value MakePlanAsync(const Napi::CallbackInfo& info) {
  requireArgs(info, 2, "fisherPlanAsync");
  std::vector<std::string> only;
  if (info[1].IsArray()) {
    auto a = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) only.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  }
  return PromiseWorker::start(new PlanWorker(info.Env(), unwrapModule(info[0]), std::move(only)));
}

// fisherPlanInfo(plan) -> [{ name, aliases, fallback, why, uses: [kind] }]
Napi::Value PlanInfo(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "fisherPlanInfo");
  auto plan = planOf(info[0]);
  Napi::Env env = info.Env();
  auto out = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& p : plan->params) {
    auto o = Napi::Object::New(env);
    o.Set("name", p.name);
    auto al = Napi::Array::New(env);
    for (uint32_t k = 0; k < p.aliases.size(); k++) al.Set(k, p.aliases[k]);
    o.Set("aliases", al);
    o.Set("fallback", p.fallback);
    o.Set("why", p.why);
    o.Set("how", p.how);
    auto us = Napi::Array::New(env);
    for (uint32_t k = 0; k < p.uses.size(); k++) us.Set(k, plan->uses[p.uses[k].first].kind);
    o.Set("uses", us);
    out.Set(i++, o);
  }
  return out;
}

// fisherPlanStats(plan) -> { backwards, vmapped, perTerm, perTermWhy }: how the pass's backwards ran so far.
Napi::Value PlanStats(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "fisherPlanStats");
  auto plan = planOf(info[0]);
  auto o = Napi::Object::New(info.Env());
  o.Set("backwards", static_cast<double>(plan->backwards));
  o.Set("vmapped", static_cast<double>(plan->vmappedBackwards));
  o.Set("perTerm", static_cast<double>(plan->perTermBackwards));
  o.Set("perTermWhy", plan->perTermWhy);
  return o;
}

StepOptions optionsFrom(const Napi::Object& o) {
  StepOptions s;
  auto str = [&](const char* k, std::string& dst) { if (o.Has(k) && o.Get(k).IsString()) dst = o.Get(k).As<Napi::String>().Utf8Value(); };
  auto num = [&](const char* k, int64_t& dst) { if (o.Has(k) && o.Get(k).IsNumber()) dst = o.Get(k).As<Napi::Number>().Int64Value(); };
  str("variant", s.variant);
  str("task", s.task);
  num("samples", s.samples);
  num("ignoreIndex", s.ignoreIndex);
  num("maxExactClasses", s.maxExactClasses);
  num("termsPerBackward", s.termsPerBackward);
  if (o.Has("shift")) s.shift = o.Get("shift").ToBoolean().Value();
  if (o.Has("allowFallback")) s.allowFallback = o.Get("allowFallback").ToBoolean().Value();
  if (o.Has("output")) {
    auto v = o.Get("output");
    if (v.IsNumber()) s.output = c10::IValue(v.As<Napi::Number>().Int64Value());
    else if (v.IsString()) s.output = c10::IValue(v.As<Napi::String>().Utf8Value());
  }
  return s;
}

struct StepArgs {
  std::vector<c10::IValue> inputs;
  at::Tensor y;
  StepOptions o;
};

StepArgs argsFrom(const Napi::CallbackInfo& info) {
  StepArgs a;
  if (!info[1].IsArray()) throw Napi::TypeError::New(info.Env(), "fisherStep: inputs must be an array");
  auto arr = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) a.inputs.push_back(ivalueFromJsUntyped(arr.Get(i)));
  a.y = unwrapTensor(info[2], "targets");
  a.o = optionsFrom(info[3].As<Napi::Object>());
  return a;
}

// Marks the plan busy for one batch: a second concurrent batch on the same plan is refused.
struct BusyGuard {
  explicit BusyGuard(Plan& p) : p_(p) {
    if (p.busy.exchange(true)) throw std::invalid_argument("[OptionError] a batch of this Fisher pass is still running");
  }
  ~BusyGuard() { p_.busy = false; }
  Plan& p_;
};

class StepWorker : public PromiseWorker {
 public:
  StepWorker(Napi::Env env, std::shared_ptr<Plan> plan, StepArgs a) : PromiseWorker(env, ""), plan_(std::move(plan)), a_(std::move(a)) {}

 protected:
  void run() override {
    BusyGuard busy(*plan_);
    n_ = step(*plan_, a_.inputs, a_.y, a_.o);
  }
  Napi::Value result(Napi::Env env) override { return Napi::Number::New(env, static_cast<double>(n_)); }

 private:
  std::shared_ptr<Plan> plan_;
  StepArgs a_;
  int64_t n_ = 0;
};

// fisherStepAsync(plan, inputs, y, options) -> Promise<number of samples>
Napi::Value StepAsync(const Napi::CallbackInfo& info) {
  requireArgs(info, 4, "fisherStepAsync");
  return PromiseWorker::start(new StepWorker(info.Env(), planOf(info[0]), argsFrom(info)));
}

// fisherStep(plan, inputs, y, options) -> number: the same batch on the JS thread.
Napi::Value StepSync(const Napi::CallbackInfo& info) {
  requireArgs(info, 4, "fisherStep");
  auto plan = planOf(info[0]);
  auto a = argsFrom(info);
  try {
    BusyGuard busy(*plan);
    return Napi::Number::New(info.Env(), static_cast<double>(step(*plan, a.inputs, a.y, a.o)));
  } catch (const std::invalid_argument& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

// fisherSums(plan) -> [[name, tensor]]: the running Σ g² (un-normalised), one entry per parameter.
Napi::Value Sums(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "fisherSums");
  auto plan = planOf(info[0]);
  Napi::Env env = info.Env();
  auto out = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& p : plan->params) {
    auto pair = Napi::Array::New(env, 2);
    pair.Set(0u, p.name);
    pair.Set(1u, wrapTensor(env, p.acc));
    out.Set(i++, pair);
  }
  return out;
}

}  // namespace

void initFisher(Napi::Env env, Napi::Object exports) {
  SQ_EXPORT(exports, "fisherPlan", MakePlan);
  SQ_EXPORT(exports, "fisherPlanAsync", MakePlanAsync);
  SQ_EXPORT(exports, "fisherPlanInfo", PlanInfo);
  SQ_EXPORT(exports, "fisherPlanStats", PlanStats);
  SQ_EXPORT(exports, "fisherStepAsync", StepAsync);
  SQ_EXPORT(exports, "fisherStep", StepSync);
  SQ_EXPORT(exports, "fisherSums", Sums);
}

}  // namespace fisher
}  // namespace sq
