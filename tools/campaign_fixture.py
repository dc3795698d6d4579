"""campaign_fixture.py - build small synthetic campaign files for tests.

A fixture builder, not a simulator: it writes an HDF5 file laid out exactly
as a campaign file (docs/FORMAT.md and the conventions every reader relies
on, docs/FORMAT.md: /jobs/<param> columns with the spec's types, /jobs/status as an enum
pending=0/done=1/failed=2, /metrics/<name> float64, /curves/loss (N, K)
float32 NaN-padded, /weights pools with int64 offsets, -1 where not saved),
filled with numbers that follow the paper's predictions exactly (plus an
optional seeded log-normal noise), so that tests know what every figure and
every fitted exponent must show:

  strong regime (gamma < 0): L = L10 * (m/10)^-1, phi_half = 1,
      overlap_strong = 1/m, phi_one = min(1, m^2 / 2n)
  weak regime (gamma >= 0): L = <v^2> * sum of p_i over i > m (the dropped
      frequency mass, which for p_i ~ i^-alpha falls as m^-(alpha-1)),
      phi_half = m/n

Real campaign files come from `supersweep run`; use those for measurements.

usage: sh tools/python tools/campaign_fixture.py OUT.h5 [--kind small|density] [--noise SD]
"""
import argparse
import sys

import h5py
import numpy as np

FORMAT_VERSION = 1
DIST = {"power": 0, "exponential": 1, "linear": 2}
STATUS = {"pending": 0, "done": 1, "failed": 2}
INT_PARAMS = ["n", "m", "seed", "batch", "steps", "warmup", "log_every", "eval_samples",
              "threads"]
REAL_PARAMS = ["alpha", "dist_scale", "E", "density_s", "gamma", "lr_w", "lr_b",
               "lr_min_ratio"]
METRICS = ["final_loss", "eval_loss", "phi_half", "phi_one", "overlap_strong", "overlap_all",
           "weak_pred", "norm_min", "norm_median", "norm_mean", "norm_max", "density",
           "steps_done", "wall_s"]
WIDTHS = [10, 15, 25, 39, 63, 100]  # floor(logspace(10, 100, 6))
V2 = 4.0 / 3.0  # <v^2> of Uniform(0, 2)


def frequencies(n, alpha, E=1.0, density_s=0.0):
    """p_i = E * i^-alpha / sum, then the density rule of PAPER.md."""
    p = np.arange(1, n + 1, dtype=float) ** -alpha
    p *= E / p.sum()
    if density_s:
        p = p * (1.0 + density_s * (1.0 / p[0] - 1.0))
    return p


def weak_loss(n, m, alpha, E=1.0, density_s=0.0):
    p = frequencies(n, alpha, E, density_s)
    return V2 * p[m:].sum()


def _points(kind):
    """The job points of a fixture, as a list of dicts."""
    pts = []
    if kind == "small":
        for gamma in (-1.0, 0.5):
            for alpha in (0.5, 1.0, 1.5, 2.0):
                for m in WIDTHS:
                    for seed in (0, 1):
                        pts.append(dict(gamma=gamma, alpha=alpha, m=m, seed=seed,
                                        density_s=0.0, save_weights=int(seed == 0 and m == 25)))
    elif kind == "density":
        for gamma in (-1.0, 0.5):
            for s in (0.0, 0.5, 1.0):
                for m in WIDTHS:
                    pts.append(dict(gamma=gamma, alpha=1.0, m=m, seed=0, density_s=s,
                                    save_weights=0))
    else:
        raise ValueError("unknown fixture kind %r" % kind)
    return pts


