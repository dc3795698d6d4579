#!/usr/bin/env python3
"""torch_step.py - PyTorch CPU reference of the trainer's step, for timing.

The step as the paper's authors wrote it (PAPER.md): a dense batch
x = (rand < p) * rand * 2 of shape (B, n), y = relu(x W Wᵀ + b), MSE over all
B·n entries, backward, the signed row-wise decay of W, then Adam (bias
corrected, eps added to the square root).  Prints one line per width:

    torch n=1000 m=10 B=2048 threads=1 step_ms=60.1

usage: torch_step.py [--threads T] [--steps K] [--n N] [--batch B] [M ...]

With --train, trains one job the authors' way instead (--steps steps, the
small-model schedule with --warmup) and prints its metrics as JSON, to
cross-check `supersweep train` statistically (the random streams differ):

    torch_step.py --train --n 200 --batch 512 --steps 3000 --warmup 300 \
        --alpha 1 --gamma -1 10
"""
import argparse
import math
import sys
import time

try:
    import torch
except ImportError:  # the caller prints a note instead
    print("torch_step: PyTorch is not importable", file=sys.stderr)
    sys.exit(77)


def make_step(n, m, batch, gamma, lr, alpha=1.0, out=None):
    p = torch.tensor([float(i) ** -alpha for i in range(1, n + 1)])
    p = p / p.sum()
    W = (torch.randn(n, m) / math.sqrt(m)).requires_grad_()
    b = torch.randn(n).requires_grad_()
    state = {"t": 0, "mW": torch.zeros_like(W), "vW": torch.zeros_like(W),
             "mb": torch.zeros_like(b), "vb": torch.zeros_like(b)}
    beta1, beta2, eps = 0.9, 0.999, 1e-8

    def adam(param, grad, mo, ve, t, lr):
        mo.mul_(beta1).add_(grad, alpha=1 - beta1)
        ve.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = (ve.sqrt() / math.sqrt(1 - beta2 ** t)).add_(eps)
        param.addcdiv_(mo, denom, value=-lr / (1 - beta1 ** t))

    def step(lr=lr):
        x = (torch.rand(batch, n) < p).float() * torch.rand(batch, n) * 2
        y = torch.relu(x @ W @ W.T + b)
        loss = ((y - x) ** 2).mean()
        W.grad = None
        b.grad = None
        loss.backward()
        with torch.no_grad():
            state["t"] += 1
            t = state["t"]
            if gamma >= 0:
                W.mul_(1 - gamma * lr)
            else:
                norms = W.norm(dim=1, keepdim=True).add_(eps)
                W.add_(gamma * W * (1 - 1 / norms), alpha=lr)
            adam(W, W.grad, state["mW"], state["vW"], t, lr)
            adam(b, b.grad, state["mb"], state["vb"], t, lr)
        return loss.item() * n  # L: sum over features, mean over samples

    if out is not None:
        out.update(W=W, b=b, p=p)
    return step


def get_lr(step, peak, steps, warmup, ratio=0.05):
    """The authors' schedule (s = step + 1)."""
    s = step + 1
    lo = ratio * peak
    if warmup < steps:
        if s < warmup:
            return peak * s / warmup
        return (peak - lo) * 0.5 * (1 + math.cos(math.pi * (s - warmup) / (steps - warmup))) + lo
    return (peak - lo) * 0.5 * (1 + math.cos(math.pi * s / steps)) + lo


def train(a, m):
    import json
    parts = {}
    step = make_step(a.n, m, a.batch, a.gamma, 1e-2, a.alpha, parts)
    losses = [step(get_lr(k, 1e-2, a.steps, a.warmup)) for k in range(a.steps)]
    W = parts["W"].detach().double()
    norms = W.norm(dim=1)
    hat = W / norms.clamp_min(1e-300).unsqueeze(1)
    G = (hat @ hat.T) ** 2
    G.fill_diagonal_(0)
    strong = norms > 1
    ns = int(strong.sum())
    res = {
        "m": m, "final_loss": sum(losses[-100:]) / len(losses[-100:]),
        "phi_half": float((norms > 0.5).double().mean()),
        "phi_one": float(strong.double().mean()),
        "overlap_all": float(G.sum() / (a.n * (a.n - 1))),
        "overlap_strong": float(G[strong][:, strong].sum() / (ns * (ns - 1))) if ns > 1 else None,
        "norm_median": float(norms.median()),
        "weak_pred": float(4 / 3 * parts["p"].double()[norms <= 0.5].sum()),
    }
    print(json.dumps(res), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--alpha", type=float, default=1.0)
    ap.add_argument("--gamma", type=float, default=-1.0)
    ap.add_argument("--warmup", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("m", type=int, nargs="*", default=[10, 15, 25, 39, 63, 100])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    if a.train:
        for m in a.m:
            train(a, m)
        return
    for m in a.m:
        step = make_step(a.n, m, a.batch, -1.0, 1e-3)
        for _ in range(2):
            step()
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(a.steps):
                step()
            best = min(best, (time.perf_counter() - t0) / a.steps)
        print(f"torch n={a.n} m={m} B={a.batch} threads={a.threads} "
              f"step_ms={best * 1e3:.2f}", flush=True)


if __name__ == "__main__":
    main()
