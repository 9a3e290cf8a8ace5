"""Python side of scripts/bench/fisher.js (same models, same data, same thread count).

  fisher.py setup DIR [MODELS]             each model as TorchScript (scripted MLP/CNN; traced timm resnet18, HF BERT
                                           and GPT-2 from tiny configs), its eager weights and its data
  fisher.py time DIR DEVICE THREADS REPS CHUNK MODELS [VARIANT K]   median ms of: one plain batched backward;
                                           torch.func vmap(grad) per-sample gradients squared and summed, for the
                                           VARIANT's terms (empirical: the true labels; mc: K sampled label sets,
                                           one multinomial per batch; exact: every class weighted by sqrt(p))
  fisher.py peak DIR DEVICE MODEL METHOD   peak memory of one run of METHOD (plain | func) over the loaded state
                                           (variant and K from BENCH_VARIANT / BENCH_SAMPLES)

Models: mlp (784-1024-1024-10, B=256), cnn (B=256), resnet18 (timm, eval, B=32, 3x64x64), bert (BERT-tiny:
L=2, H=128, sequence classifier, B=16, T=128), gpt2 (L=2, H=128, vocab 1024, causal LM with tied head, B=16, T=128).
"""
import json
import os
import statistics
import sys
import time
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch.func import functional_call, grad, vmap

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))

# name -> (batch, output selector, causal shift)
SPEC = {"mlp": (256, None, False), "cnn": (256, None, False), "resnet18": (32, None, False), "bert": (16, "logits", False), "gpt2": (16, 0, True)}


class HFLogits(nn.Module):
    def __init__(self, m, as_dict):
        super().__init__()
        self.m = m
        self.as_dict = as_dict

    def forward(self, ids):
        logits = self.m(input_ids=ids).logits
        return {"logits": logits} if self.as_dict else (logits,)


def model(name):
    torch.manual_seed(0)
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    from _hf import timm, transformers
    if name == "resnet18":
        return timm.create_model("resnet18", pretrained=False, num_classes=10)
    if name == "bert":
        cfg = transformers.BertConfig(vocab_size=1024, hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=512,
                                      max_position_embeddings=128, num_labels=4, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        cfg._attn_implementation = "eager"
        return HFLogits(transformers.BertForSequenceClassification(cfg), True)
    cfg = transformers.GPT2Config(vocab_size=1024, n_positions=128, n_embd=128, n_layer=2, n_head=2, use_cache=False,
                                  bos_token_id=0, eos_token_id=0, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    cfg._attn_implementation = "eager"
    return HFLogits(transformers.GPT2LMHeadModel(cfg), False)


def data(name):
    torch.manual_seed(1)
    B = SPEC[name][0]
    if name in ("mlp", "cnn"):
        return torch.randn(B, 1, 28, 28), torch.randint(0, 10, (B,))
    if name == "resnet18":
        return torch.randn(B, 3, 64, 64), torch.randint(0, 10, (B,))
    ids = torch.randint(0, 1024, (B, 128))
    return ids, (torch.randint(0, 4, (B,)) if name == "bert" else ids.clone())


def setup(d, names):
    os.makedirs(d, exist_ok=True)
    for name in names:
        m = model(name).eval()
        x, y = data(name)
        jit = torch.jit.script(m) if name in ("mlp", "cnn") else torch.jit.trace(m, (x[:2],), strict=False, check_trace=False)
        jit.save(os.path.join(d, f"{name}.jit.pt"))
        torch.save(m.state_dict(), os.path.join(d, f"{name}.sd.pt"))
        save_file({"x": x.contiguous(), "y": y.contiguous()}, os.path.join(d, f"{name}_data.safetensors"))


def load(d, name, device):
    m = model(name)
    m.load_state_dict(torch.load(os.path.join(d, f"{name}.sd.pt"), weights_only=True))
    m = m.to(device).eval()
    dd = load_file(os.path.join(d, f"{name}_data.safetensors"))
    return m, dd["x"].to(device), dd["y"].to(device)


def nll(name, out, y):
    _, output, shift = SPEC[name]
    z = out if output is None else out[output]
    if shift:
        z, y = z[:, :-1], y[:, 1:]
    return F.cross_entropy(z.reshape(-1, z.shape[-1]), y.reshape(-1), reduction="sum")


def logits(name, out):
    _, output, shift = SPEC[name]
    z = out if output is None else out[output]
    return z[:, :-1] if shift else z


def methods(name, m, x, y, chunk, variant="empirical", k=1):
    params = {n: v.detach() for n, v in m.named_parameters()}
    shift = SPEC[name][2]

    def plain():
        m.zero_grad(set_to_none=True)
        nll(name, m(x), y).backward()

    def loss1(p, xi, yi, wi):
        return nll(name, functional_call(m, p, (xi.unsqueeze(0),)), yi.unsqueeze(0)) * wi

    psg = vmap(grad(loss1), in_dims=(None, 0, 0, 0), chunk_size=chunk)

    def terms():
        """(targets, per-sample weight, scale) of the variant, as the engine forms them (lib/fisher/likelihood.ts)."""
        ones = torch.ones(x.shape[0], device=x.device)
        if variant == "empirical":
            return [(y, ones, 1.0)]
        with torch.no_grad():
            z = logits(name, m(x))
        C = z.shape[-1]
        if variant == "exact":
            p = z.softmax(-1).sqrt()
            return [(torch.full((x.shape[0],), c, device=x.device), p[:, c], 1.0) for c in range(C)]
        labels = torch.multinomial(z.reshape(-1, C).softmax(1), k, replacement=True)
        out = []
        for j in range(k):
            t = labels[:, j].reshape(z.shape[:-1])
            if shift:  # back in unshifted label positions: nll shifts again
                t = torch.cat([torch.full((t.shape[0], 1), -100, dtype=t.dtype, device=t.device), t], 1)
            out.append((t, ones, 1.0 / k))
        return out

    def func():
        acc = None
        for t, w, scale in terms():
            g = psg(params, x, t, w)
            s = {n: (v ** 2).sum(0) * scale for n, v in g.items()}
            acc = s if acc is None else {n: acc[n] + s[n] for n in acc}
        return acc

    return {"plain": plain, "func": func}


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_all(d, device, threads, reps, chunk, names, variant="empirical", k=1):
    torch.set_num_threads(threads)
    out = {}
    for name in names:
        m, x, y = load(d, name, device)
        res = {}
        for key, f in methods(name, m, x, y, chunk, variant, k).items():
            f(); sync(device)
            ts = []
            for _ in range(reps):
                t0 = time.perf_counter(); f(); sync(device)
                ts.append((time.perf_counter() - t0) * 1e3)
            res[key] = statistics.median(ts)
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
    f = methods(name, m, x, y, int(os.environ.get("BENCH_CHUNK", "64")), os.environ.get("BENCH_VARIANT", "empirical"),
                int(os.environ.get("BENCH_SAMPLES", "1")))[method]
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
        setup(sys.argv[2], sys.argv[3].split(",") if len(sys.argv) > 3 else list(SPEC)); print(json.dumps({"ok": True}))
    elif mode == "time":
        print(json.dumps(time_all(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7].split(","),
                                  *(sys.argv[8:9]), *(int(a) for a in sys.argv[9:10]))))
    elif mode == "peak":
        print(json.dumps({"bytes": peak(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])}))
