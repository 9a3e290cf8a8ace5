// Tensor handles: creation from JS memory, copies back out, metadata, and explicit disposal.
// Element-wise maths lives in ops/ (the dispatcher binding); this file only moves bytes and reads shapes.
#include "core/common.h"
#include <cstring>

namespace sq {

// fromBuffer(data: TypedArray | Buffer | ArrayBuffer, dtypeCode, shape): a new CPU tensor holding a copy.
static Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
  requireArgs(info, 3, "fromBuffer");
  Napi::Env env = info.Env();
  const uint8_t* src = nullptr;
  size_t len = 0;
  if (info[0].IsTypedArray()) {
    auto ta = info[0].As<Napi::TypedArray>();
    src = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    len = ta.ByteLength();
  } else if (info[0].IsArrayBuffer()) {
    auto ab = info[0].As<Napi::ArrayBuffer>();
    src = static_cast<const uint8_t*>(ab.Data());
    len = ab.ByteLength();
  } else if (info[0].IsDataView()) {
    auto dv = info[0].As<Napi::DataView>();
    src = static_cast<const uint8_t*>(dv.ArrayBuffer().Data()) + dv.ByteOffset();
    len = dv.ByteLength();
  } else {
    throw Napi::TypeError::New(env, "fromBuffer: data must be a TypedArray, Buffer, DataView or ArrayBuffer");
  }
  auto dtype = toScalarType(info[1]);
  auto shape = toInt64Vector(info[2], "fromBuffer: shape");
  int64_t numel = 1;
  for (auto s : shape) {
    if (s < 0) throw Napi::RangeError::New(env, "fromBuffer: negative dimension in shape");
    numel *= s;
  }
  size_t need = static_cast<size_t>(numel) * c10::elementSize(dtype);
  if (need != len) {
    throw Napi::RangeError::New(env, "fromBuffer: shape " + c10::str(c10::IntArrayRef(shape)) + " of " +
                                         std::string(c10::toString(dtype)) + " needs " + std::to_string(need) +
                                         " bytes, the data has " + std::to_string(len));
  }
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
  if (len) std::memcpy(t.data_ptr(), src, len);
  return wrapTensor(env, std::move(t));
}

// toBuffer(h): an ArrayBuffer with a copy of the tensor's elements in row-major order (moved to CPU first).
static Napi::Value ToBuffer(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "toBuffer");
  at::Tensor t = unwrapTensor(info[0]);
  checkRead(info.Env(), t, "toBuffer");
  if (t.unsafeGetTensorImpl()->is_wrapped_number() || !t.unsafeGetTensorImpl()->has_storage()) {
    throw Napi::Error::New(info.Env(), "toBuffer: this tensor has no plain storage (is it a functorch-wrapped tensor used outside its transform?)");
  }
  if (!t.is_cpu()) t = t.to(at::kCPU);
  t = t.contiguous();
  if (t.is_conj()) t = t.resolve_conj();
  if (t.is_neg()) t = t.resolve_neg();
  size_t len = t.nbytes();
  // Uninitialised memory, filled once by memcpy: V8's own ArrayBuffer::New would zero it first.
  void* mem = std::malloc(len ? len : 1);
  if (!mem) throw Napi::Error::New(info.Env(), "toBuffer: out of memory allocating " + std::to_string(len) + " bytes");
  if (len) std::memcpy(mem, t.data_ptr(), len);
  return Napi::ArrayBuffer::New(info.Env(), mem, len, [](Napi::Env, void* p) { std::free(p); });
}

// Byte range of a TypedArray/Buffer/ArrayBuffer argument.
static std::pair<uint8_t*, size_t> bytesOf(const Napi::Value& v, const char* fn) {
  if (v.IsTypedArray()) {
    auto ta = v.As<Napi::TypedArray>();
    return {static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset(), ta.ByteLength()};
  }
  if (v.IsArrayBuffer()) return {static_cast<uint8_t*>(v.As<Napi::ArrayBuffer>().Data()), v.As<Napi::ArrayBuffer>().ByteLength()};
  throw Napi::TypeError::New(v.Env(), std::string(fn) + ": expected a TypedArray, Buffer or ArrayBuffer");
}

// copyToBuffer(h, dst): writes the elements into existing JS memory (no allocation: one memcpy for a
// contiguous CPU tensor), for callers that reuse buffers.
static Napi::Value CopyToBuffer(const Napi::CallbackInfo& info) {
  requireArgs(info, 2, "copyToBuffer");
  at::Tensor t = unwrapTensor(info[0]);
  checkRead(info.Env(), t, "copyTo");
  auto [dst, len] = bytesOf(info[1], "copyToBuffer");
  if (len != t.nbytes()) {
    throw Napi::RangeError::New(info.Env(), "copyToBuffer: the tensor has " + std::to_string(t.nbytes()) + " bytes, the destination " + std::to_string(len));
  }
  // Wrap the destination as a tensor and let libtorch copy (handles strides, devices and conj/neg bits).
  at::Tensor out = at::from_blob(dst, t.sizes(), at::TensorOptions().dtype(t.scalar_type()));
  out.copy_(t);
  return info.Env().Undefined();
}

