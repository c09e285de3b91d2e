#!/usr/bin/env python3
"""PyTorch peer of `distill bench`: the same cases, seeds, batch and thread count, run on request.

`distill bench --peer` starts it once and keeps it running; it reads one JSON request per line on stdin and answers
each with one JSON line on stdout (log lines go to stderr):

  {"cmd": "info"}                              -> {"torch", "blas", "openblas_core", "openblas_threads",
                                                   "openblas_config", "torch_threads", "parallel", "build"}
  {"cmd": "setup", "case": NAME}               -> {"key": KEY} (builds the case; KEY is shared by aliases) or {"key": null}
  {"cmd": "run", "key": KEY, "steps": K}       -> {"ms": [K step times]}
  {"cmd": "drop", "key": KEY}                  -> {} (frees the case)
  {"cmd": "quit"}

so our side and the peer run in alternating rounds of K steps (docs/performance.md). Setup (Debian 12): see there.
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


# --- the library's models and losses, mirrored (src/Distill/Models, src/Distill/Losses) -----------------------------

class Mlp(nn.Module):
    """Distill.Models.Mlp without dropout: Linear+ReLU per hidden width, then the classifier; returns (logits, features)."""

    def __init__(self, widths, n_in=784, classes=10):
        super().__init__()
        dims = [n_in] + list(widths)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:]))
        self.fc = nn.Linear(dims[-1], classes)

    def forward(self, x):
        x = x.flatten(1)
        feats = {}
        for i, layer in enumerate(self.hidden):
            x = F.relu(layer(x))
            feats[f"hidden{i + 1}"] = x
        return self.fc(x), feats


class SmallCnn(nn.Module):
    """Distill.Models.SmallCnn: conv(w)-conv(w)-pool-conv(2w)-pool-fc(8w)-fc, BN+ReLU, dropout 0.3."""

    def __init__(self, width=32, channels=1, side=28, classes=10, dropout=0.3):
        super().__init__()
        w = width
        self.stage1 = nn.Sequential(nn.Conv2d(channels, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(True),
                                    nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(True), nn.MaxPool2d(2))
        self.stage2 = nn.Sequential(nn.Conv2d(w, 2 * w, 3, padding=1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU(True), nn.MaxPool2d(2))
        self.fc1 = nn.Linear(2 * w * (side // 4) ** 2, 8 * w)
        self.fc2 = nn.Linear(8 * w, classes)
        self.dropout = dropout

    def forward(self, x):
        s1 = self.stage1(x)
        s2 = self.stage2(s1)
        f = F.relu(self.fc1(F.dropout(s2.flatten(1), self.dropout, self.training)))
        return self.fc2(F.dropout(f, self.dropout, self.training)), {"stage1": s1, "stage2": s2, "fc": f}


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn1(self.conv1(x)).relu_()
        y = self.bn2(self.conv2(y))
        return y.add_(x if self.downsample is None else self.downsample(x)).relu_()


class CifarResNet(nn.Module):
    """Distill.Models.CifarResNet (He et al. 2016, RepDistiller widths 16/16/32/64)."""

    def __init__(self, depth, widths=(16, 16, 32, 64), channels=3, classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])

        def group(cin, cout, stride):
            return nn.Sequential(BasicBlock(cin, cout, stride), *[BasicBlock(cout, cout, 1) for _ in range(n - 1)])
        self.layer1 = group(widths[0], widths[1], 1)
        self.layer2 = group(widths[1], widths[2], 2)
        self.layer3 = group(widths[2], widths[3], 2)
        self.fc = nn.Linear(widths[3], classes)

    def forward(self, x):
        stem = self.bn1(self.conv1(x)).relu_()
        s1 = self.layer1(stem)
        s2 = self.layer2(s1)
        s3 = self.layer3(s2)
        pool = s3.mean((2, 3))
        return self.fc(pool), {"stem": stem, "stage1": s1, "stage2": s2, "stage3": s3, "pool": pool}


def kd_loss(s, t, temperature):
    log_q = (s / temperature).log_softmax(1)
    log_p = (t.detach() / temperature).log_softmax(1)
    return (log_p.exp() * (log_p - log_q)).sum() / s.shape[0] * temperature ** 2


def at_map(f):
    return F.normalize(f.pow(2).mean(1).reshape(f.shape[0], -1), dim=1)


def at_loss(sf, tf, beta=1000):
    return sum((at_map(sf[k]) - at_map(tf[k].detach())).pow(2).mean() for k in ("stage1", "stage2", "stage3")) * (beta / 2)


# --- data ----------------------------------------------------------------------------------------------------------

class Data:
    """uint8 images [N, C, H, W] and int64 labels, normalised per batch like ImageDataset.Normalize."""

    def __init__(self, images, labels, mean, std):
        self.images, self.labels, self.mean, self.std = images, labels, mean, std

    def normalize(self, x):
        return (x.float().div_(255) - self.mean).div_(self.std)


def synthetic(channels, side, n):
    g = torch.Generator().manual_seed(21)
    return Data(torch.randint(0, 256, (n, channels, side, side), dtype=torch.uint8, generator=g),
                torch.randint(0, 10, (n,), generator=g), 0.5, 0.29)


def fashion_data(root):
    if not root:
        return synthetic(1, 28, 60000)
    (images, labels), _ = fashion_mnist(root)
    x = images.float() / 255
    return Data(images, labels, x.mean().item(), x.std().item())


# --- cases -----------------------------------------------------------------------------------------------------------

def sgd(params):
    """The trainer's default optimizer (Distill.Training.OptimizerSpec.Sgd)."""
    return torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)


