// Every ATen operator, reached through libtorch's dispatcher by name, as PyTorch's own Python binding
// does. One generic path (schema-driven argument conversion + callBoxed) replaces hundreds of
// hand-written wrappers; autograd, functorch and CUDA all apply because the dispatcher applies them.
#include "core/promise_worker.h"
#include "ops/ivalue.h"
#include <unordered_map>
#include <mutex>

namespace sq {

struct OpInfo {
  c10::OperatorHandle handle;
  std::string name;                 // "aten::add.Tensor" (no trailing dot for the default overload)
  std::vector<bool> writes;         // per argument: mutated in place (Tensor(a!), Tensor(a!)[])
  std::vector<bool> returnsAlias;   // per return: an in-place alias of an input (JS returns `this`)
};

static bool isWrite(const c10::AliasInfo* a) {
  if (!a) return false;
  if (a->isWrite()) return true;
  for (const auto& c : a->containedTypes()) if (isWrite(&c)) return true;
  return false;
}

// The operator cache is process-global (the dispatcher it mirrors is) and locked: worker_threads look
// operators up concurrently. Entries are immutable once made and never freed, so a handle found by any
// thread stays valid for the process' life.
static OpInfo* lookup(Napi::Env env, const std::string& name, const std::string& overload) {
  static std::mutex mutex;
  static std::unordered_map<std::string, std::unique_ptr<OpInfo>> cache;
  std::string key = name + "." + overload;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second.get();
  auto h = c10::Dispatcher::singleton().findSchema({name, overload});
  if (!h) throw Napi::Error::New(env, "no operator " + name + (overload.empty() ? "" : "." + overload) + " in this libtorch");
  auto info = std::make_unique<OpInfo>(OpInfo{*h, overload.empty() ? name : key, {}, {}});
  const auto& schema = h->schema();
  for (const auto& a : schema.arguments()) info->writes.push_back(isWrite(a.alias_info()));
  for (const auto& r : schema.returns()) info->returnsAlias.push_back(r.alias_info() && r.alias_info()->isWrite());
  auto* raw = info.get();
  cache.emplace(key, std::move(info));
  return raw;
}

static const napi_type_tag kOpTag = {0x6f70696e666f5371ULL, 0x2d8e4b1ac39f7d05ULL};

// findOp(name, overload): a handle to call with callOp; looked up once, kept for the process' life.
static Napi::Value FindOp(const Napi::CallbackInfo& info) {
  requireArgs(info, 2, "findOp");
  auto* op = lookup(info.Env(), info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value());
  auto ext = Napi::External<OpInfo>::New(info.Env(), op);
  ext.TypeTag(&kOpTag);
  return ext;
}

// The op handle in argument 0, checked: a tensor or module handle here must not be read as an OpInfo.
static OpInfo* unwrapOp(const Napi::CallbackInfo& info, const char* fn) {
  if (info.Length() < 1 || !info[0].IsExternal() || !info[0].As<Napi::External<OpInfo>>().CheckTypeTag(&kOpTag)) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": first argument must be an op handle (from findOp)");
  }
  return info[0].As<Napi::External<OpInfo>>().Data();
}

static Napi::Value Schema(const Napi::CallbackInfo& info) {
  auto* op = unwrapOp(info, "opSchema");
  std::ostringstream os;
  os << op->handle.schema();
  return Napi::String::New(info.Env(), os.str());
}

// Builds the argument stack; arguments after the ones given take their schema defaults.
static torch::jit::Stack buildStack(const Napi::CallbackInfo& info, OpInfo* op, size_t first, bool forAsync) {
  const auto& args = op->handle.schema().arguments();
  size_t given = info.Length() - first;
  if (given > args.size()) {
    throw Napi::TypeError::New(info.Env(), op->name + ": takes " + std::to_string(args.size()) + " arguments, got " + std::to_string(given));
  }
  torch::jit::Stack stack;
  stack.reserve(args.size());
  for (size_t i = 0; i < args.size(); i++) {
    const auto& a = args[i];
    Napi::Value v = i < given ? info[first + i] : info.Env().Undefined();
    if (v.IsUndefined()) {
      if (a.default_value()) { stack.push_back(*a.default_value()); continue; }
      if (a.type()->kind() == c10::TypeKind::OptionalType) { stack.emplace_back(); continue; }
      throw Napi::TypeError::New(info.Env(), op->name + ": missing required argument '" + a.name() + "'");
    }
    stack.push_back(ivalueFromJs(v, a, op->name));
  }
  return stack;
}

