# Regenerate: python3 make_edge_cases_after_dkd.py edge_cases_after_dkd.json (from this folder; pure Python 3, deterministic).
"""Independent float64 check of the README's after-DKD definitions (dist, kd_ls, kd_multi, nst, mlkd_batch, mlkd_class)
in pure Python (no torch/numpy): losses from the written definitions, gradients by central differences. Other shapes
and edge cases than losses-after-dkd.json: B = 1 (where defined), C = 2, x1000 logits, T < 1, one and three teachers,
1x1 maps, channel counts that differ."""
import json, math, random, sys
from refgen import rows, lse, log_softmax, T_, Cases

rng = random.Random(11)

def randn(n, scale=1.0): return [rng.gauss(0, 1) * scale for _ in range(n)]
def softmax(v): return [math.exp(a) for a in log_softmax(v)]
def kl(lt, ls): return sum(math.exp(a) * (a - b) for a, b in zip(lt, ls))  # KL(p_t || p_s) from log-probabilities

def pearson(a, b):
    ma, mb = sum(a) / len(a), sum(b) / len(b); a = [v - ma for v in a]; b = [v - mb for v in b]
    return sum(x * y for x, y in zip(a, b)) / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)) + 1e-8)

def dist(s, t, B, T, beta, gamma):
    ys = [softmax([a / T for a in r]) for r in rows(s, B)]; yt = [softmax([a / T for a in r]) for r in rows(t, B)]
    inter = 1 - sum(pearson(a, b) for a, b in zip(ys, yt)) / B
    cs, ct = list(map(list, zip(*ys))), list(map(list, zip(*yt)))
    intra = 1 - sum(pearson(a, b) for a, b in zip(cs, ct)) / len(cs)
    return T * T * (beta * inter + gamma * intra)

def standardize(r):
    m = sum(r) / len(r); sd = math.sqrt(sum((v - m) ** 2 for v in r) / (len(r) - 1))
    return [(v - m) / (sd + 1e-7) for v in r]

def kd_rows(S, Tt, T):
    return T * T * sum(kl(log_softmax([a / T for a in t]), log_softmax([a / T for a in s])) for s, t in zip(S, Tt)) / len(S)

def kd_ls(s, t, B, T): return kd_rows([standardize(r) for r in rows(s, B)], [standardize(r) for r in rows(t, B)], T)

def kd_multi(s, t, K, B, T):
    S = rows(s, B); teachers = [rows(x, B) for x in rows(t, K)]; total = 0.0
    for b in range(B):
        q = [sum(softmax([a / T for a in teachers[k][b]])[c] for k in range(K)) / K for c in range(len(S[b]))]
        ls = log_softmax([a / T for a in S[b]])
        total += sum(qc * (math.log(qc) - lc) for qc, lc in zip(q, ls) if qc > 0)
    return T * T * total / B

def nst(s, t, ss, ts):
    B = ss[0]; hw = ss[2] * ss[3]
    def maps(x, C):
        out = []
        for b in range(B):
            rs = [x[(b * C + c) * hw:(b * C + c + 1) * hw] for c in range(C)]
            out.append([[v / max(math.sqrt(sum(w * w for w in r)), 1e-12) for v in r] for r in rs])
        return out
    S, T_ = maps(s, ss[1]), maps(t, ts[1])
    def mean_k(X, Y): return sum((sum(a * b for a, b in zip(x, y))) ** 2 for b in range(B) for x in X[b] for y in Y[b]) / (B * len(X[0]) * len(Y[0]))
    return mean_k(T_, T_) + mean_k(S, S) - 2 * mean_k(S, T_)

def probs(x, B, T): return [softmax([a / T for a in r]) for r in rows(x, B)]

def mlkd_batch(s, t, B, T):
    ps, pt = probs(s, B, T), probs(t, B, T)
    g = lambda p: [[sum(a * b for a, b in zip(p[i], p[j])) for j in range(B)] for i in range(B)]
    gs, gt = g(ps), g(pt)
    return sum((gt[i][j] - gs[i][j]) ** 2 for i in range(B) for j in range(B)) / B

def mlkd_class(s, t, B, T):
    ps, pt = probs(s, B, T), probs(t, B, T); C = len(ps[0])
    g = lambda p: [[sum(p[b][i] * p[b][j] for b in range(B)) for j in range(C)] for i in range(C)]
    gs, gt = g(ps), g(pt)
    return sum((gt[i][j] - gs[i][j]) ** 2 for i in range(C) for j in range(C)) / C

if __name__ == "__main__":  # the definitions above are imported by make_high_temperature.py
    cases = Cases()
    def add(name, loss, params, inputs, f, student): cases.add(name, loss, params, inputs, student, f)

    for (B, C, scale, T) in [(1, 2, 1.0, 0.5), (2, 2, 1.0, 1.0), (4, 5, 1000.0, 1.0), (3, 7, 30.0, 2.0), (5, 3, 3.0, 8.0)]:
        s, t = randn(B * C, scale), randn(B * C, scale)
        tag = f"b{B}c{C}/x{scale}/T{T}"
        ins = {"student_logits": T_([B, C], s), "teacher_logits": T_([B, C], t)}
        if B >= 2:
            for beta, gamma in [(1.0, 1.0), (2.0, 0.5)]:
                add(f"dist/{tag}/b{beta}g{gamma}", "dist", {"temperature": T, "beta": beta, "gamma": gamma}, ins,
                    lambda x, be=beta, ga=gamma: dist(x, t, B, T, be, ga), "student_logits")
        add(f"kd_ls/{tag}", "kd_ls", {"temperature": T}, ins, lambda x: kd_ls(x, t, B, T), "student_logits")
        add(f"mlkd_batch/{tag}", "mlkd_batch", {"temperature": T}, ins, lambda x: mlkd_batch(x, t, B, T), "student_logits")
        add(f"mlkd_class/{tag}", "mlkd_class", {"temperature": T}, ins, lambda x: mlkd_class(x, t, B, T), "student_logits")
        for K in (1, 3):
            tk = randn(K * B * C, scale)
            add(f"kd_multi/{tag}/K{K}", "kd_multi", {"temperature": T},
                {"student_logits": T_([B, C], s), "teacher_logits": T_([K, B, C], tk)}, lambda x, tk=tk, K=K: kd_multi(x, tk, K, B, T), "student_logits")

    for ss, ts in [([2, 3, 4, 6], [2, 5, 4, 6]), ([1, 2, 3, 1], [1, 4, 3, 1]), ([3, 4, 2, 2], [3, 2, 2, 2])]:
        s, t = randn(math.prod(ss)), randn(math.prod(ts), 5.0)
        tag = "x".join(map(str, ss)) + "_" + "x".join(map(str, ts))
        add(f"nst/{tag}", "nst", {}, {"student_features": T_(ss, s), "teacher_features": T_(ts, t)}, lambda x: nst(x, t, ss, ts), "student_features")

    json.dump({"format": "distill-reference/1", "generator": "pure Python float64, README definitions, central differences", "seed": 11,
               "cases": cases}, open(sys.argv[1], "w"))
    print(len(cases), "cases")
