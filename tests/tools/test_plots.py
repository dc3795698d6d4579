"""test_plots.py - tools/plots.py renders every figure from small campaign
files and draws what the files hold.

Campaign files: synthetic fixtures written by tools/campaign_fixture.py
(exact paper predictions, known exponents), and the same figures are cross-
checked against `supersweep fit` (the C implementation) when $SUPERSWEEP is
set.  Run by `make check` as `sh tools/python tests/tools/test_plots.py`;
prints "N passed, N failed" and exits 1 on any failure.
"""
import csv
import io
import os
import subprocess
import sys
import tempfile
import traceback

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import campaign_fixture  # noqa: E402
import plots  # noqa: E402

PNG_SIG = b"\x89PNG\r\n\x1a\n"
results = {"passed": 0, "failed": 0}


def check_png(path, min_bytes=15000):
    with open(path, "rb") as f:
        head = f.read(8)
    assert head == PNG_SIG, "%s: not a PNG" % path
    size = os.path.getsize(path)
    assert size >= min_bytes, "%s: only %d bytes" % (path, size)


def geomean_from_file(path, gamma, alpha, m):
    """The loss a plot must show at (gamma, alpha, m): read with h5py directly."""
    with h5py.File(path, "r", locking=False) as f:
        j = f["jobs"]
        sel = ((j["gamma"][()] == gamma) & (j["alpha"][()] == alpha) & (j["m"][()] == m)
               & (j["status"][()] == 1))
        return float(np.exp(np.log(f["metrics"]["final_loss"][()][sel]).mean()))


def test_small_all_figures(tmp):
    path = os.path.join(tmp, "small.h5")
    campaign_fixture.build(path, "small", noise=0.03, n=200, pending=[0], failed=[7])
    c = plots.Campaign(path)
    assert c.done.sum() == len(c.done) - 2
    ok, why = plots.applicable(c)
    assert ok == ["loss_vs_m", "alpha_m", "phi_half", "overlap", "row_norms"], ok
    assert "loss_vs_E" in why
    out = plots.make(c, os.path.join(tmp, "figs"))
    files = sorted(os.listdir(os.path.join(tmp, "figs")))
    assert files == sorted(n + ".png" for n in ok), files
    for name, (p, _) in out.items():
        check_png(p)

    # loss_vs_m: every plotted point is the geometric seed mean in the file
    data = out["loss_vs_m"][1]
    assert data["axes"] == ["alpha"]
    npts = 0
    for g in (-1.0, 0.5):
        assert len(data[g]) == 4
        for fr in data[g]:
            for x, y in zip(fr["x"], fr["y"]):
                want = geomean_from_file(path, g, fr["key"][1], x)
                assert abs(y - want) <= 1e-12 * want, (g, fr["key"], x, y, want)
                npts += 1
    assert npts == 48
    # alpha_m: strong ~ 1 (noise 0.03 over 6 widths gives se ~ 0.02)
    a, am, se = out["alpha_m"][1][-1.0]
    assert list(a) == [0.5, 1.0, 1.5, 2.0]
    assert np.all(np.abs(am - 1.0) < 0.08), am
    assert np.all((se > 0.002) & (se < 0.06)), se
    # weak: the fixture's loss is <v^2> x dropped mass; its exponent rises with alpha
    a, am, se = out["alpha_m"][1][0.5]
    assert np.all(np.diff(am) > 0), am
    # phi_half: 1 in the strong regime, m/n in the weak, at m = 100
    al, ga, grid = out["phi_half"][1]
    assert list(ga) == [-1.0, 0.5] and list(al) == [0.5, 1.0, 1.5, 2.0]
    assert np.allclose(grid[0], 1.0) and np.allclose(grid[1], 100 / 200)
    # overlap = 1/m in the fixture's strong rows
    ms, ov = out["overlap"][1][-1.0]
    assert np.allclose(ov, 1.0 / ms)
    # row norms: the saved strong rows have unit norm, the weak ones m ones then zeros
    rows = out["row_norms"][1]
    assert len(rows) >= 2
    for r, nr in rows:
        assert len(nr) == 200
        if c.cols["gamma"][r] < 0:
            assert np.allclose(nr, 1.0, atol=1e-5)
        else:
            assert np.isclose(nr.sum(), c.cols["m"][r], atol=1e-3)


