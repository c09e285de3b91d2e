#!/usr/bin/env python3
"""PyTorch peer of `distill bench`: the same cases, seeds, batch and thread count, timed the same way.

Run by `distill bench --peer`; prints one JSON object on stdout:
{"version": "torch X (BLAS)", "cases": {name: {"median_ms", "p10_ms", "p90_ms", "steps"}}}.
Cases it does not know are left out (the table shows "-"). Setup (Debian 12): see docs/performance.md.
"""
import argparse
import gzip
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 128


def mlp(widths):
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def raw_loop(model, x, y):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def gemm(n):
    g = torch.Generator().manual_seed(1)
    a = torch.randn(n, n, generator=g)
    b = torch.randn(n, n, generator=g)
    return lambda: a.mm(b)


def raw_mlp(widths):
    torch.manual_seed(1)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(BATCH, widths[0], generator=g)
    y = torch.randint(widths[-1], (BATCH,), generator=g)
    return raw_loop(mlp(widths), x, y)


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    t = torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8)
    return t.view(*dims)


def find_file(root, name):
    for n in (name, name[:-3]):
        p = os.path.join(root, n)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(os.path.join(root, name))


def fashion_mnist(root):
    def pair(prefix):
        images = read_idx(find_file(root, f"{prefix}-images-idx3-ubyte.gz"))
        labels = read_idx(find_file(root, f"{prefix}-labels-idx1-ubyte.gz")).long()
        return images.unsqueeze(1), labels
    return pair("train"), pair("t10k")


def fmnist_epoch(widths, root):
    torch.manual_seed(1)
    (images, labels), _ = fashion_mnist(root)
    mean = images.float().mean() / 255
    std = (images.float() / 255).std()
    model = mlp(widths)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(3)
    n = labels.shape[0]

    def epoch():
        perm = torch.randperm(n, generator=g)
        for start in range(0, n, BATCH):
            idx = perm[start:start + BATCH]
            x = ((images.index_select(0, idx).float() / 255 - mean) / std).flatten(1)
            y = labels.index_select(0, idx)
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            opt.step()
    return epoch


def cases(data_root):
    table = {
        "gemm-1024": (lambda: gemm(1024), None),
        "mlp-784-1200-1200-10-raw": (lambda: raw_mlp([784, 1200, 1200, 10]), None),
        "mlp-784-800-800-10-raw": (lambda: raw_mlp([784, 800, 800, 10]), None),
    }
    if data_root:
        table["fmnist-epoch-mlp-784-1200-1200-10-raw"] = (lambda: fmnist_epoch([784, 1200, 1200, 10], data_root), (1, 0, 2, 2))
        table["fmnist-load"] = (lambda: (lambda: fashion_mnist(data_root)), (1, 0, 3, 3))
    return table


def measure(step, warmup, target_seconds, min_steps, max_steps):
    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    per_step = (time.perf_counter() - t0) / warmup if warmup > 0 else 0
    steps = int(min(max(target_seconds / per_step, min_steps), max_steps)) if per_step > 0 else min_steps
    ms = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        ms.append((time.perf_counter() - t) * 1000)
    ms.sort()

    def q(p):
        pos = p * (len(ms) - 1)
        lo, hi = int(pos), min(int(pos) + 1, len(ms) - 1)
        return ms[lo] + (ms[hi] - ms[lo]) * (pos - lo)
    return {"median_ms": q(0.5), "p10_ms": q(0.1), "p90_ms": q(0.9), "steps": len(ms)}


def find_data(explicit):
    candidates = [explicit] if explicit else []
    if os.environ.get("DISTILL_DATA"):
        candidates.append(os.path.join(os.environ["DISTILL_DATA"], "fashion-mnist"))
    here = os.path.dirname(os.path.abspath(__file__))
    candidates += [os.path.join(here, "..", "..", "data", "fashion-mnist"), "/usr/share/datasets/fashion-mnist"]
    for c in candidates:
        try:
            find_file(c, "train-images-idx3-ubyte.gz")
            return c
        except FileNotFoundError:
            pass
    return None


def loaded_blas():
    """Debian's torch links the generic libblas.so.3; which BLAS that is depends on the alternatives system."""
    torch.ones(64, 64).mm(torch.ones(64, 64))
    try:
        with open("/proc/self/maps") as f:
            libs = {os.path.basename(line.split()[-1]) for line in f if "blas" in line.lower()}
        return ", ".join(sorted(libs)) or "no BLAS library mapped"
    except OSError:
        return "BLAS unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--target-seconds", type=float, default=8)
    ap.add_argument("--min-steps", type=int, default=20)
    ap.add_argument("--max-steps", type=int, default=2000)
    ap.add_argument("--cases", default="")
    ap.add_argument("--data", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    table = cases(find_data(a.data))
    wanted = [c for c in a.cases.split(",") if c] or list(table)
    out = {}
    for name in wanted:
        if name not in table:
            continue
        make, budget = table[name]
        step = make()
        warmup, target, lo, hi = budget or (a.warmup, a.target_seconds, a.min_steps, a.max_steps)
        out[name] = measure(step, warmup, target, lo, hi)
        print(f"{name}: {out[name]['median_ms']:.2f} ms", file=sys.stderr)
    blas = loaded_blas()
    print(json.dumps({"version": f"torch {torch.__version__} ({blas}, {torch.get_num_threads()} threads)", "cases": out}))


if __name__ == "__main__":
    main()
