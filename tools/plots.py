"""plots.py - the paper's kinds of figures from a supersweep campaign file.

usage: sh tools/python tools/plots.py CAMPAIGN.h5 -o DIR [--which LIST]
           [--gamma G,G...] [--m M] [--where COL=VALUE ...] [--seeds mean|pool]

Figures (PNG, one file each; --which picks a comma list, default all that the
campaign's axes allow):
  loss_vs_m    loss against width on log-log axes, one panel per chosen gamma,
               one line per alpha, with the fitted power laws (dashed)
  alpha_m      the fitted exponent alpha_m against the data exponent alpha for
               the chosen gammas, with the lines alpha_m = 1, alpha - 1 and
               2(alpha - 1) (PAPER.md: strong -> 1, weak -> alpha - 1)
  phi_half     phi_1/2 (fraction of rows with norm > 1/2) as a heat map over
               (alpha, gamma) at one width (--m, default the largest)
  overlap      mean squared overlap of strongly represented rows against m,
               one line per chosen gamma, with 1/m
  loss_vs_E    loss against the data density E = sum p_i at one width, one
               line per chosen gamma (density sweeps)
  row_norms    histograms of the row norms |W_i| of jobs that saved weights

Only rows whose status is done are used.  Replicates (seeds, and any axis not
named) are averaged: loss as a geometric mean at each x (as `supersweep fit`
does by default), other metrics arithmetically.  --where COL=VALUE keeps only
rows with that value (e.g. --where n=1000).  Every plotting function returns
the arrays it drew, so tests can check the figure against the file.

The file is opened read-only without file locking, so a running campaign can
be plotted.
"""
import argparse
import os
import sys

import h5py
import numpy as np

import matplotlib

matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
import matplotlib.pyplot as plt  # noqa: E402

FIGURES = ["loss_vs_m", "alpha_m", "phi_half", "overlap", "loss_vs_E", "row_norms"]
LOSS_LABEL = {
    "final_loss": "final loss L (mean of last 100 steps; dimensionless)",
    "eval_loss": "eval loss L (fresh samples; dimensionless)",
}


class Campaign:
    """The columns of a campaign file as numpy arrays (done rows kept in `done`)."""

    def __init__(self, path):
        self.path = path
        self.cols = {}
        self.enums = {}
        with h5py.File(path, "r", locking=False) as f:
            for grp in ("jobs", "metrics"):
                if grp not in f:
                    continue
                for name, ds in f[grp].items():
                    if not isinstance(ds, h5py.Dataset) or ds.ndim != 1:
                        continue
                    if ds.dtype.kind == "S":
                        continue
                    mapping = h5py.check_enum_dtype(ds.dtype)
                    if mapping is not None:
                        self.enums[name] = {v: k for k, v in mapping.items()}
                    self.cols.setdefault(name, ds[()].astype(np.float64))
            if "status" not in self.enums:
                raise ValueError("%s: not a campaign file (no enum /jobs/status)" % path)
            inv = {v: k for k, v in self.enums["status"].items()}
            self.done = self.cols["status"] == inv["done"]
            self.has_weights = ("weights" in f and "W_offset" in f["weights"]
                                and bool(np.any(f["weights"]["W_offset"][()] >= 0)))
        self.mask = self.done.copy()

    def where(self, col, value):
        """Keep only rows with COL == VALUE (an enum member name or a number)."""
        if col not in self.cols:
            raise ValueError("%s: no column %r" % (self.path, col))
        if col in self.enums:
            inv = {v: k for k, v in self.enums[col].items()}
            if value not in inv:
                raise ValueError("%s: %r is not one of %s" % (col, value, sorted(inv)))
            v = inv[value]
        else:
            v = float(value)
        self.mask &= self.cols[col] == v

    def values(self, col):
        """Distinct values of COL among the rows kept."""
        return np.unique(self.cols[col][self.mask])

    def label(self, col, v):
        if col in self.enums:
            return self.enums[col].get(int(v), str(v))
        return "%g" % v


def fit_line(lx, ly):
    """Least squares ly = c + s lx: (slope, intercept, slope_se, r2), as fit.c."""
    lx, ly = np.asarray(lx, float), np.asarray(ly, float)
    n = len(lx)
    if n < 2:
        return (np.nan,) * 4
    mx, my = lx.mean(), ly.mean()
    sxx = ((lx - mx) ** 2).sum()
    if not sxx > 0:
        return (np.nan,) * 4
    s = ((lx - mx) * (ly - my)).sum() / sxx
    c = my - s * mx
    ssr = ((ly - (c + s * lx)) ** 2).sum()
    syy = ((ly - my) ** 2).sum()
    r2 = 1.0 - ssr / syy if syy > 0 else 1.0
    se = np.sqrt(ssr / (n - 2) / sxx) if n > 2 else np.nan
    return s, c, se, r2


