# Regenerate: python3 make_high_temperature.py high_temperature.json (from this folder; pure Python 3, deterministic).
"""The KL family (kd, kd_hard, dkd, kd_ls, kd_multi) at temperatures above 20, up to the catalogue's limit of 1000, on
10, 100 and 1000 classes: there the T² factor lifts float32's rounding of the log-probabilities above the 1e-4 tolerance
(PyTorch's float32 misses these cases too), which the library answers by computing the KL in float64 above T = 20.
Definitions imported from the other generators (the README's), float64, central differences on the scale of T."""
import json, math, random, sys
from refgen import rows, log_softmax, T_, Cases
from make_edge_cases import kd, kd_hard, dkd
from make_edge_cases_after_dkd import kd_ls, softmax

def kd_multi(s, t, K, B, T):
    """make_edge_cases_after_dkd's kd_multi with each teacher's softmax taken once per row (it recomputes it per class,
    which is O(C²) and too slow at C = 1000)."""
    S = rows(s, B); teachers = [rows(x, B) for x in rows(t, K)]; total = 0.0
    for b in range(B):
        probs = [softmax([a / T for a in teachers[k][b]]) for k in range(K)]
        q = [sum(p[c] for p in probs) / K for c in range(len(S[b]))]
        ls = log_softmax([a / T for a in S[b]])
        total += sum(qc * (math.log(qc) - lc) for qc, lc in zip(q, ls) if qc > 0)
    return T * T * total / B

rng = random.Random(13)

def randn(n, scale=1.0): return [rng.gauss(0, 1) * scale for _ in range(n)]

if __name__ == "__main__":
    cases = Cases()
    for T in (32.0, 50.0, 100.0, 1000.0):
        for (B, C, scale) in [(3, 10, 1.0), (2, 100, 3.0), (1, 1000, 1.0)]:
            s, t, t2 = randn(B * C, scale), randn(B * C, scale), randn(2 * B * C, scale)
            y = [rng.randrange(C) for _ in range(B)]
            tag = f"b{B}c{C}/x{scale}/T{T}"
            logits = {"student_logits": T_([B, C], s), "teacher_logits": T_([B, C], t)}
            labelled = dict(logits, labels=T_([B], y))
            cases.add(f"kd/{tag}", "kd", {"temperature": T}, logits, "student_logits", lambda x: kd(x, t, B, T), T)
            cases.add(f"kd_hard/{tag}/a0.9", "kd_hard", {"temperature": T, "alpha": 0.9}, labelled, "student_logits",
                      lambda x: kd_hard(x, t, y, B, T, 0.9), T)
            cases.add(f"dkd/{tag}/a1b8", "dkd", {"alpha": 1.0, "beta": 8.0, "temperature": T}, labelled, "student_logits",
                      lambda x: dkd(x, t, y, B, 1.0, 8.0, T), T)
            if C > 1:
                cases.add(f"kd_ls/{tag}", "kd_ls", {"temperature": T}, logits, "student_logits", lambda x: kd_ls(x, t, B, T), T)
            cases.add(f"kd_multi/{tag}/K2", "kd_multi", {"temperature": T},
                      {"student_logits": T_([B, C], s), "teacher_logits": T_([2, B, C], t2)}, "student_logits",
                      lambda x: kd_multi(x, t2, 2, B, T), T)

    json.dump({"format": "distill-reference/1", "generator": "pure Python float64, README definitions, central differences", "seed": 13,
               "cases": cases}, open(sys.argv[1], "w"))
    print(len(cases), "cases")
