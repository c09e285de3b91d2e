# Regenerate: python3 make_edge_cases.py edge_cases.json (from this folder; pure Python 3, deterministic).
"""Independent float64 check of the README definitions in pure Python (no torch/numpy): losses computed from the
written definitions, gradients by central differences. Writes a distill-reference/1 file with other shapes and edge cases."""
import json, math, random, sys
from refgen import rows, lse, log_softmax, T_, Cases

rng = random.Random(7)

def randn(n, scale=1.0): return [rng.gauss(0, 1) * scale for _ in range(n)]

def kl_rows(tl, sl):  # sum_b KL(p_t || p_s), log-prob rows
    return sum(sum(math.exp(a) * (a - b) for a, b in zip(t, s)) for t, s in zip(tl, sl))

def kd(s, t, B, T):
    S, Tt = rows(s, B), rows(t, B)
    return T * T * kl_rows([log_softmax([a / T for a in r]) for r in Tt], [log_softmax([a / T for a in r]) for r in S]) / B

def ce(s, y, B):
    return -sum(log_softmax(r)[int(c)] for r, c in zip(rows(s, B), y)) / B

def kd_hard(s, t, y, B, T, alpha): return alpha * kd(s, t, B, T) + (1 - alpha) * ce(s, y, B)

def soft_ce(s, t, B):
    return -sum(sum(math.exp(p) * q for p, q in zip(log_softmax(tr), log_softmax(sr))) for sr, tr in zip(rows(s, B), rows(t, B))) / B

def dkd(s, t, y, B, alpha, beta, T):
    tck = nck = 0.0
    for sr, tr, c in zip(rows(s, B), rows(t, B), y):
        c = int(c)
        def parts(r):
            z = [a / T for a in r]; all_ = lse(z); o = [a for i, a in enumerate(z) if i != c]; rest = lse(o)
            return [z[c] - all_, rest - all_], [a - rest for a in o]
        (sb, so), (tb, to) = parts(sr), parts(tr)
        tck += kl_rows([tb], [sb]); nck += kl_rows([to], [so])
    return T * T * (alpha * tck + beta * nck) / B

def hint(s, t): return sum((a - b) ** 2 for a, b in zip(s, t)) / len(s)

def at_map(x, shape):
    B, C = shape[0], shape[1]; hw = len(x) // (B * C); out = []
    for b in range(B):
        m = [sum(x[(b * C + c) * hw + i] ** 2 for c in range(C)) / C for i in range(hw)]
        n = max(math.sqrt(sum(v * v for v in m)), 1e-12); out.append([v / n for v in m])
    return out

def at(s, t, ss, ts):
    qs, qt = at_map(s, ss), at_map(t, ts)
    d = [a - b for rs, rt in zip(qs, qt) for a, b in zip(rs, rt)]
    return sum(v * v for v in d) / len(d)

def at_paper(s, t, ss, ts):
    qs, qt = at_map(s, ss), at_map(t, ts)
    return sum(math.sqrt(sum((a - b) ** 2 for a, b in zip(rs, rt))) for rs, rt in zip(qs, qt)) / len(qs)

def gram(x, B):
    f = rows(x, B); g = [[sum(a * b for a, b in zip(f[i], f[j])) for j in range(B)] for i in range(B)]
    return [[v / max(math.sqrt(sum(w * w for w in r)), 1e-12) for v in r] for r in g]

def sp(s, t, B):
    gs, gt = gram(s, B), gram(t, B)
    return sum((gs[i][j] - gt[i][j]) ** 2 for i in range(B) for j in range(B)) / (B * B)

def huber(a, b):
    d = abs(a - b); return 0.5 * d * d if d < 1 else d - 0.5

def dist(x, B):
    f = rows(x, B)
    d = [[math.sqrt(sum((a - b) ** 2 for a, b in zip(f[i], f[j]))) for j in range(B)] for i in range(B)]
    pos = [v for r in d for v in r if v > 0]; mu = sum(pos) / len(pos)
    return [v / mu for r in d for v in r]

def rkd_distance(s, t, B):
    ds, dt = dist(s, B), dist(t, B); return sum(huber(a, b) for a, b in zip(ds, dt)) / len(ds)

def angles(x, B):
    f = rows(x, B); out = []
    def unit(v):
        n = math.sqrt(sum(a * a for a in v)); return [a / n for a in v] if n > 0 else [0.0] * len(v)
    for j in range(B):
        for i in range(B):
            ei = unit([a - b for a, b in zip(f[i], f[j])])
            for k in range(B):
                ek = unit([a - b for a, b in zip(f[k], f[j])])
                out.append(sum(a * b for a, b in zip(ei, ek)))
    return out