// Every tensor in the stack (also inside Tensor[] and Tensor?[] lists), read or written per the schema.
static std::vector<Access> accessesOf(OpInfo* op, const torch::jit::Stack& stack) {
  const auto& args = op->handle.schema().arguments();
  std::vector<Access> out;
  for (size_t i = 0; i < stack.size() && i < args.size(); i++) {
    const auto& v = stack[i];
    auto what = [&] { return op->name + ": argument '" + args[i].name() + "'"; };
    if (v.isTensor()) {
      out.push_back(Access{&v.toTensor(), op->writes[i], what()});
    } else if (v.isList()) {
      for (const auto& e : v.toListRef()) {
        if (e.isTensor()) out.push_back(Access{&e.toTensor(), op->writes[i], what()});
      }
    }
  }
  return out;
}

static Napi::Value results(Napi::Env env, OpInfo* op, torch::jit::Stack& stack) {
  size_t n = stack.size();
  if (n == 0) return env.Undefined();
  if (n == 1) return op->returnsAlias[0] ? env.Undefined() : jsFromIValue(env, stack[0]);
  auto a = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; i++) a.Set(static_cast<uint32_t>(i), op->returnsAlias[i] ? env.Undefined() : jsFromIValue(env, stack[i]));
  return a;
}

// callOp(op, ...args): runs the operator on this thread.
// libtorch's errors become TorchErrors naming the operator.
static Napi::Value CallOp(const Napi::CallbackInfo& info) {
  auto* op = unwrapOp(info, "callOp");
  auto stack = buildStack(info, op, 1, false);
  checkAccess(info.Env(), accessesOf(op, stack), op->name);
  try {
    op->handle.callBoxed(stack);
  } catch (const c10::Error& e) {
    throw torchError(info.Env(), e.what_without_backtrace(), op->name);
  }
  return results(info.Env(), op, stack);
}

// The async form: the stack (which holds references to every input tensor, keeping them alive) runs on
// a libuv worker thread with the caller's thread-local state (grad mode etc.); no N-API call is made
// there. Every input's storage is leased (read or written, per the schema) until the op settles, so the
// JS thread cannot change memory the op reads, nor touch memory it writes, through any view of it.
class OpWorker : public PromiseWorker {
 public:
  OpWorker(Napi::Env env, OpInfo* op, torch::jit::Stack stack) : PromiseWorker(env, op->name + ": ", op->name), op_(op), stack_(std::move(stack)) {
    lease_.acquire(env, accessesOf(op_, stack_), op_->name);
  }

 protected:
  void run() override { op_->handle.callBoxed(stack_); }
  Napi::Value result(Napi::Env env) override { return results(env, op_, stack_); }
  void settled() override { lease_.release(); }

 private:
  OpInfo* op_;
  torch::jit::Stack stack_;
  BusyLease lease_;
};

static Napi::Value CallOpAsync(const Napi::CallbackInfo& info) {
  auto* op = unwrapOp(info, "callOpAsync");
  return PromiseWorker::start(new OpWorker(info.Env(), op, buildStack(info, op, 1, true)));
}

void initOps(Napi::Env env, Napi::Object exports) {
  SQ_EXPORT(exports, "findOp", FindOp);
  SQ_EXPORT(exports, "opSchema", Schema);
  SQ_EXPORT(exports, "callOp", CallOp);
  SQ_EXPORT(exports, "callOpAsync", CallOpAsync);
}

}  // namespace sq