def fit_groups(c, by, x="m", y="final_loss", seeds="mean", min_x=0.0, min_points=3,
               r2_min=0.95):
    """Power-law fits per group, the same computation as `supersweep fit`.

    Returns a list of dicts: key (tuple), x (distinct x), y (geometric mean of
    y at each x), alpha, alpha_se, r2, intercept, npoints, flags (list)."""
    keep = c.mask & (c.cols[x] >= min_x) if min_x > 0 else c.mask.copy()
    keys = np.stack([c.cols[b][keep] for b in by], axis=1) if by else np.zeros((keep.sum(), 0))
    xs, ys = c.cols[x][keep], c.cols[y][keep]
    out = []
    uniq = sorted({tuple(k) for k in keys}) if len(keys) else []
    for key in uniq:
        sel = np.all(keys == np.array(key), axis=1) if by else np.ones(len(xs), bool)
        gx, gy = xs[sel], ys[sel]
        ok = np.isfinite(gx) & np.isfinite(gy) & (gx > 0) & (gy > 0)
        flags = []
        if not ok.all():
            flags.append("dropped_rows")
        gx, gy = gx[ok], gy[ok]
        ux = np.unique(gx)
        my = np.array([np.exp(np.log(gy[gx == u]).mean()) for u in ux])
        if seeds == "pool":
            lx, ly = np.log(gx), np.log(gy)
        else:
            lx, ly = np.log(ux), np.log(my)
        if np.any(np.diff(np.log(my)) > 0):
            flags.append("non_monotone")
        if len(ux) < min_points:
            flags.append("few_points")
            s = ci = se = r2 = np.nan
        else:
            s, ci, se, r2 = fit_line(lx, ly)
            if not r2 >= r2_min:
                flags.append("low_r2")
        out.append(dict(key=key, x=ux, y=my, alpha=-s, alpha_se=se, r2=r2, intercept=ci,
                        npoints=len(lx), flags=flags))
    return out


# Axes that, when they vary, separate the curves of one panel (gamma makes
# panels; m is the x axis; seed is averaged; lr_w, lr_b and warmup follow m
# through the per-width rules and threads is no parameter of the result).
LINE_AXES = ["alpha", "density_s", "E", "dist", "dist_scale", "n", "batch", "steps"]


def line_axes(c, exclude=()):
    """The LINE_AXES that take more than one value among the rows kept."""
    return [a for a in LINE_AXES if a in c.cols and a not in exclude
            and len(c.values(a)) > 1]


def _line_label(c, axes, key):
    return " ".join("%s=%s" % (a, c.label(a, v)) for a, v in zip(axes, key))


def _densities(c, sel):
    """Distinct values of the density metric (rounded: sums of p_i differ in the last bit)."""
    return np.unique(np.round(c.cols["density"][sel & np.isfinite(c.cols["density"])], 9))


def _chosen_gammas(c, gammas):
    g = c.values("gamma")
    if gammas:
        want = [float(v) for v in gammas]
        missing = [v for v in want if not np.any(np.isclose(g, v))]
        if missing:
            raise ValueError("gamma %s not in the campaign (has %s)" % (missing, list(g)))
        return [g[np.argmin(np.abs(g - v))] for v in want]
    if len(g) <= 4:
        return list(g)
    neg, pos = g[g < 0], g[g >= 0]
    pick = []
    if len(neg):
        pick += [neg[0], neg[-1]]
    if len(pos):
        pick += [pos[0], pos[-1]]
    return sorted(set(pick))


def _width_ticks(ax, ms):
    """Label a log x axis at the campaign's widths, in plain numbers."""
    from matplotlib.ticker import NullFormatter, ScalarFormatter
    ms = np.asarray(ms, float)
    if len(ms) > 10:
        ms = ms[:: int(np.ceil(len(ms) / 10))]
    ax.set_xticks(ms)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())