def loop(student, data, loss_fn, teacher=None, cached=False, extra_params=()):
    """The step a PyTorch user writes: batch by index_select, normalise, forward, loss, backward, step, read the loss."""
    torch.manual_seed(1)
    opt = sgd(list(student.parameters()) + list(extra_params))
    student.train()
    g = torch.Generator().manual_seed(7)
    n = data.labels.shape[0]
    perm = torch.randperm(n, generator=g)
    logits_cache = None
    if teacher is not None:
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        if cached:
            with torch.no_grad():
                logits_cache = torch.cat([teacher(data.normalize(data.images[i:i + 1000]))[0] for i in range(0, n, 1000)])
    state = {"pos": 0}

    def step():
        if state["pos"] + BATCH > n:
            state["pos"] = 0
        idx = perm[state["pos"]:state["pos"] + BATCH]
        state["pos"] += BATCH
        x = data.normalize(data.images.index_select(0, idx))
        y = data.labels.index_select(0, idx)
        out = student(x)
        t = None
        if logits_cache is not None:
            t = (logits_cache.index_select(0, idx), None)
        elif teacher is not None:
            with torch.no_grad():
                t = teacher(x)
        loss = loss_fn(out, t, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()
    return step


def ce(out, _t, y):
    return F.cross_entropy(out[0], y)


def kd(out, t, y):
    return 0.1 * F.cross_entropy(out[0], y) + 0.9 * kd_loss(out[0], t[0], 4.0)


def seeded(make):
    torch.manual_seed(1)
    return make()


def fitnets_stage1(data):
    student, teacher = seeded(lambda: SmallCnn(16)), seeded(lambda: SmallCnn(32))
    regressor = nn.Sequential(nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU())
    regressor.train()
    return loop(student, data, lambda out, t, y: F.mse_loss(regressor(out[1]["stage1"]), t[1]["stage1"].detach()),
                teacher=teacher, extra_params=regressor.parameters())


def fmnist_epoch(widths, data):
    torch.manual_seed(1)
    model = Mlp(widths)
    opt = sgd(model.parameters())
    g = torch.Generator().manual_seed(7)
    n = data.labels.shape[0]
    test = data.test

    def epoch():
        model.train()
        perm = torch.randperm(n, generator=g)
        for start in range(0, n, BATCH):
            idx = perm[start:start + BATCH]
            loss = F.cross_entropy(model(data.normalize(data.images.index_select(0, idx)))[0], data.labels.index_select(0, idx))
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()
        model.eval()
        with torch.no_grad():
            for start in range(0, test.labels.shape[0], 1000):
                x = data.normalize(test.images[start:start + 1000])
                model(x)[0].argmax(1).eq(test.labels[start:start + 1000]).sum().item()
    return epoch


def cases(data_root):
    fashion = {}

    def fm():
        if "d" not in fashion:
            fashion["d"] = fashion_data(data_root)
            if data_root:
                _, (ti, tl) = fashion_mnist(data_root)
            else:
                ti, tl = synthetic(1, 28, 10000).images, synthetic(1, 28, 10000).labels
            fashion["d"].test = Data(ti, tl, 0, 1)
        return fashion["d"]
    cifar = {}

    def cf():
        if "d" not in cifar:
            cifar["d"] = synthetic(3, 32, 128 * 80)
        return cifar["d"]

    mlp1200 = lambda: loop(seeded(lambda: Mlp([1200, 1200])), fm(), ce)
    cnn = lambda: loop(seeded(lambda: SmallCnn(32)), fm(), ce)
    resnet20 = lambda: loop(seeded(lambda: CifarResNet(20)), cf(), ce)
    table = {
        "gemm-1024": lambda: gemm(1024),
        "mlp-784-1200-1200-10-raw": lambda: raw_mlp([784, 1200, 1200, 10]),
        "mlp-784-800-800-10-raw": lambda: raw_mlp([784, 800, 800, 10]),
        # Our "-loop" and "-trainer" cases do the same math; the peer has one PyTorch loop for both (see ALIASES).
        "mlp-784-1200-1200-10-loop": mlp1200,
        "mlp-784-800-800-10-trainer": lambda: loop(seeded(lambda: Mlp([800, 800])), fm(), ce),
        "cnn-loop": cnn,
        "resnet20-loop": resnet20,
        "kd-live-mlp": lambda: loop(seeded(lambda: Mlp([800, 800])), fm(), kd, teacher=seeded(lambda: Mlp([1200, 1200]))),
        "kd-cached-mlp": lambda: loop(seeded(lambda: Mlp([800, 800])), fm(), kd, teacher=seeded(lambda: Mlp([1200, 1200])), cached=True),
        "fitnets-stage1-cnn": lambda: fitnets_stage1(fm()),
        "fitnets-stage2-cnn": lambda: loop(seeded(lambda: SmallCnn(16)), fm(), kd, teacher=seeded(lambda: SmallCnn(32))),
        "at-resnet20-resnet8": lambda: loop(seeded(lambda: CifarResNet(8)), cf(),
                                             lambda out, t, y: F.cross_entropy(out[0], y) + at_loss(out[1], t[1]),
                                             teacher=seeded(lambda: CifarResNet(20))),
        "fmnist-epoch-mlp-1200-loop": lambda: fmnist_epoch([1200, 1200], fm()),
    }
    if data_root:
        table["fmnist-load"] = lambda: (lambda: fashion_mnist(data_root))
    return table


# PyTorch has no trainer of ours: its plain loop stands in for both of our variants.
ALIASES = {f"{case}-trainer": f"{case}-loop" for case in ("mlp-784-1200-1200-10", "cnn", "resnet20", "fmnist-epoch-mlp-1200")}


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


def mapped_blas():
    """Debian's torch links the generic libblas.so.3; which BLAS that is depends on the alternatives system."""
    torch.ones(64, 64).mm(torch.ones(64, 64))
    try:
        with open("/proc/self/maps") as f:
            return sorted({line.split()[-1] for line in f if "blas" in line.lower() and "/" in line})
    except OSError:
        return []


def openblas(paths):
    """OpenBLAS's own answer, from the library already loaded: the kernel (core type) it chose, its thread count, its
    build. None when the BLAS is not OpenBLAS."""
    import ctypes
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        if hasattr(lib, "openblas_get_corename"):
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_get_config.restype = ctypes.c_char_p
            return (lib.openblas_get_corename().decode(), lib.openblas_get_num_threads(),
                    lib.openblas_get_config().decode())
    return None, None, None


def info():
    paths = mapped_blas()
    core, threads, config = openblas(paths)
    show = torch.__config__.show().splitlines()
    keep = ("GCC", "MKL-DNN", "oneDNN", "OpenMP", "MKL ", "CPU capability", "LAPACK")
    build = [line.strip(" -") for line in show if any(k in line for k in keep) and "Build settings" not in line]
    for line in show:
        if "Build settings:" in line:
            settings = dict(kv.strip().split("=", 1) for kv in line.split(":", 1)[1].split(", ") if "=" in kv)
            build += [f"{k}={settings[k]}" for k in ("BLAS_INFO", "LAPACK_INFO", "TORCH_VERSION", "USE_MKLDNN", "USE_OPENMP")
                      if k in settings]
    parallel = [line.strip() for line in torch.__config__.parallel_info().splitlines() if line.strip()]
    return {"torch": torch.__version__, "blas": ", ".join(os.path.basename(p) for p in paths) or "no BLAS library mapped",
            "openblas_core": core, "openblas_threads": threads, "openblas_config": config,
            "torch_threads": torch.get_num_threads(), "parallel": "; ".join(parallel), "build": "; ".join(build)}


def serve(table, inp, out):
    built = {}
    for line in inp:
        if not line.strip():
            continue
        req = json.loads(line)
        cmd = req["cmd"]
        if cmd == "quit":
            break
        try:
            if cmd == "info":
                ans = info()
            elif cmd == "setup":
                key = ALIASES.get(req["case"], req["case"])
                if key not in table:
                    ans = {"key": None}
                else:
                    if key not in built:
                        built[key] = table[key]()
                        print(f"built {key}", file=sys.stderr)
                    ans = {"key": key}
            elif cmd == "run":
                step = built[req["key"]]
                ms = []
                for _ in range(int(req["steps"])):
                    t = time.perf_counter()
                    step()
                    ms.append((time.perf_counter() - t) * 1000)
                ans = {"ms": ms}
            elif cmd == "drop":
                built.pop(req["key"], None)
                ans = {}
            else:
                ans = {"error": f"unknown command {cmd}"}
        except Exception as e:  # the answer says what failed; the runner reports it
            ans = {"error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(ans) + "\n")
        out.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--data", default=None)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    serve(cases(find_data(a.data)), sys.stdin, sys.stdout)


if __name__ == "__main__":
    main()
