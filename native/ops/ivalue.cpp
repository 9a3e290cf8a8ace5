#include "ops/ivalue.h"

namespace sq {

static std::string describeJs(const Napi::Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsUndefined()) return "undefined";
  if (v.IsNumber()) return "number";
  if (v.IsBoolean()) return "boolean";
  if (v.IsString()) return "string";
  if (v.IsBigInt()) return "bigint";
  if (v.IsArray()) return "array";
  if (v.IsExternal()) return "native handle";
  return "object";
}

[[noreturn]] static void badArg(const Napi::Value& v, const c10::Argument& arg, const std::string& op, const std::string& want) {
  throw Napi::TypeError::New(v.Env(), op + ": argument '" + arg.name() + "' expects " + want + ", got " + describeJs(v));
}

static double toDouble(const Napi::Value& v, const c10::Argument& arg, const std::string& op) {
  if (v.IsNumber()) return v.As<Napi::Number>().DoubleValue();
  if (v.IsBigInt()) return static_cast<double>(toInt64(v, arg.name().c_str()));
  badArg(v, arg, op, "a number");
}

static int64_t toInt(const Napi::Value& v, const c10::Argument& arg, const std::string& op) {
  if (!v.IsNumber() && !v.IsBigInt()) badArg(v, arg, op, "an integer");
  return toInt64(v, (op + ": argument '" + arg.name() + "'").c_str());
}

// A dtype / layout / memory-format code: an integer in [0, limit), else a typed error naming the
// operator, the argument and the code.
static int64_t enumCode(const Napi::Value& v, const c10::Argument& arg, const std::string& op, const char* kind, int64_t limit,
                        const char* errorClass) {
  int64_t code = toInt(v, arg, op);
  if (code < 0 || code >= limit) {
    throw typedError(v.Env(), errorClass, op + ": argument '" + arg.name() + "': unknown " + kind + " code " + std::to_string(code) +
                                              " (libtorch's codes are 0.." + std::to_string(limit - 1) + ")");
  }
  return code;
}

static c10::IValue convert(const Napi::Value& v, const c10::TypePtr& type, const c10::Argument& arg, const std::string& op) {
  using K = c10::TypeKind;
  switch (type->kind()) {
    case K::TensorType:
      if (!v.IsExternal()) badArg(v, arg, op, "a Tensor");
      return unwrapTensor(v, (op + ": argument '" + arg.name() + "'").c_str());
    case K::OptionalType:
      if (v.IsNull() || v.IsUndefined()) return c10::IValue();
      return convert(v, type->castRaw<c10::OptionalType>()->getElementType(), arg, op);
    case K::IntType:
    case K::SymIntType:
      return toInt(v, arg, op);
    case K::FloatType:
    case K::SymFloatType:
      return toDouble(v, arg, op);
    case K::BoolType:
    case K::SymBoolType:
      if (!v.IsBoolean()) badArg(v, arg, op, "a boolean");
      return v.As<Napi::Boolean>().Value();
    case K::NumberType: {  // at::Scalar: integers stay integral so int tensors keep their dtype
      if (v.IsBoolean()) return c10::Scalar(v.As<Napi::Boolean>().Value());
      if (v.IsBigInt()) return c10::Scalar(toInt64(v, arg.name().c_str()));
      if (!v.IsNumber()) badArg(v, arg, op, "a number");
      double d = v.As<Napi::Number>().DoubleValue();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9007199254740992.0) return c10::Scalar(static_cast<int64_t>(d));
      return c10::Scalar(d);
    }
    case K::StringType:
      if (!v.IsString()) badArg(v, arg, op, "a string");
      return v.As<Napi::String>().Utf8Value();
    case K::DeviceObjType:
      return toDevice(v, (op + ": argument '" + arg.name() + "'").c_str());
    // Enum codes reach libtorch as bare integers, which it indexes tables with: an unknown one must be
    // refused here (issue 9: aten::empty with dtype -1 or 999 crashed).
    case K::ScalarTypeType:
      return enumCode(v, arg, op, "dtype", static_cast<int64_t>(c10::ScalarType::Undefined), "DTypeError");
    case K::LayoutType:
      return enumCode(v, arg, op, "layout", static_cast<int64_t>(c10::Layout::NumOptions), "OptionError");
    case K::MemoryFormatType:
      return enumCode(v, arg, op, "memory format", static_cast<int64_t>(c10::MemoryFormat::NumOptions), "OptionError");
    case K::ListType: {
      auto elem = type->castRaw<c10::ListType>()->getElementType();
      auto ek = elem->kind();
      // PyTorch accepts a single int for int[N] (kernel_size=3 means [3, 3]); so do we.
      if ((ek == K::IntType || ek == K::SymIntType) && (v.IsNumber() || v.IsBigInt())) {
        int64_t x = toInt(v, arg, op);
        c10::List<int64_t> l;
        for (int i = 0; i < arg.N().value_or(1); i++) l.push_back(x);
        return l;
      }
      if (!v.IsArray()) badArg(v, arg, op, "an array");
      auto a = v.As<Napi::Array>();
      uint32_t n = a.Length();
      if (ek == K::IntType || ek == K::SymIntType) {
        c10::List<int64_t> l;
        l.reserve(n);
        for (uint32_t i = 0; i < n; i++) l.push_back(toInt(a.Get(i), arg, op));
        return l;
      }
      if (ek == K::FloatType) {
        c10::List<double> l;
        for (uint32_t i = 0; i < n; i++) l.push_back(toDouble(a.Get(i), arg, op));
        return l;
      }
      if (ek == K::BoolType) {
        c10::List<bool> l;
        for (uint32_t i = 0; i < n; i++) {
          auto e = a.Get(i);
          if (!e.IsBoolean()) badArg(e, arg, op, "booleans");
          l.push_back(e.As<Napi::Boolean>().Value());
        }
        return l;
      }
      if (ek == K::TensorType) {
        c10::List<at::Tensor> l;
        l.reserve(n);
        for (uint32_t i = 0; i < n; i++) l.push_back(unwrapTensor(a.Get(i), (op + ": argument '" + arg.name() + "'").c_str()));
        return l;
      }
      if (ek == K::OptionalType && elem->castRaw<c10::OptionalType>()->getElementType()->kind() == K::TensorType) {
        c10::List<std::optional<at::Tensor>> l;
        for (uint32_t i = 0; i < n; i++) {
          auto e = a.Get(i);
          if (e.IsNull() || e.IsUndefined()) l.push_back(std::nullopt);
          else l.push_back(unwrapTensor(e, (op + ": argument '" + arg.name() + "'").c_str()));
        }
        return l;
      }
      badArg(v, arg, op, "a list of " + elem->str() + " (unsupported element type)");
    }
    default:
      throw Napi::TypeError::New(v.Env(), op + ": argument '" + arg.name() + "' has type " + type->str() +
                                              ", which squisher cannot pass from JavaScript");
  }
}