// copyFromBuffer(h, src): overwrites the tensor's elements from JS memory of exactly its size.
static Napi::Value CopyFromBuffer(const Napi::CallbackInfo& info) {
  requireArgs(info, 2, "copyFromBuffer");
  at::Tensor t = unwrapTensor(info[0]);
  checkWrite(info.Env(), t, "copyFrom");
  auto [src, len] = bytesOf(info[1], "copyFromBuffer");
  if (len != t.nbytes()) {
    throw Napi::RangeError::New(info.Env(), "copyFromBuffer: the tensor has " + std::to_string(t.nbytes()) + " bytes, the source " + std::to_string(len));
  }
  at::NoGradGuard ng;
  t.copy_(at::from_blob(src, t.sizes(), at::TensorOptions().dtype(t.scalar_type())));
  return info.Env().Undefined();
}

// meta(h): [dtypeCode, shape, device, requiresGrad] in one call, cached by the TS Tensor.
static Napi::Value Meta(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "meta");
  const at::Tensor& t = unwrapTensor(info[0]);
  Napi::Env env = info.Env();
  checkRead(env, t, "meta");
  auto a = Napi::Array::New(env, 4);
  a.Set(0u, Napi::Number::New(env, static_cast<int>(t.scalar_type())));
  a.Set(1u, fromInt64Vector(env, t.sizes()));
  a.Set(2u, Napi::String::New(env, t.device().str()));
  a.Set(3u, Napi::Boolean::New(env, t.requires_grad()));
  return a;
}

static Napi::Value Strides(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "strides");
  const at::Tensor& t = unwrapTensor(info[0]);
  checkRead(info.Env(), t, "strides");
  auto a = fromInt64Vector(info.Env(), t.strides());
  return a;
}

// storageInfo(h): [storage identity as a string, storage bytes, storage offset in elements].
// Checkpoint writers use it to keep tensors that share storage sharing it on disk.
static Napi::Value StorageInfo(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "storageInfo");
  const at::Tensor& t = unwrapTensor(info[0]);
  Napi::Env env = info.Env();
  auto a = Napi::Array::New(env, 3);
  if (!t.unsafeGetTensorImpl()->has_storage()) throw Napi::Error::New(env, "storageInfo: tensor has no storage");
  auto st = t.storage();
  a.Set(0u, Napi::String::New(env, std::to_string(reinterpret_cast<uintptr_t>(st.unsafeGetStorageImpl()))));
  a.Set(1u, Napi::Number::New(env, static_cast<double>(st.nbytes())));
  a.Set(2u, Napi::Number::New(env, static_cast<double>(t.storage_offset())));
  return a;
}

static Napi::Value Item(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "item");
  const at::Tensor& t = unwrapTensor(info[0]);
  checkRead(info.Env(), t, "item");
  if (t.numel() != 1) {
    throw Napi::Error::New(info.Env(), "item: a tensor with " + std::to_string(t.numel()) +
                                           " elements cannot be converted to a number (needs exactly one)");
  }
  at::Scalar s = t.item();
  if (s.isBoolean()) return Napi::Boolean::New(info.Env(), s.toBool());
  if (s.isIntegral(false)) return Napi::Number::New(info.Env(), static_cast<double>(s.toLong()));
  return Napi::Number::New(info.Env(), s.toDouble());
}

static Napi::Value Dispose(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "dispose");
  disposeBox(info.Env(), unwrapBox(info[0]));
  return info.Env().Undefined();
}

static Napi::Value IsDisposed(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "isDisposed");
  return Napi::Boolean::New(info.Env(), !unwrapBox(info[0])->t.defined());
}

static Napi::Value IsTensor(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "isTensor");
  bool ok = info[0].IsExternal() && info[0].As<Napi::External<TensorBox>>().CheckTypeTag(&kTensorTag);
  return Napi::Boolean::New(info.Env(), ok);
}

// toString(h): libtorch's own printout, for debugging and REPL display.
static Napi::Value ToString(const Napi::CallbackInfo& info) {
  requireArgs(info, 1, "toString");
  std::ostringstream os;
  const at::Tensor& t = unwrapTensor(info[0]);
  checkRead(info.Env(), t, "toString");
  os << t;
  return Napi::String::New(info.Env(), os.str());
}

void initTensor(Napi::Env env, Napi::Object exports) {
  SQ_EXPORT(exports, "fromBuffer", FromBuffer);
  SQ_EXPORT(exports, "toBuffer", ToBuffer);
  SQ_EXPORT(exports, "copyToBuffer", CopyToBuffer);
  SQ_EXPORT(exports, "copyFromBuffer", CopyFromBuffer);
  SQ_EXPORT(exports, "meta", Meta);
  SQ_EXPORT(exports, "strides", Strides);
  SQ_EXPORT(exports, "storageInfo", StorageInfo);
  SQ_EXPORT(exports, "item", Item);
  SQ_EXPORT(exports, "dispose", Dispose);
  SQ_EXPORT(exports, "isDisposed", IsDisposed);
  SQ_EXPORT(exports, "isTensor", IsTensor);
  SQ_EXPORT(exports, "toString", ToString);
}

}  // namespace sq