def _save(fig, out_dir, name):
    path = os.path.join(out_dir, name + ".png")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_loss_vs_m(c, out_dir, gammas=None, y="final_loss", seeds="mean"):
    """Loss against m per gamma (panels) and per value of every other varying
    axis (lines: alpha, density_s, dist, ...), fitted lines dashed.  Returns
    (path, data) with data[gamma] = list of fit_groups dicts (x, y plotted, fit;
    key = (gamma, *line axes)) and data["axes"] the line axes."""
    gs = _chosen_gammas(c, gammas)
    la = line_axes(c)
    fits = fit_groups(c, ["gamma"] + la, "m", y, seeds)
    cmap = plt.get_cmap("viridis")
    fig, axes = plt.subplots(1, len(gs), figsize=(4.2 * len(gs), 3.8), squeeze=False,
                             sharey=True)
    data = {"axes": la}
    for ax, g in zip(axes[0], gs):
        rows = [fr for fr in fits if fr["key"][0] == g]
        data[g] = rows
        for k, fr in enumerate(rows):
            col = cmap(k / max(1, len(rows) - 1))
            lab = _line_label(c, la, fr["key"][1:]) or "all"
            ax.loglog(fr["x"], fr["y"], "o", color=col, ms=4,
                      label="%s: α_m=%.2f" % (lab, fr["alpha"]))
            if np.isfinite(fr["alpha"]):
                xx = np.array([fr["x"][0], fr["x"][-1]])
                ax.loglog(xx, np.exp(fr["intercept"]) * xx ** -fr["alpha"], "--", color=col,
                          lw=1)
        ax.set_title("γ = %g (%s)" % (g, "strong" if g < 0 else "weak"))
        ax.set_xlabel("width m (hidden dimensions)")
        _width_ticks(ax, c.values("m"))
        ax.grid(True, which="both", alpha=0.3)
        if len(rows) <= 9:
            ax.legend(fontsize=7, title="points: data; dashed: fit", title_fontsize=7)
    axes[0][0].set_ylabel(LOSS_LABEL.get(y, y))
    fig.suptitle("Loss against width (%s)" % os.path.basename(c.path))
    return _save(fig, out_dir, "loss_vs_m"), data


def plot_alpha_m(c, out_dir, gammas=None, y="final_loss", seeds="mean"):
    """alpha_m against alpha for chosen gammas. data[gamma] = (alpha, alpha_m, se)."""
    gs = _chosen_gammas(c, gammas)
    other = line_axes(c, exclude=("alpha",))
    fits = fit_groups(c, ["gamma"] + other + ["alpha"], "m", y, seeds)
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    data = {}
    for g in gs:
        series = sorted({f["key"][1:-1] for f in fits if f["key"][0] == g})
        for ok in series:
            rows = [f for f in fits if f["key"][0] == g and f["key"][1:-1] == ok]
            a = np.array([f["key"][-1] for f in rows])
            am = np.array([f["alpha"] for f in rows])
            se = np.array([f["alpha_se"] for f in rows])
            data[(g,) + ok if ok else g] = (a, am, se)
            lab = "γ = %g (%s)" % (g, "strong" if g < 0 else "weak")
            if ok:
                lab += " " + _line_label(c, other, ok)
            ax.errorbar(a, am, yerr=np.nan_to_num(se), fmt="o-" if g < 0 else "s-", ms=4,
                        capsize=2, label=lab)
    aa = np.linspace(min(0.0, c.values("alpha").min()), c.values("alpha").max(), 50)
    ax.plot(aa, np.ones_like(aa), "k:", lw=1, label="α_m = 1")
    ax.plot(aa, aa - 1, "k--", lw=1, label="α_m = α − 1")
    ax.plot(aa, 2 * (aa - 1), "k-.", lw=1, label="α_m = 2(α − 1)")
    ax.set_ylim(-0.5, max(2.5, np.nanmax([np.nanmax(v[1]) for v in data.values()] + [0]) + 0.2))
    ax.set_xlabel("data exponent α (p_i ∝ i^−α)")
    ax.set_ylabel("fitted exponent α_m (L ∝ m^−α_m), ± s.e.")
    ax.set_title("Width exponent against data exponent")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out_dir, "alpha_m"), data


def _at_m(c, m):
    ms = c.values("m")
    if m is None:
        return ms.max()
    m = float(m)
    if not np.any(ms == m):
        raise ValueError("m = %g not in the campaign (has %s)" % (m, list(ms)))
    return m


def _edges(v):
    """Cell edges around the sorted values V (midpoints; half a step outside)."""
    v = np.asarray(v, float)
    if len(v) == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    mid = (v[1:] + v[:-1]) / 2
    return np.r_[v[0] - (mid[0] - v[0]), mid, v[-1] + (v[-1] - mid[-1])]


