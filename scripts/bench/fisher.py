"""Python side of scripts/bench/fisher.js (same models, same data, same thread count).

  fisher.py setup DIR                      the MLP (784-1024-1024-10) and small CNN, scripted, + data (B=256)
  fisher.py time DIR DEVICE THREADS REPS CHUNK   median ms of: one plain batched backward; torch.func vmap(grad)
                                           per-sample gradients squared and summed (the empirical Fisher)
  fisher.py peak DIR DEVICE MODEL METHOD   peak memory of one run of METHOD (plain | func) over the loaded state
"""
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch.func import functional_call, grad, vmap

B = 256


def models():
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
    cnn = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    return {"mlp": mlp, "cnn": cnn}


def setup(d):
    os.makedirs(d, exist_ok=True)
    for name, m in models().items():
        torch.jit.script(m.eval()).save(os.path.join(d, f"{name}.jit.pt"))
        m.load_state_dict({k: v for k, v in m.state_dict().items()})
        torch.save(m.state_dict(), os.path.join(d, f"{name}.sd.pt"))
    torch.manual_seed(1)
    save_file({"x": torch.randn(B, 1, 28, 28), "y": torch.randint(0, 10, (B,))}, os.path.join(d, "data.safetensors"))


def load(d, name, device):
    m = models()[name]
    m.load_state_dict(torch.load(os.path.join(d, f"{name}.sd.pt"), weights_only=True))
    m = m.to(device).eval()
    data = load_file(os.path.join(d, "data.safetensors"))
    return m, data["x"].to(device), data["y"].to(device)


def methods(m, x, y, chunk):
    params = {k: v.detach() for k, v in m.named_parameters()}

    def plain():
        m.zero_grad(set_to_none=True)
        F.cross_entropy(m(x), y, reduction="sum").backward()

    def loss1(p, xi, yi):
        return F.cross_entropy(functional_call(m, p, (xi.unsqueeze(0),)), yi.unsqueeze(0), reduction="sum")

    psg = vmap(grad(loss1), in_dims=(None, 0, 0), chunk_size=chunk)

    def func():
        g = psg(params, x, y)
        return {k: (v ** 2).sum(0) for k, v in g.items()}

    return {"plain": plain, "func": func}


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_all(d, device, threads, reps, chunk):
    torch.set_num_threads(threads)
    out = {}
    for name in ("mlp", "cnn"):
        m, x, y = load(d, name, device)
        res = {}
        for k, f in methods(m, x, y, chunk).items():
            f(); sync(device)
            ts = []
            for _ in range(reps):
                t0 = time.perf_counter(); f(); sync(device)
                ts.append((time.perf_counter() - t0) * 1e3)
            res[k] = statistics.median(ts)
        out[name] = res
    return out


def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    return 0


def peak(d, device, name, method):
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    m, x, y = load(d, name, device)
    f = methods(m, x, y, int(os.environ.get("BENCH_CHUNK", "64")))[method]
    if device.startswith("cuda"):
        torch.cuda.synchronize(); base = torch.cuda.memory_allocated(); torch.cuda.reset_peak_memory_stats()
        f(); torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    base = rss("VmRSS")
    with open("/proc/self/clear_refs", "w") as fh:  # resets VmHWM to the current RSS
        fh.write("5")
    f()
    return rss("VmHWM") - base


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "setup":
        setup(sys.argv[2]); print(json.dumps({"ok": True}))
    elif mode == "time":
        print(json.dumps(time_all(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))))
    elif mode == "peak":
        print(json.dumps({"bytes": peak(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])}))
