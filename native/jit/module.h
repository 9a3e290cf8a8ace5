// The TorchScript module handle made by native/jit/module.cpp, for other native files that take one
// (the Fisher engine): one definition of its layout and of the check of its type tag.
#pragma once
#include "core/common.h"
#include <torch/csrc/jit/api/module.h>

namespace sq {

// The module behind a handle from jitLoad; a TypeError when v is not one.
torch::jit::Module& unwrapModule(const Napi::Value& v);

}  // namespace sq
