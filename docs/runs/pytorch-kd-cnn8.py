"""PyTorch cross-check of 05-comparison's scratch vs KD rows (Debian's python3-torch on the same machine).

Same setting as the quick budget: Fashion-MNIST, SmallCnn teacher (width 32, 6 epochs on 60k) and a width-8 student on
a 3,000-image subset for 8 epochs, SGD 0.05 (momentum 0.9, Nesterov, wd 5e-4), per-step cosine, batch 128; KD is
0.1*CE + 0.9*T^2*KL at T = 4 with the teacher in eval mode. The subset is drawn differently from ours, so compare the
gap (KD minus scratch), not the last digit. Run: /usr/bin/python3 docs/runs/pytorch-kd-cnn8.py
"""
import gzip, math, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
ROOT = "/usr/share/datasets/fashion-mnist"


def idx(path):
    with gzip.open(f"{ROOT}/{path}") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


xtr, ytr = idx("train-images-idx3-ubyte.gz"), idx("train-labels-idx1-ubyte.gz")
xte, yte = idx("t10k-images-idx3-ubyte.gz"), idx("t10k-labels-idx1-ubyte.gz")
mean, std = (xtr / 255.0).mean(), (xtr / 255.0).std()


def tensors(x, y):
    return ((torch.from_numpy(x.copy()).float().div(255) - mean) / std).unsqueeze(1), torch.from_numpy(y.astype(np.int64))


Xtr, Ytr = tensors(xtr, ytr)
Xte, Yte = tensors(xte, yte)


class SmallCnn(nn.Module):
    def __init__(self, w, p=0.3):
        super().__init__()
        self.s1 = nn.Sequential(nn.Conv2d(1, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(True),
                                nn.Conv2d(w, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(True), nn.MaxPool2d(2))
        self.s2 = nn.Sequential(nn.Conv2d(w, 2 * w, 3, padding=1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU(True), nn.MaxPool2d(2))
        self.fc1, self.fc2, self.p = nn.Linear(2 * w * 49, 8 * w), nn.Linear(8 * w, 10), p
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = F.dropout(self.s2(self.s1(x)).flatten(1), self.p, self.training)
        return self.fc2(F.dropout(F.relu(self.fc1(x)), self.p, self.training))


def accuracy(model, X, Y):
    model.eval()
    with torch.no_grad():
        return 100.0 * sum((model(X[i:i + 1000]).argmax(1) == Y[i:i + 1000]).sum().item() for i in range(0, len(X), 1000)) / len(X)


def train(model, X, Y, epochs, seed, teacher_logits=None):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    steps = epochs * math.ceil(len(X) / 128)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    best = 0.0
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(X), generator=g)
        for i in range(0, len(X), 128):
            b = perm[i:i + 128]
            out = model(X[b])
            loss = F.cross_entropy(out, Y[b])
            if teacher_logits is not None:
                kd = F.kl_div(F.log_softmax(out / 4, 1), F.softmax(teacher_logits[b] / 4, 1), reduction="batchmean") * 16
                loss = 0.1 * loss + 0.9 * kd
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        best = max(best, accuracy(model, Xte, Yte))
    return best


t0 = time.time()
torch.manual_seed(0)
teacher = SmallCnn(32)
print(f"teacher: {train(teacher, Xtr, Ytr, 6, 0):.2f}% ({time.time() - t0:.0f} s)", flush=True)
sub = torch.randperm(len(Xtr), generator=torch.Generator().manual_seed(0))[:3000]
Xs, Ys = Xtr[sub], Ytr[sub]
teacher.eval()
with torch.no_grad():
    tl = teacher(Xs)
rows = {"scratch": [], "kd": []}
for seed in (0, 1, 2):
    for name in rows:
        torch.manual_seed(seed)
        rows[name].append(train(SmallCnn(8), Xs, Ys, 8, seed, tl if name == "kd" else None))
for name, accs in rows.items():
    print(f"{name}: {np.mean(accs):.2f} ± {np.std(accs, ddof=1):.2f}  {accs}")
print(f"kd - scratch: {np.mean(rows['kd']) - np.mean(rows['scratch']):+.2f}")
sys.exit(0)
