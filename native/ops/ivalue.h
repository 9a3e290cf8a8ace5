// Conversion between JS values and libtorch IValues, driven by an operator's schema.
#pragma once
#include "core/common.h"

namespace sq {
// Converts one JS argument to the IValue the schema's argument `arg` expects; `opName` names errors.
c10::IValue ivalueFromJs(const Napi::Value& v, const c10::Argument& arg, const std::string& opName);
// Converts a result to JS: tensors become handles, tuples/lists arrays, numbers numbers.
Napi::Value jsFromIValue(Napi::Env env, const c10::IValue& v);
// Schema-free conversion for TorchScript inputs: tensors, numbers, booleans, strings, arrays (as lists
// of tensors when all are tensors, else tuples), plain objects (as Dict[str, ...]).
c10::IValue ivalueFromJsUntyped(const Napi::Value& v);
}  // namespace sq
