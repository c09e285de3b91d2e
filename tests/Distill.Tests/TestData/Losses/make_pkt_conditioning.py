# Regenerate: python3 make_pkt_conditioning.py pkt_conditioning.json (from this folder; needs python3-torch, deterministic).
"""PKT where its cosines sit at −1: antipodal embeddings (one row the negation of another) and 1-D embeddings, whose
every pair has a cosine of ±1. The kernel (K + 1)/2 of an antipodal pair is then about eps/‖x‖ ≈ 1e-7, the size of the
eps beside P in the loss's log, and float32's rounding of a cosine near −1 is as large: the loss was 1e-2 off in
float32 (PyTorch's as well), so the library computes P in float64. Also features of size 1e-9, where the eps in
x / (‖x‖ + eps) dominates. The README's definition, in torch float64 with autograd; the inputs are float32 values, so
the library reads exactly what the expected values were computed from."""
import json, sys
import torch

D = torch.float64
EPS = 1e-7


def tensor(x):
    # 10 significant digits hold a float32 value exactly.
    return {"shape": list(x.shape), "data": [float(f"{v:.10g}") for v in x.reshape(-1).tolist()]}


def features(*shape, scale=1.0):
    return (torch.randn(*shape, dtype=D) * scale).to(torch.float32).to(D)


def conditional(f):
    x = f.reshape(f.shape[0], -1)
    x = x / (x.norm(dim=1, keepdim=True) + EPS)
    k = (x @ x.t() + 1) / 2
    return k / k.sum(1, keepdim=True)


def pkt(s, t):
    ps, pt = conditional(s), conditional(t)
    return (pt * ((pt + EPS) / (ps + EPS)).log()).sum() / s.shape[0]


cases = []


def add(name, s, t):
    student = s.clone().requires_grad_(True)
    value = pkt(student, t)
    value.backward()
    cases.append({"name": name, "loss": "pkt", "params": {}, "inputs": {"student_features": tensor(s), "teacher_features": tensor(t)},
                  "expected": {"loss": value.item(), "grad": {"student_features": tensor(student.grad)}}})


if __name__ == "__main__":
    torch.manual_seed(23)
    e = features(4, 8)
    e[1] = -e[0]
    t = features(4, 8)
    add("pkt/b4d8/student-antipodal", e, t)
    add("pkt/b4d8/teacher-antipodal", t, e)
    e6 = features(6, 16)
    e6[3:] = -e6[:3]
    add("pkt/b6d16/student-three-antipodal-pairs", e6, features(6, 16))
    add("pkt/b7d1/d1", features(7, 1), features(7, 1))
    add("pkt/b2d1x1x1/d4x1x1", features(2, 1, 1, 1), features(2, 4, 1, 1))
    add("pkt/b5d1/d12", features(5, 1, scale=3.0), features(5, 12))
    add("pkt/b5d7/d3/x1e-9", features(5, 7, scale=1e-9), features(5, 3, scale=1e-9))
    json.dump({"format": "distill-reference/1", "generator": "torch float64 autograd, README definitions", "seed": 23, "cases": cases},
              open(sys.argv[1], "w"))
    print(len(cases), "cases")