c10::IValue ivalueFromJs(const Napi::Value& v, const c10::Argument& arg, const std::string& opName) {
  // real_type(): the schema type as written (ScalarType, Layout, ...); type() folds those into int.
  return convert(v, arg.real_type(), arg, opName);
}

Napi::Value jsFromIValue(Napi::Env env, const c10::IValue& v) {
  if (v.isTensor()) {
    const auto& t = v.toTensor();
    if (!t.defined()) return env.Null();
    return wrapTensor(env, t);
  }
  if (v.isNone()) return env.Null();
  if (v.isInt()) return Napi::Number::New(env, static_cast<double>(v.toInt()));
  if (v.isDouble()) return Napi::Number::New(env, v.toDouble());
  if (v.isBool()) return Napi::Boolean::New(env, v.toBool());
  if (v.isString()) return Napi::String::New(env, v.toStringRef());
  if (v.isTuple()) {
    const auto& el = v.toTupleRef().elements();
    auto a = Napi::Array::New(env, el.size());
    for (size_t i = 0; i < el.size(); i++) a.Set(static_cast<uint32_t>(i), jsFromIValue(env, el[i]));
    return a;
  }
  if (v.isList()) {
    auto l = v.toListRef();
    auto a = Napi::Array::New(env, l.size());
    for (size_t i = 0; i < l.size(); i++) a.Set(static_cast<uint32_t>(i), jsFromIValue(env, l[i]));
    return a;
  }
  if (v.isGenericDict()) {
    auto o = Napi::Object::New(env);
    for (const auto& kv : v.toGenericDict()) {
      std::string key = kv.key().isString() ? kv.key().toStringRef() : kv.key().tagKind() + std::string("?");
      if (kv.key().isInt()) key = std::to_string(kv.key().toInt());
      o.Set(key, jsFromIValue(env, kv.value()));
    }
    return o;
  }
  if (v.isScalar()) return Napi::Number::New(env, v.toScalar().toDouble());
  if (v.isDevice()) return Napi::String::New(env, v.toDevice().str());
  throw Napi::Error::New(env, "cannot convert a libtorch value of kind " + v.tagKind() + " to JavaScript");
}

c10::IValue ivalueFromJsUntyped(const Napi::Value& v) {
  if (v.IsExternal()) return unwrapTensor(v, "input");
  if (v.IsNull() || v.IsUndefined()) return c10::IValue();
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value();
  if (v.IsString()) return v.As<Napi::String>().Utf8Value();
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (d == std::floor(d) && std::fabs(d) < 9007199254740992.0) return static_cast<int64_t>(d);
    return d;
  }
  if (v.IsArray()) {
    auto a = v.As<Napi::Array>();
    bool allTensors = a.Length() > 0;
    for (uint32_t i = 0; i < a.Length(); i++) allTensors = allTensors && a.Get(i).IsExternal();
    if (allTensors) {
      c10::List<at::Tensor> l;
      for (uint32_t i = 0; i < a.Length(); i++) l.push_back(unwrapTensor(a.Get(i), "input"));
      return l;
    }
    std::vector<c10::IValue> el;
    for (uint32_t i = 0; i < a.Length(); i++) el.push_back(ivalueFromJsUntyped(a.Get(i)));
    return c10::ivalue::Tuple::create(std::move(el));
  }
  if (v.IsObject()) {
    auto o = v.As<Napi::Object>();
    auto keys = o.GetPropertyNames();
    c10::impl::GenericDict d(c10::StringType::get(), c10::TensorType::get());
    for (uint32_t i = 0; i < keys.Length(); i++) {
      std::string k = keys.Get(i).As<Napi::String>().Utf8Value();
      d.insert(k, unwrapTensor(o.Get(k), ("input['" + k + "']").c_str()));
    }
    return d;
  }
  throw Napi::TypeError::New(v.Env(), "input: cannot pass a " + std::string("value of this type") + " to TorchScript");
}

}  // namespace sq