def plot_phi_half(c, out_dir, m=None):
    """Heat map of phi_1/2 over (alpha, gamma) at width m. data = (alphas, gammas, grid)
    with grid[i_gamma, i_alpha] the mean over replicates (NaN where no done row)."""
    m = _at_m(c, m)
    sel = c.mask & (c.cols["m"] == m)
    al, ga = np.unique(c.cols["alpha"][sel]), np.unique(c.cols["gamma"][sel])
    grid = np.full((len(ga), len(al)), np.nan)
    for i, g in enumerate(ga):
        for j, a in enumerate(al):
            s = sel & (c.cols["gamma"] == g) & (c.cols["alpha"] == a)
            if s.any():
                grid[i, j] = c.cols["phi_half"][s].mean()
    n = np.unique(c.cols["n"][sel])
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    im = ax.pcolormesh(_edges(al), _edges(ga), grid, cmap="magma", vmin=0, vmax=1,
                       shading="flat")
    ax.set_xticks(al if len(al) <= 9 else al[::2])
    ax.set_yticks(ga)
    ax.set_yticklabels(["%.2g" % v for v in ga])
    cb = fig.colorbar(im, ax=ax)
    cb.set_label("φ_1/2: fraction of rows with |W_i| > 1/2")
    ax.set_xlabel("data exponent α")
    ax.set_ylabel("superposition dial γ (< 0 strong, > 0 weak)")
    ax.set_title("φ_1/2 at m = %g, n = %s (m/n = %s)" % (
        m, ",".join("%g" % v for v in n), ",".join("%.3g" % (m / v) for v in n)))
    return _save(fig, out_dir, "phi_half"), (al, ga, grid)


def plot_overlap(c, out_dir, gammas=None):
    """Mean squared overlap of strongly represented rows against m, with 1/m.
    data[gamma] = (m, mean overlap over alpha and replicates)."""
    gs = _chosen_gammas(c, gammas)
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    data = {}
    for g in gs:
        sel = c.mask & (c.cols["gamma"] == g) & np.isfinite(c.cols["overlap_strong"])
        ms = np.unique(c.cols["m"][sel])
        ov = np.array([c.cols["overlap_strong"][sel & (c.cols["m"] == v)].mean() for v in ms])
        data[g] = (ms, ov)
        if len(ms):
            ax.loglog(ms, ov, "o-", ms=4, label="γ = %g" % g)
    mm = c.values("m")
    ax.loglog(mm, 1.0 / mm, "k--", lw=1, label="1/m")
    _width_ticks(ax, mm)
    ax.set_xlabel("width m (hidden dimensions)")
    ax.set_ylabel("mean squared overlap ⟨(ŵ_i·ŵ_j)²⟩, rows with |W_i| > 1")
    ax.set_title("Overlap of represented features")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out_dir, "overlap"), data


def plot_loss_vs_E(c, out_dir, gammas=None, m=None, y="final_loss"):
    """Loss against the density E (metric `density`) at width m (default: 63 if
    present, else the largest). data[gamma] = (E, loss, linear-fit R^2)."""
    ms = c.values("m")
    if m is None:
        m = 63.0 if np.any(ms == 63) else ms.max()
    m = _at_m(c, m)
    gs = _chosen_gammas(c, gammas)
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    data = {}
    for g in gs:
        sel = c.mask & (c.cols["gamma"] == g) & (c.cols["m"] == m)
        E = _densities(c, sel)
        dr = np.round(c.cols["density"], 9)
        L = np.array([np.exp(np.log(c.cols[y][sel & (dr == e)]).mean()) for e in E])
        r2 = fit_line(E, L)[3] if len(E) > 2 else np.nan
        data[g] = (E, L, r2)
        ax.plot(E, L, "o-", ms=4, label="γ = %g (linear fit R² = %.3f)" % (g, r2))
    ax.set_xlabel("density E = Σ p_i (expected active features per sample)")
    ax.set_ylabel(LOSS_LABEL.get(y, y))
    ax.set_title("Loss against density at m = %g" % m)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, out_dir, "loss_vs_E"), data


def row_norms(path, row):
    """Row norms |W_i| of job ROW's saved W (n,), or None when not saved."""
    with h5py.File(path, "r", locking=False) as f:
        off = int(f["weights"]["W_offset"][row])
        if off < 0:
            return None
        n, m = int(f["jobs"]["n"][row]), int(f["jobs"]["m"][row])
        W = f["weights"]["W"][off:off + n * m].reshape(n, m).astype(np.float64)
    return np.linalg.norm(W, axis=1)


