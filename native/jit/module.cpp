// TorchScript modules (torch.jit.save archives): load, forward (sync/async), parameters and buffers by
// dotted name, setattr (how per-sample gradients run through a scripted model), train/eval, save.
#include "jit/module.h"
#include "core/promise_worker.h"
#include "ops/ivalue.h"
#include <torch/csrc/jit/serialization/import.h>

namespace sq {

struct ModuleBox {
  torch::jit::Module m;
};

static Napi::Value wrapModule(Napi::Env env, torch::jit::Module m) {
  auto ext = Napi::External<ModuleBox>::New(env, new ModuleBox{std::move(m)}, [](Napi::Env, ModuleBox* b) { delete b; });
  ext.TypeTag(&kModuleTag);
  return ext;
}

torch::jit::Module& unwrapModule(const Napi::Value& v) {
  if (!v.IsExternal() || !v.As<Napi::External<ModuleBox>>().CheckTypeTag(&kModuleTag)) {
    throw Napi::TypeError::New(v.Env(), "expected a TorchScript module handle");
  }
  return v.As<Napi::External<ModuleBox>>().Data()->m;
}

// jitLoad(path, device|null)
static Napi::Value Load(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "jitLoad");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  std::optional<c10::Device> dev;
  if (info.Length() > 1 && info[1].IsString()) dev = toDevice(info[1]);
  try {
    return wrapModule(info.Env(), torch::jit::load(path, dev));
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), path + ": not a loadable TorchScript archive: " + e.what_without_backtrace());
  }
}

static std::vector<c10::IValue> inputsFrom(const Napi::Value& v) {
  if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), "forward: inputs must be an array");
  auto a = v.As<Napi::Array>();
  std::vector<c10::IValue> in;
  for (uint32_t i = 0; i < a.Length(); i++) in.push_back(ivalueFromJsUntyped(a.Get(i)));
  return in;
}

// What a forward touches: every parameter (read), every buffer (written when its module is training:
// batch norm updates running statistics in place, else read) and every input tensor (read).
struct ForwardUse {
  std::vector<at::Tensor> tensors;
  std::vector<bool> writes;
  std::vector<Access> accesses() const {
    std::vector<Access> a;
    for (size_t i = 0; i < tensors.size(); i++) a.push_back(Access{&tensors[i], writes[i], i < nModule ? "forward: a parameter or buffer of the module" : "forward: an input"});
    return a;
  }
  size_t nModule = 0;
};

static void collectTensors(const c10::IValue& v, std::vector<at::Tensor>& out) {
  if (v.isTensor()) out.push_back(v.toTensor());
  else if (v.isTensorList()) for (const auto& t : v.toTensorList()) out.push_back(t);
  else if (v.isList()) for (const auto& e : v.toListRef()) collectTensors(e, out);
  else if (v.isTuple()) for (const auto& e : v.toTupleRef().elements()) collectTensors(e, out);
  else if (v.isGenericDict()) for (const auto& kv : v.toGenericDict()) collectTensors(kv.value(), out);
}

static ForwardUse forwardUse(const torch::jit::Module& m, const std::vector<c10::IValue>& in) {
  ForwardUse u;
  for (const auto& sub : m.modules()) {
    for (const auto& p : sub.parameters(false)) { u.tensors.push_back(p); u.writes.push_back(false); }
    bool training = sub.is_training();
    for (const auto& b : sub.buffers(false)) { u.tensors.push_back(b); u.writes.push_back(training); }
  }
  u.nModule = u.tensors.size();
  std::vector<at::Tensor> inputs;
  for (const auto& v : in) collectTensors(v, inputs);
  for (auto& t : inputs) { u.tensors.push_back(std::move(t)); u.writes.push_back(false); }
  return u;
}

// A snapshot of the module tree's attribute slots (not of the tensors): a new object per module with
// the same type and slot values. An async forward runs on it, so attribute swaps made on the JS thread
// meanwhile (functionalCall, setattr) cannot reach a forward already started, which sees exactly the
// parameters it was called with; the swap proceeds at once instead of being refused. In-place writes
// to the shared tensors are what the storage lease refuses.
static torch::jit::Module snapshot(const torch::jit::Module& m) {
  auto obj = m._ivalue()->copy();
  for (size_t i = 0; i < obj->slots().size(); i++) {
    const auto& v = obj->getSlot(i);
    if (v.isObject() && v.toObjectRef().type()->is_module()) obj->setSlot(i, snapshot(torch::jit::Module(v.toObject()))._ivalue());
  }
  return torch::jit::Module(obj);
}

