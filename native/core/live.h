// Live tensor accounting for memory(): every handle JS holds is counted from wrapTensor until dispose()
// or its finalizer, per device, with the bytes of the distinct storages behind them. Counted here, not in
// JS, because a tensor whose JS object was collected still holds its memory until the finalizer runs
// (after the event loop turns), and that is exactly the case memory() must show.
#pragma once
#include "pch.h"

namespace sq {
void liveAdd(const at::Tensor& t);
void liveRemove(const at::Tensor& t);
void initLive(Napi::Env env, Napi::Object exports);
}