def plot_row_norms(c, out_dir, max_jobs=6):
    """Histograms of row norms for up to MAX_JOBS done jobs that saved weights.
    data = list of (row, norms)."""
    with h5py.File(c.path, "r", locking=False) as f:
        off = f["weights"]["W_offset"][()]
    rows = [i for i in np.flatnonzero(c.mask & (off >= 0))][:max_jobs]
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    data = []
    for r in rows:
        nr = row_norms(c.path, r)
        data.append((r, nr))
        ax.hist(nr, bins=40, range=(0, max(1.5, nr.max() * 1.05)), histtype="step", lw=1.2,
                label="γ=%g α=%g m=%d" % (c.cols["gamma"][r], c.cols["alpha"][r],
                                         c.cols["m"][r]))
    ax.axvline(0.5, color="k", ls=":", lw=1, label="|W_i| = 1/2")
    ax.axvline(1.0, color="k", ls="--", lw=1, label="|W_i| = 1")
    ax.set_xlabel("row norm |W_i| (feature i's vector length)")
    ax.set_ylabel("number of features")
    ax.set_title("Row norms of saved weights")
    ax.legend(fontsize=7)
    return _save(fig, out_dir, "row_norms"), data


def applicable(c):
    """The figures this campaign's axes allow, and why the others are skipped."""
    ok, why = [], {}
    nal, ng, nm = len(c.values("alpha")), len(c.values("gamma")), len(c.values("m"))
    nE = len(_densities(c, c.mask))
    if not c.mask.any():
        return [], {f: "no done jobs" for f in FIGURES}
    for name, cond, reason in [
            ("loss_vs_m", nm >= 2, "one width only"),
            ("alpha_m", nm >= 2 and nal >= 2, "needs >= 2 widths and >= 2 alphas"),
            ("phi_half", True, ""),
            ("overlap", nm >= 2, "one width only"),
            ("loss_vs_E", nE >= 2, "one density only"),
            ("row_norms", c.has_weights, "no job saved weights")]:
        if cond:
            ok.append(name)
        else:
            why[name] = reason
    _ = ng
    return ok, why


def make(c, out_dir, which=None, gammas=None, m=None, y="final_loss", seeds="mean"):
    """Draw the figures WHICH (None = all applicable). Returns {name: (path, data)}."""
    ok, why = applicable(c)
    which = which or ok
    os.makedirs(out_dir, exist_ok=True)
    out = {}
    for name in which:
        if name not in FIGURES:
            raise ValueError("unknown figure %r (one of %s)" % (name, ", ".join(FIGURES)))
        if name not in ok:
            raise ValueError("figure %s: %s" % (name, why.get(name, "not applicable")))
        if name == "loss_vs_m":
            out[name] = plot_loss_vs_m(c, out_dir, gammas, y, seeds)
        elif name == "alpha_m":
            out[name] = plot_alpha_m(c, out_dir, gammas, y, seeds)
        elif name == "phi_half":
            out[name] = plot_phi_half(c, out_dir, m)
        elif name == "overlap":
            out[name] = plot_overlap(c, out_dir, gammas)
        elif name == "loss_vs_E":
            out[name] = plot_loss_vs_E(c, out_dir, gammas, m, y)
        elif name == "row_norms":
            out[name] = plot_row_norms(c, out_dir)
    return out


def main(argv):
    ap = argparse.ArgumentParser(description="Figures of a supersweep campaign file (PNG).")
    ap.add_argument("campaign")
    ap.add_argument("-o", "--out", required=True, help="output directory")
    ap.add_argument("--which", help="comma list of: " + ", ".join(FIGURES))
    ap.add_argument("--gamma", help="comma list of gammas to show (default: extremes);"
                    " write --gamma=-1,0.5 when the first is negative")
    ap.add_argument("--m", type=float, help="width for phi_half and loss_vs_E")
    ap.add_argument("--y", default="final_loss", help="loss column (final_loss, eval_loss)")
    ap.add_argument("--seeds", choices=["mean", "pool"], default="mean")
    ap.add_argument("--where", action="append", default=[], metavar="COL=VALUE")
    a = ap.parse_args(argv)
    try:
        c = Campaign(a.campaign)
        for w in a.where:
            if "=" not in w:
                raise ValueError("--where %r: expected COL=VALUE" % w)
            c.where(*w.split("=", 1))
        ok, why = applicable(c)
        which = a.which.split(",") if a.which else ok
        for name, reason in why.items():
            if not a.which:
                print("skipped %s: %s" % (name, reason), file=sys.stderr)
        out = make(c, a.out, which, a.gamma.split(",") if a.gamma else None, a.m, a.y,
                   a.seeds)
    except (OSError, ValueError, KeyError) as e:
        print("plots.py: %s" % e, file=sys.stderr)
        return 2
    for name, (path, _) in out.items():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