def rkd_angle(s, t, B):
    a, b = angles(s, B), angles(t, B); return sum(huber(x, y) for x, y in zip(a, b)) / len(a)

def pkt(s, t, B):
    eps = 1e-7
    def cond(x):
        f = rows(x, B); f = [[a / (math.sqrt(sum(v * v for v in r)) + eps) for a in r] for r in f]
        k = [[(sum(a * b for a, b in zip(f[i], f[j])) + 1) / 2 for j in range(B)] for i in range(B)]
        return [[v / sum(r) for v in r] for r in k]
    ps, pt = cond(s), cond(t)
    return sum(pt[i][j] * math.log((pt[i][j] + eps) / (ps[i][j] + eps)) for i in range(B) for j in range(B)) / B

if __name__ == "__main__":  # the definitions above are imported by make_high_temperature.py
    cases = Cases()
    add = cases.add


    # logits losses: tiny, binary, huge logits, extreme alpha
    for (B, C, scale, T) in [(1, 2, 1.0, 0.5), (4, 5, 1000.0, 1.0), (4, 5, 1000.0, 4.0), (3, 7, 30.0, 2.0)]:
        s, t = randn(B * C, scale), randn(B * C, scale); y = [rng.randrange(C) for _ in range(B)]
        tag = f"b{B}c{C}/x{scale}/T{T}"
        add(f"kd/{tag}", "kd", {"temperature": T}, {"student_logits": T_([B, C], s), "teacher_logits": T_([B, C], t)},
            "student_logits", lambda x: kd(x, t, B, T))
        for alpha in (0.0, 1.0, 0.5):
            add(f"kd_hard/{tag}/a{alpha}", "kd_hard", {"temperature": T, "alpha": alpha},
                {"student_logits": T_([B, C], s), "teacher_logits": T_([B, C], t), "labels": T_([B], y)},
                "student_logits", lambda x, a=alpha: kd_hard(x, t, y, B, T, a))
        add(f"soft_ce/{tag}", "soft_ce", {}, {"student_logits": T_([B, C], s), "teacher_logits": T_([B, C], t)},
            "student_logits", lambda x: soft_ce(x, t, B))
        add(f"dkd/{tag}/a0.5b2", "dkd", {"alpha": 0.5, "beta": 2.0, "temperature": T},
            {"student_logits": T_([B, C], s), "teacher_logits": T_([B, C], t), "labels": T_([B], y)},
            "student_logits", lambda x: dkd(x, t, y, B, 0.5, 2.0, T))

    # feature losses: non-square maps, different channel counts, tiny batches
    for ss, ts in [([2, 3, 4, 6], [2, 5, 4, 6]), ([1, 2, 3, 1], [1, 4, 3, 1])]:
        s, t = randn(math.prod(ss)), randn(math.prod(ts))
        tag = "x".join(map(str, ss)) + "_" + "x".join(map(str, ts))
        ins = {"student_features": T_(ss, s), "teacher_features": T_(ts, t)}
        add(f"at/{tag}", "at", {"p": 2}, ins, "student_features", lambda x: at(x, t, ss, ts))
        add(f"at_paper/{tag}", "at_paper", {"p": 2}, ins, "student_features", lambda x: at_paper(x, t, ss, ts))
        add(f"sp/{tag}", "sp", {}, ins, "student_features", lambda x: sp(x, t, ss[0]))
    hs = [2, 3, 2, 5]; s, t = randn(60), randn(60, 3.0)
    add("hint/2x3x2x5", "hint", {}, {"student_features": T_(hs, s), "teacher_features": T_(hs, t)}, "student_features", lambda x: hint(x, t))
    for B, Ds, Dt, scale in [(3, 2, 4, 1.0), (4, 6, 3, 10.0), (2, 3, 5, 1.0)]:
        s, t = randn(B * Ds, scale), randn(B * Dt)
        ins = {"student_features": T_([B, Ds], s), "teacher_features": T_([B, Dt], t)}
        tag = f"{B}x{Ds}_{B}x{Dt}/x{scale}"
        add(f"rkd_distance/{tag}", "rkd_distance", {}, ins, "student_features", lambda x: rkd_distance(x, t, B))
        add(f"rkd_angle/{tag}", "rkd_angle", {}, ins, "student_features", lambda x: rkd_angle(x, t, B))
        add(f"pkt/{tag}", "pkt", {}, ins, "student_features", lambda x: pkt(x, t, B))

    json.dump({"format": "distill-reference/1", "generator": "pure Python float64, README definitions, central differences", "seed": 7,
               "cases": cases}, open(sys.argv[1], "w"))
    print(len(cases), "cases")
