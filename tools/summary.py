"""summary.py - a campaign's measurements next to the paper's results.

usage: sh tools/python tools/summary.py CAMPAIGN.h5 --kind small|density|large
           [--min-x X] [--y final_loss|eval_loss] [--csv FILE]

Prints a Markdown table with one line per result of PAPER.md ("Results a
reimplementation should reproduce") that the campaign can speak to: the
setting, the quantity, the paper's value and the measured one.  Exponents
are fitted exactly as `supersweep fit` does (plots.fit_groups: geometric
mean over seeds at each width, least squares in log-log space, standard
error of the slope); other numbers are means over the rows named, with
their range.  Nothing is judged here: the reader compares.

  small:   alpha x gamma grid (strong gamma < 0, weak gamma > 0)
  density: density sweep at alpha = 1 (loss against E, alpha_m per E)
  large:   shapes x gamma (fits from --min-x, default 32)
"""
import argparse
import sys

import numpy as np

import plots


def _fmt_range(v, fmt="%.3f"):
    v = np.asarray(v, float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return "n/a"
    if len(v) == 1:
        return fmt % v[0]
    return (fmt + " (%s to %s, %d values)") % (v.mean(), fmt % v.min(), fmt % v.max(), len(v))


def _alpha(f):
    if not np.isfinite(f["alpha"]):
        return "n/a (%s)" % ",".join(f["flags"])
    s = "%.3f ± %.3f, R² %.3f" % (f["alpha"], f["alpha_se"], f["r2"])
    if f["flags"]:
        s += " [%s]" % ",".join(f["flags"])
    return s


def summarize_small(c, y="final_loss"):
    rows = []
    fits = plots.fit_groups(c, ["gamma", "alpha"], "m", y)
    cols = c.cols
    strong = [f for f in fits if f["key"][0] < 0]
    weak = [f for f in fits if f["key"][0] > 0]
    a_lo = [f["alpha"] for f in strong if f["key"][1] <= 1.0]
    rows.append(("small, strong (γ < 0), α ≤ 1", "α_m", "≈ 1 (0.8–1.0)", _fmt_range(a_lo)))
    amax = c.values("alpha").max()
    hi = [f["alpha"] for f in strong if f["key"][1] == amax]
    rows.append(("small, strong, α = %g" % amax, "α_m",
                 "rises toward 2(α − 1) = %g" % (2 * (amax - 1)), _fmt_range(hi)))
    for f in sorted(weak, key=lambda f: (f["key"][1], f["key"][0])):
        if f["key"][1] >= 1.5:
            rows.append(("small, weak, γ = %.3g, α = %g" % f["key"], "α_m",
                         "≈ α − 1 = %g (ideal cells)" % (f["key"][1] - 1), _alpha(f)))
    ok = c.mask & np.isfinite(cols["overlap_strong"])
    s = ok & (cols["gamma"] < 0)
    rows.append(("small, strong", "m × mean sq. overlap of strong rows", "≈ 1 (overlap ≈ 1/m)",
                 _fmt_range(cols["m"][s] * cols["overlap_strong"][s])))
    s = ok & (cols["gamma"] < 0) & (cols["alpha"] == 1.0)
    if s.any():
        rows.append(("small, strong, α = 1", "m × mean sq. overlap of strong rows",
                     "≈ 1 (overlap ≈ 1/m)", _fmt_range(cols["m"][s] * cols["overlap_strong"][s])))
    s = c.mask & (cols["gamma"] < 0)
    rows.append(("small, strong", "φ_1/2", "≈ 1", _fmt_range(cols["phi_half"][s])))
    s = c.mask & (cols["gamma"] > 0)
    rows.append(("small, weak", "φ_1/2 ÷ (m/n)", "≈ 1",
                 _fmt_range(cols["phi_half"][s] / (cols["m"][s] / cols["n"][s]))))
    for g in c.values("gamma"):
        w = c.mask & (cols["gamma"] == g) & (cols["alpha"] >= 1.5)
        if g > 0 and w.any():
            rows.append(("small, weak, γ = %.3g, α ≥ 1.5" % g, "φ_1/2 ÷ (m/n)", "≈ 1",
                         _fmt_range(cols["phi_half"][w] / (cols["m"][w] / cols["n"][w]))))
    s = s & (cols["weak_pred"] > 0)
    rows.append(("small, weak", "loss ÷ ⟨v²⟩·(dropped mass)", "≈ 1",
                 _fmt_range(cols[y][s] / cols["weak_pred"][s])))
    return rows


def summarize_density(c, y="final_loss", m=None):
    rows = []
    ms = c.values("m")
    if m is None:
        m = 63.0 if np.any(ms == 63) else ms[np.argmin(np.abs(np.log(ms / 63.0)))]
    cols = c.cols
    for g in c.values("gamma"):
        sel = c.mask & (cols["gamma"] == g) & (cols["m"] == m)
        E = plots._densities(c, sel)
        dr = np.round(cols["density"], 9)
        L = np.array([np.exp(np.log(cols[y][sel & (dr == e)]).mean()) for e in E])
        s, ci, se, r2 = plots.fit_line(E, L)
        rows.append(("α = 1, m = %g, γ = %.3g, E = %.2f..%.2f" % (m, g, E.min(), E.max()),
                     "loss vs E", "≈ linear in E",
                     "R² of a straight line %.4f; L(E_max)/L(E_min) = %.2f for E ratio %.2f"
                     % (r2, L[-1] / L[0], E[-1] / E[0])))
    fits = plots.fit_groups(c, ["gamma", "density_s"], "m", y)
    for f in fits:
        if f["key"][0] < 0:
            sel = c.mask & (cols["density_s"] == f["key"][1])
            E = np.nanmean(cols["density"][sel])
            rows.append(("α = 1, strong, γ = %.3g, E = %.2f" % (f["key"][0], E), "α_m", "≈ 1.1",
                         _alpha(f)))
    return rows


PAPER_LARGE = {"exponential": "1.01 ± 0.05", "power": "1.0 ± 0.1", "linear": "0.89 ± 0.05"}


def summarize_large(c, y="final_loss", min_x=32.0):
    rows = []
    fits = plots.fit_groups(c, ["dist", "gamma"], "m", y, min_x=min_x)
    for f in fits:
        d = c.label("dist", f["key"][0])
        g = f["key"][1]
        if g < 0:
            rows.append(("large, γ = %g, %s, m ≥ %g" % (g, d, min_x), "α_m",
                         PAPER_LARGE.get(d, "?"), _alpha(f)))
        else:
            rows.append(("large, γ = %g, %s, m ≥ %g" % (g, d, min_x), "power law? (R²)",
                         "yes (R² ≈ 0.99)" if d == "power" else "no", _alpha(f)))
    return rows


def markdown(rows):
    out = ["| setting | quantity | paper | measured |", "|---|---|---|---|"]
    out += ["| %s | %s | %s | %s |" % r for r in rows]
    return "\n".join(out)


def main(argv):
    ap = argparse.ArgumentParser(description="A campaign's results next to the paper's.")
    ap.add_argument("campaign")
    ap.add_argument("--kind", choices=["small", "density", "large"], required=True)
    ap.add_argument("--y", default="final_loss")
    ap.add_argument("--min-x", type=float, default=32.0, help="large: fit from this m")
    ap.add_argument("--where", action="append", default=[], metavar="COL=VALUE")
    a = ap.parse_args(argv)
    try:
        c = plots.Campaign(a.campaign)
        for w in a.where:
            c.where(*w.split("=", 1))
        if a.kind == "small":
            rows = summarize_small(c, a.y)
        elif a.kind == "density":
            rows = summarize_density(c, a.y)
        else:
            rows = summarize_large(c, a.y, a.min_x)
    except (OSError, ValueError, KeyError) as e:
        print("summary.py: %s" % e, file=sys.stderr)
        return 2
    print("%s: %d of %d jobs done; loss column %s" % (a.campaign, c.done.sum(), len(c.done),
                                                       a.y))
    print()
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
