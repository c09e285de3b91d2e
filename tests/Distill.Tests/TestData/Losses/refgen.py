"""Helpers shared by the edge-case generators (make_edge_cases*.py): pure Python float64, no torch/numpy."""
import math

def rows(x, b): n = len(x) // b; return [x[i*n:(i+1)*n] for i in range(b)]
def lse(v): m = max(v); return m + math.log(sum(math.exp(a - m) for a in v))
def log_softmax(v): l = lse(v); return [a - l for a in v]

def grad(f, x, scale=1.0):
    """Central differences, step scaled to each element (and by `scale`: a loss of logits/T varies on the scale of T)."""
    g = []
    for i in range(len(x)):
        h = 1e-5 * scale * max(1.0, abs(x[i])); xp = list(x); xm = list(x); xp[i] += h; xm[i] -= h
        g.append((f(xp) - f(xm)) / (2 * h))
    return g

def T_(shape, data): return {"shape": shape, "data": data}

class Cases(list):
    """distill-reference/1 cases; add() computes the loss and its gradient for the student input."""
    def add(self, name, loss, params, inputs, student, f, step=1.0):
        x = inputs[student]["data"]
        self.append({"name": name, "loss": loss, "params": params, "inputs": inputs,
                     "expected": {"loss": f(x), "grad": {student: {"shape": inputs[student]["shape"], "data": grad(f, x, step)}}}})