def test_density_figures(tmp):
    path = os.path.join(tmp, "density.h5")
    campaign_fixture.build(path, "density", n=200)
    c = plots.Campaign(path)
    ok, why = plots.applicable(c)
    assert "loss_vs_E" in ok and "alpha_m" not in ok and "row_norms" not in ok, (ok, why)
    out = plots.make(c, os.path.join(tmp, "figs"), ["loss_vs_E", "loss_vs_m"])
    for name, (p, _) in out.items():
        check_png(p)
    # loss_vs_E at m = 63: three densities, E from the file, loss linear in E
    for g in (-1.0, 0.5):
        E, L, r2 = out["loss_vs_E"][1][g]
        assert len(E) == 3 and abs(E[0] - 1.0) < 1e-9, E
        p = campaign_fixture.frequencies(200, 1.0, 1.0, 1.0)
        assert abs(E[-1] - p.sum()) < 1e-9, (E, p.sum())
        assert r2 > 0.999, r2
    # loss_vs_m separates the densities (density_s varies, alpha does not)
    assert out["loss_vs_m"][1]["axes"] == ["density_s"]
    assert len(out["loss_vs_m"][1][-1.0]) == 3


def test_where_and_errors(tmp):
    path = os.path.join(tmp, "small.h5")
    campaign_fixture.build(path, "small", n=200)
    c = plots.Campaign(path)
    c.where("gamma", "-1")
    c.where("dist", "power")
    assert set(c.values("gamma")) == {-1.0}
    for bad in [("nope", "1"), ("dist", "cubic")]:
        try:
            plots.Campaign(path).where(*bad)
        except ValueError:
            pass
        else:
            raise AssertionError("where%r accepted" % (bad,))
    try:
        plots.make(plots.Campaign(path), os.path.join(tmp, "f"), ["loss_vs_E"])
    except ValueError as e:
        assert "one density only" in str(e)
    else:
        raise AssertionError("loss_vs_E drawn without densities")


def test_cli(tmp):
    path = os.path.join(tmp, "small.h5")
    campaign_fixture.build(path, "small", n=200)
    outdir = os.path.join(tmp, "cli")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "plots.py"), path, "-o",
                        outdir, "--gamma=-1,0.5", "--m", "63"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    printed = r.stdout.split()
    assert len(printed) == 5 and all(os.path.exists(p) for p in printed), printed
    for p in printed:
        check_png(p)
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "plots.py"), path, "-o",
                        outdir, "--m", "64"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "m = 64 not in the campaign" in r.stderr, r.stderr
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "plots.py"),
                        os.path.join(tmp, "missing.h5"), "-o", outdir],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "missing.h5" in r.stderr, r.stderr


def test_matches_supersweep_fit(tmp):
    """The Python fit (what the figures show) equals `supersweep fit`."""
    exe = os.environ.get("SUPERSWEEP")
    if not exe or not os.access(exe, os.X_OK):
        print("  (no $SUPERSWEEP: cross-check with the C fit skipped)")
        return
    path = os.path.join(tmp, "noisy.h5")
    campaign_fixture.build(path, "small", noise=0.1, n=200, pending=[3])
    c = plots.Campaign(path)
    for seeds in ("mean", "pool"):
        r = subprocess.run([exe, "fit", path, "--by", "gamma,alpha", "--seeds", seeds, "--csv",
                            "-", "--no-store"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        text = r.stdout[r.stdout.index("gamma,alpha,x,"):]
        rows = list(csv.DictReader(io.StringIO(text)))
        py = {f["key"]: f for f in plots.fit_groups(c, ["gamma", "alpha"], seeds=seeds)}
        assert len(rows) == len(py) == 8
        for row in rows:
            f = py[(float(row["gamma"]), float(row["alpha"]))]
            assert abs(float(row["alpha_x"]) - f["alpha"]) < 1e-9, (row, f)
            assert abs(float(row["alpha_x_se"]) - f["alpha_se"]) < 1e-9, (row, f)
            assert abs(float(row["r2"]) - f["r2"]) < 1e-9, (row, f)
            assert int(row["npoints"]) == f["npoints"]
            flags = "ok" if not f["flags"] else ",".join(sorted(f["flags"]))
            assert ",".join(sorted(row["flags"].split(","))) == flags, (row, f)


def main():
    tests = [test_small_all_figures, test_density_figures, test_where_and_errors, test_cli,
             test_matches_supersweep_fit]
    for t in tests:
        with tempfile.TemporaryDirectory(prefix="ss-plots-") as tmp:
            try:
                t(tmp)
            except Exception:
                results["failed"] += 1
                print("FAIL %s" % t.__name__)
                traceback.print_exc()
            else:
                results["passed"] += 1
                print("ok   %s" % t.__name__)
    print("%d passed, %d failed" % (results["passed"], results["failed"]))
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