static Napi::Value Forward(const Napi::CallbackInfo& info) {
  requireArgs(info, 2, "jitForward");
  auto& m = unwrapModule(info[0]);
  auto in = inputsFrom(info[1]);
  auto use = forwardUse(m, in);
  checkAccess(info.Env(), use.accesses(), "forward");
  c10::IValue out;
  try {
    out = m.forward(std::move(in));
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw torchError(info.Env(), e.what_without_backtrace(), "forward");
  } catch (const std::exception& e) {  // TorchScript's own exceptions (raise in a scripted model)
    throw torchError(info.Env(), e.what(), "forward");
  }
  return jsFromIValue(info.Env(), out);
}

class ForwardWorker : public PromiseWorker {
 public:
  ForwardWorker(Napi::Env env, const torch::jit::Module& m, std::vector<c10::IValue> in)
      : PromiseWorker(env, "forward: "), m_(snapshot(m)), in_(std::move(in)) {
    stdExceptionsAreTorch_ = true;
    auto use = forwardUse(m_, in_);
    lease_.acquire(env, use.accesses(), "forward");
  }

 protected:
  void run() override { out_ = m_.forward(in_); }
  Napi::Value result(Napi::Env env) override { return jsFromIValue(env, out_); }
  void settled() override { lease_.release(); }

 private:
  torch::jit::Module m_;
  std::vector<c10::IValue> in_;
  c10::IValue out_;
  BusyLease lease_;
};

static Napi::Value ForwardAsync(const Napi::CallbackInfo& info) {
  requireArgs(info, 2, "jitForwardAsync");
  return PromiseWorker::start(new ForwardWorker(info.Env(), unwrapModule(info[0]), inputsFrom(info[1])));
}

template <typename List>
static Napi::Value namedList(Napi::Env env, const List& list) {
  auto a = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& nt : list) {
    auto pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::String::New(env, nt.name));
    pair.Set(1u, wrapTensor(env, nt.value));
    a.Set(i++, pair);
  }
  return a;
}

static Napi::Value NamedParameters(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "jitNamedParameters");
  return namedList(info.Env(), unwrapModule(info[0]).named_parameters(true));
}

static Napi::Value NamedBuffers(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "jitNamedBuffers");
  return namedList(info.Env(), unwrapModule(info[0]).named_buffers(true));
}

// Walks "a.b.c" to the module owning attribute "c".
static std::pair<torch::jit::Module, std::string> owner(Napi::Env env, torch::jit::Module m, const std::string& dotted) {
  size_t start = 0, dot;
  while ((dot = dotted.find('.', start)) != std::string::npos) {
    std::string part = dotted.substr(start, dot - start);
    if (!m.hasattr(part) || !m.attr(part).isModule()) throw Napi::Error::New(env, "no submodule '" + part + "' on the path '" + dotted + "'");
    m = m.attr(part).toModule();
    start = dot + 1;
  }
  return {m, dotted.substr(start)};
}

// jitSetAttr(m, "layer.weight", tensor): replaces a parameter/buffer/attribute value in place of the slot.
static Napi::Value SetAttr(const Napi::CallbackInfo& info) {
  requireArgs(info, 3, "jitSetAttr");
  std::string name = info[1].As<Napi::String>().Utf8Value();
  auto [m, attr] = owner(info.Env(), unwrapModule(info[0]), name);
  if (!m.hasattr(attr)) throw Napi::Error::New(info.Env(), "module has no attribute '" + name + "'");
  m.setattr(attr, unwrapTensor(info[2], name.c_str()));
  return info.Env().Undefined();
}

static Napi::Value GetAttr(const Napi::CallbackInfo& info) {
  requireArgs(info, 2, "jitGetAttr");
  std::string name = info[1].As<Napi::String>().Utf8Value();
  auto [m, attr] = owner(info.Env(), unwrapModule(info[0]), name);
  if (!m.hasattr(attr)) throw Napi::Error::New(info.Env(), "module has no attribute '" + name + "'");
  auto v = m.attr(attr);
  if (v.isModule()) throw Napi::Error::New(info.Env(), "'" + name + "' is a submodule, not a value");
  return jsFromIValue(info.Env(), v);
}