def build(path, kind="small", noise=0.0, n=200, steps=200, log_every=20, seed=1,
          pending=(), failed=(), weights=True):
    """Write a fixture campaign to PATH; returns the dict of columns written.

    pending / failed: row indices whose status is pending / failed (their
    metrics are NaN as in a real file)."""
    rng = np.random.default_rng(seed)
    pts = _points(kind)
    N = len(pts)
    K = steps // log_every
    jobs = {k: np.zeros(N, dtype=np.int64) for k in INT_PARAMS}
    jobs.update({k: np.zeros(N, dtype=np.float64) for k in REAL_PARAMS})
    jobs["dist"] = np.zeros(N, dtype=np.int8)
    jobs["save_weights"] = np.zeros(N, dtype=np.uint8)
    met = {k: np.full(N, np.nan) for k in METRICS}
    curves = np.full((N, K), np.nan, dtype=np.float32)
    status = np.full(N, STATUS["done"], dtype=np.int8)
    status[list(pending)] = STATUS["pending"]
    status[list(failed)] = STATUS["failed"]
    W_parts, b_parts = [], []
    W_off = np.full(N, -1, dtype=np.int64)
    b_off = np.full(N, -1, dtype=np.int64)
    woff = boff = 0
    for i, p in enumerate(pts):
        m, alpha, gamma = p["m"], p["alpha"], p["gamma"]
        jobs["n"][i], jobs["m"][i], jobs["seed"][i] = n, m, p["seed"]
        jobs["batch"][i], jobs["steps"][i], jobs["warmup"][i] = 64, steps, steps // 10
        jobs["log_every"][i], jobs["eval_samples"][i], jobs["threads"][i] = log_every, 0, 1
        jobs["alpha"][i], jobs["gamma"][i], jobs["density_s"][i] = alpha, gamma, p["density_s"]
        jobs["dist_scale"][i], jobs["E"][i] = 400.0, 1.0
        jobs["lr_w"][i], jobs["lr_b"][i], jobs["lr_min_ratio"][i] = 1e-2, 1e-2, 0.05
        jobs["save_weights"][i] = p["save_weights"]
        if status[i] != STATUS["done"]:
            continue
        pf = frequencies(n, alpha, 1.0, p["density_s"])
        E = pf.sum()
        if gamma < 0:
            loss = 0.7 * E * (m / 10.0) ** -1.0
            phi_half, phi_one, ov = 1.0, min(1.0, m * m / (2.0 * n)), 1.0 / m
        else:
            loss = weak_loss(n, m, alpha, 1.0, p["density_s"])
            phi_half, phi_one, ov = m / n, m / n, 0.02
        if noise:
            loss *= np.exp(noise * rng.standard_normal())
        met["final_loss"][i] = loss
        met["eval_loss"][i] = loss * 1.01
        met["phi_half"][i], met["phi_one"][i] = phi_half, phi_one
        met["overlap_strong"][i], met["overlap_all"][i] = ov, ov
        met["weak_pred"][i] = V2 * pf[int(round(phi_half * n)):].sum()
        met["norm_min"][i], met["norm_median"][i] = 0.0, 1.0
        met["norm_mean"][i], met["norm_max"][i] = phi_half, 1.1
        met["density"][i], met["steps_done"][i], met["wall_s"][i] = E, steps, 0.5
        curves[i, :] = (loss * (1.0 + 2.0 / (1.0 + np.arange(K)))).astype(np.float32)
        if not weights:
            jobs["save_weights"][i] = 0
        elif p["save_weights"]:
            W = rng.standard_normal((n, m)).astype(np.float32)
            norms = np.ones(n) if gamma < 0 else np.r_[np.ones(m), np.zeros(n - m)]
            W *= (norms / np.maximum(np.linalg.norm(W, axis=1), 1e-12))[:, None].astype(
                np.float32)
            W_parts.append(W.ravel())
            b_parts.append(np.zeros(n, dtype=np.float32))
            W_off[i], b_off[i] = woff, boff
            woff += n * m
            boff += n
    write(path, jobs, met, status, curves, W_parts, b_parts, W_off, b_off,
          name="fixture-" + kind, seed=seed,
          spec_text="# synthetic fixture (tools/campaign_fixture.py, kind %s)\n" % kind)
    out = dict(jobs)
    out.update(met)
    out["status"] = status
    out["curves"] = curves
    return out


def write(path, jobs, met, status, curves, W_parts=(), b_parts=(), W_off=None, b_off=None,
          name="fixture", seed=1, spec_text=""):
    """Write columns in the campaign-file layout: JOBS {param: (N,)} with
    dist as int8 codes, MET {metric: (N,)}, STATUS (N,) int8 codes, CURVES
    (N, K) float32, optional weight pools with their offsets (-1 = none)."""
    N = len(status)
    if W_off is None:
        W_off = np.full(N, -1, dtype=np.int64)
    if b_off is None:
        b_off = np.full(N, -1, dtype=np.int64)
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "supersweep-campaign"
        f.attrs["format_version"] = np.int64(FORMAT_VERSION)
        f.attrs["spec_text"] = spec_text
        f.attrs["name"] = name
        f.attrs["campaign_seed"] = np.uint64(seed)
        f.attrs["njobs"] = np.int64(N)
        f.attrs["curve_len"] = np.int64(curves.shape[1])
        f.attrs["supersweep_version"] = "fixture"
        g = f.create_group("jobs")
        for k, v in jobs.items():
            if k == "dist":
                g.create_dataset(k, data=v, dtype=h5py.enum_dtype(DIST, basetype="i1"))
            else:
                g.create_dataset(k, data=v)
        g.create_dataset("key", data=np.arange(1, N + 1, dtype=np.uint64) * 2654435761)
        g.create_dataset("status", data=status, dtype=h5py.enum_dtype(STATUS, basetype="i1"))
        g.create_dataset("attempt", data=(status != 0).astype(np.int32))
        g.create_dataset("rank", data=np.ones(N, dtype=np.int32))
        g.create_dataset("host", data=np.array([b"fixture"] * N, dtype="S64"))
        err = np.array([b"diverged at step 7" if s == STATUS["failed"] else b"" for s in status],
                       dtype="S128")
        g.create_dataset("error", data=err)
        g.create_dataset("checksum", data=np.zeros(N, dtype=np.uint64))
        mg = f.create_group("metrics")
        for k, v in met.items():
            mg.create_dataset(k, data=v)
        f.create_group("curves").create_dataset("loss", data=curves)
        wg = f.create_group("weights")
        wg.create_dataset("W", data=np.concatenate(W_parts) if W_parts
                          else np.zeros(0, np.float32))
        wg.create_dataset("b", data=np.concatenate(b_parts) if b_parts
                          else np.zeros(0, np.float32))
        wg.create_dataset("W_offset", data=W_off)
        wg.create_dataset("b_offset", data=b_off)


def main(argv):
    ap = argparse.ArgumentParser(description="Write a synthetic campaign file (test fixture).")
    ap.add_argument("out")
    ap.add_argument("--kind", choices=["small", "density"], default="small")
    ap.add_argument("--noise", type=float, default=0.0, help="log-normal noise sd of the loss")
    ap.add_argument("--n", type=int, default=200)
    a = ap.parse_args(argv)
    build(a.out, a.kind, a.noise, n=a.n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
