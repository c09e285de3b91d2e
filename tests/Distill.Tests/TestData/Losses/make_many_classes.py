# Regenerate: python3 make_many_classes.py many_classes.json (from this folder; needs python3-torch, deterministic).
"""The KL family (kd, kd_hard, dkd, kd_ls, kd_multi) on 100, 1,000 and 10,000 classes at T = 8 to 20, with a student
close to its teacher: a loss well below 1, where the tolerance is absolute and float32's rounding of each
log-probability (about ln C times its epsilon), lifted by T², passes 1e-4 below the T = 20 switch. PyTorch's float32
misses these cases too (about one in five of them here fails there and in the library before the rule below); the library widens to float64 once T²·ln C > 500 with C ≥ 100
(TermSupport.Float32MaxTemperatureSquaredLogClasses). The README's definitions, in torch float64 with autograd."""
import json, sys
import torch
import torch.nn.functional as F

D = torch.float64


def tensor(x):
    # 10 significant digits: far inside the 1e-4 tolerance, and the file stays small (C = 10,000 rows are long).
    return {"shape": list(x.shape), "data": [int(v) if x.dtype == torch.int64 else float(f"{v:.10g}") for v in x.reshape(-1).tolist()]}


def logits(*shape, scale):
    # Three decimals: the inputs are exactly what the file says, and short to write.
    return (torch.randn(*shape, dtype=D) * scale).round(decimals=3)


def batch_mean_kl(log_p, log_q):
    return (log_p.exp() * (log_p - log_q)).sum() / log_p.shape[0]


def kd(s, t, T):
    return T * T * batch_mean_kl(F.log_softmax(t / T, 1), F.log_softmax(s / T, 1))


def kd_hard(s, t, y, T, a):
    return a * kd(s, t, T) + (1 - a) * F.cross_entropy(s, y)


def dkd(s, t, y, a, b, T):
    B, C = s.shape

    def parts(z):
        z = z / T
        lse = z.logsumexp(1, keepdim=True)
        mask = torch.ones_like(z, dtype=torch.bool)
        mask[torch.arange(B), y] = False
        others = z[mask].reshape(B, C - 1)
        rest = others.logsumexp(1, keepdim=True)
        return torch.cat([z.gather(1, y[:, None]) - lse, rest - lse], 1), others - rest

    (sb, so), (tb, to) = parts(s), parts(t)
    return T * T * (a * batch_mean_kl(tb, sb) + b * batch_mean_kl(to, so))


def standardized(z):
    return (z - z.mean(1, keepdim=True)) / (z.std(1, unbiased=True, keepdim=True) + 1e-7)


def kd_ls(s, t, T):
    return kd(standardized(s), standardized(t), T)


def kd_multi(s, t, T):
    q = F.softmax(t / T, 2).mean(0)
    return T * T * (q * (q.log() - F.log_softmax(s / T, 1))).sum() / s.shape[0]


cases = []


def add(name, loss, params, inputs, fn):
    student = inputs["student_logits"].clone().requires_grad_(True)
    value = fn(student)
    value.backward()
    cases.append({"name": name, "loss": loss, "params": params, "inputs": {k: tensor(v) for k, v in inputs.items()},
                  "expected": {"loss": value.item(), "grad": {"student_logits": tensor(student.grad)}}})


if __name__ == "__main__":
    torch.manual_seed(17)
    for T in (8.0, 12.0, 20.0):
        for (B, C) in [(1, 10000), (2, 1000), (4, 100)]:
            if C == 10000 and T == 12.0:
                continue  # the long rows: kd and dkd at T = 8 and 20 cover them
            t = logits(B, C, scale=5)
            s = t + logits(B, C, scale=0.05)
            teachers = torch.stack([t, t + logits(B, C, scale=0.05)])
            y = torch.randint(0, C, (B,))
            tag = f"b{B}c{C}/near/T{T}"
            pair = {"student_logits": s, "teacher_logits": t}
            add(f"kd/{tag}", "kd", {"temperature": T}, pair, lambda x: kd(x, t, T))
            add(f"dkd/{tag}/a1b8", "dkd", {"alpha": 1.0, "beta": 8.0, "temperature": T}, dict(pair, labels=y), lambda x: dkd(x, t, y, 1.0, 8.0, T))
            if C == 10000:
                continue
            add(f"kd_hard/{tag}/a0.9", "kd_hard", {"temperature": T, "alpha": 0.9}, dict(pair, labels=y), lambda x: kd_hard(x, t, y, T, 0.9))
            add(f"kd_ls/{tag}", "kd_ls", {"temperature": T}, pair, lambda x: kd_ls(x, t, T))
            add(f"kd_multi/{tag}/K2", "kd_multi", {"temperature": T}, {"student_logits": s, "teacher_logits": teachers},
                lambda x: kd_multi(x, teachers, T))
    json.dump({"format": "distill-reference/1", "generator": "torch float64 autograd, README definitions", "seed": 17, "cases": cases},
              open(sys.argv[1], "w"))
    print(len(cases), "cases")