static Napi::Value Train(const Napi::CallbackInfo& info) {
  requireArgs(info, 2, "jitTrain");
  unwrapModule(info[0]).train(info[1].ToBoolean().Value());
  return info.Env().Undefined();
}

static Napi::Value IsTraining(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "jitIsTraining");
  return Napi::Boolean::New(info.Env(), unwrapModule(info[0]).is_training());
}

// jitTo(m, device|null, dtypeCode|null): moves parameters and buffers in place, like Module.to in Python.
static Napi::Value To(const Napi::CallbackInfo& info) {
  requireArgs(info, 3, "jitTo");
  auto& m = unwrapModule(info[0]);
  // Module.to replaces each tensor's data in place (set_data): pending work must not be using them.
  std::vector<at::Tensor> ts;
  for (const auto& p : m.parameters(true)) ts.push_back(p);
  for (const auto& b : m.buffers(true)) ts.push_back(b);
  std::vector<Access> acc;
  for (const auto& t : ts) acc.push_back(Access{&t, true, "module.to: a parameter or buffer"});
  checkAccess(info.Env(), acc, "module.to");
  bool hasDev = info[1].IsString(), hasType = info[2].IsNumber();
  if (hasDev && hasType) m.to(toDevice(info[1]), toScalarType(info[2]));
  else if (hasDev) m.to(toDevice(info[1]));
  else if (hasType) m.to(toScalarType(info[2]));
  return info.Env().Undefined();
}

static Napi::Value Save(const Napi::CallbackInfo& info) {
  requireArgs(info, 2, "jitSave");
  unwrapModule(info[0]).save(info[1].As<Napi::String>().Utf8Value());
  return info.Env().Undefined();
}

// jitChildren(m): [[name, typeName]] of direct submodules; typeName is the scripted class' name
// ("Linear", "Conv2d", ...), which lets callers recognise layers with fast Fisher rules.
static Napi::Value Children(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "jitChildren");
  Napi::Env env = info.Env();
  auto a = Napi::Array::New(env);
  uint32_t i = 0;
  for (const auto& c : unwrapModule(info[0]).named_children()) {
    auto pair = Napi::Array::New(env, 3);
    pair.Set(0u, Napi::String::New(env, c.name));
    pair.Set(1u, Napi::String::New(env, c.value.type()->name() ? c.value.type()->name()->name() : "?"));
    pair.Set(2u, wrapModule(env, c.value));
    a.Set(i++, pair);
  }
  return a;
}

static Napi::Value TypeName(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "jitTypeName");
  auto& m = unwrapModule(info[0]);
  return Napi::String::New(info.Env(), m.type()->name() ? m.type()->name()->qualifiedName() : "?");
}

static Napi::Value Code(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "jitCode");
  auto& m = unwrapModule(info[0]);
  if (!m.find_method("forward")) return info.Env().Null();
  std::ostringstream os;
  os << m.get_method("forward").function().getSchema();
  return Napi::String::New(info.Env(), os.str());
}

void initJit(Napi::Env env, Napi::Object exports) {
  SQ_EXPORT(exports, "jitLoad", Load);
  SQ_EXPORT(exports, "jitForward", Forward);
  SQ_EXPORT(exports, "jitForwardAsync", ForwardAsync);
  SQ_EXPORT(exports, "jitNamedParameters", NamedParameters);
  SQ_EXPORT(exports, "jitNamedBuffers", NamedBuffers);
  SQ_EXPORT(exports, "jitSetAttr", SetAttr);
  SQ_EXPORT(exports, "jitGetAttr", GetAttr);
  SQ_EXPORT(exports, "jitTrain", Train);
  SQ_EXPORT(exports, "jitIsTraining", IsTraining);
  SQ_EXPORT(exports, "jitTo", To);
  SQ_EXPORT(exports, "jitSave", Save);
  SQ_EXPORT(exports, "jitChildren", Children);
  SQ_EXPORT(exports, "jitTypeName", TypeName);
  SQ_EXPORT(exports, "jitSchema", Code);
}

}  // namespace sq
