#!/usr/bin/env python3
"""torch_step.py - PyTorch CPU reference of the trainer's step, for timing.

The step as the paper's authors wrote it (PAPER.md): a dense batch
x = (rand < p) * rand * 2 of shape (B, n), y = relu(x W Wᵀ + b), MSE over all
B·n entries, backward, the signed row-wise decay of W, then Adam (bias
corrected, eps added to the square root).  Prints one line per width:

    torch n=1000 m=10 B=2048 threads=1 step_ms=60.1

usage: torch_step.py [--threads T] [--steps K] [--n N] [--batch B] [M ...]
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


def make_step(n, m, batch, gamma, lr):
    p = torch.tensor([1.0 / i for i in range(1, n + 1)])
    p = p / p.sum()
    W = (torch.randn(n, m) / math.sqrt(m)).requires_grad_()
    b = torch.randn(n).requires_grad_()
    state = {"t": 0, "mW": torch.zeros_like(W), "vW": torch.zeros_like(W),
             "mb": torch.zeros_like(b), "vb": torch.zeros_like(b)}
    beta1, beta2, eps = 0.9, 0.999, 1e-8

    def adam(param, grad, mo, ve, t):
        mo.mul_(beta1).add_(grad, alpha=1 - beta1)
        ve.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = (ve.sqrt() / math.sqrt(1 - beta2 ** t)).add_(eps)
        param.addcdiv_(mo, denom, value=-lr / (1 - beta1 ** t))

    def step():
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
            adam(W, W.grad, state["mW"], state["vW"], t)
            adam(b, b.grad, state["mb"], state["vb"], t)
        return loss.item()

    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=2048)
    ap.add_argument("m", type=int, nargs="*", default=[10, 15, 25, 39, 63, 100])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
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
