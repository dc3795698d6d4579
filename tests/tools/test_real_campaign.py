"""test_real_campaign.py - fit and plots on a campaign file written by
`supersweep run` itself (mpirun -np 2, tests/tools/tiny_campaign.yaml).

Skips (exit 77) when $SUPERSWEEP is not set, mpirun is missing, or this
build's `run` is not implemented yet.  Checks: every job is done; `supersweep
fit` reads the file and fits each gamma over the 3 widths; tools/plots.py
draws every figure the campaign allows, and what it draws is what the file
holds (loss means, phi_1/2, row norms recomputed from the saved W).
"""
import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile
import traceback

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import plots  # noqa: E402

SPEC = os.path.join(HERE, "tiny_campaign.yaml")


def run_campaign(exe, tmp):
    out = os.path.join(tmp, "tiny.h5")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    # as tests/run.sh sets them (root, oversubscribed, shared memory only)
    for k, v in [("OMPI_ALLOW_RUN_AS_ROOT", "1"), ("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1"),
                 ("OMPI_MCA_rmaps_base_oversubscribe", "1"), ("OMPI_MCA_btl", "self,vader"),
                 ("OMPI_MCA_oob_tcp_if_include", "lo")]:
        env.setdefault(k, v)
    r = subprocess.run(["mpirun", "--timeout", "240", "-np", "2", exe, "run", SPEC, "-o", out],
                       capture_output=True, text=True, timeout=300, env=env)
    if "not implemented" in r.stderr:
        return None, r
    return out, r


def main():
    exe = os.environ.get("SUPERSWEEP")
    if not exe or not os.access(exe, os.X_OK) or shutil.which("mpirun") is None:
        print("skip: needs $SUPERSWEEP and mpirun")
        return 77
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="ss-real-") as tmp:
        path, r = run_campaign(exe, tmp)
        if path is None:
            print("skip: `supersweep run` is not implemented in this build")
            return 77
        checks = []

        def check(name):
            def deco(fn):
                checks.append((name, fn))
                return fn
            return deco

        @check("run succeeded and every job is done")
        def _():
            assert r.returncode == 0, r.stderr[-2000:]
            with h5py.File(path, "r", locking=False) as f:
                st = f["jobs"]["status"][()]
                names = h5py.check_enum_dtype(f["jobs"]["status"].dtype)
                assert np.all(st == names["done"]), st
                assert len(st) == 12

        @check("supersweep fit reads the real file")
        def _():
            q = subprocess.run([exe, "fit", path, "--by", "gamma", "--csv", "-", "--no-store"],
                               capture_output=True, text=True, timeout=60)
            assert q.returncode == 0, q.stderr
            rows = list(csv.DictReader(io.StringIO(q.stdout[q.stdout.index("gamma,x,"):])))
            assert len(rows) == 2, rows
            c = plots.Campaign(path)
            py = {f["key"]: f for f in plots.fit_groups(c, ["gamma"])}
            for row in rows:
                assert int(row["npoints"]) == 3 and int(row["nrows"]) == 6, row
                assert None not in row, row  # no stray fields
                f = py[(float(row["gamma"]),)]
                if np.isfinite(f["alpha"]):
                    assert abs(float(row["alpha_x"]) - f["alpha"]) < 1e-9, (row, f)
            q = subprocess.run([exe, "fit", path, "--by", "gamma", "--no-store"],
                               capture_output=True, text=True, timeout=60)
            assert q.returncode == 0 and "12 rows, 12 done" in q.stdout, q.stdout

        @check("plots.py draws what the file holds")
        def _():
            c = plots.Campaign(path)
            ok, why = plots.applicable(c)
            assert set(ok) == {"loss_vs_m", "phi_half", "overlap", "row_norms"}, (ok, why)
            out = plots.make(c, os.path.join(tmp, "figs"))
            for name, (png, _) in out.items():
                with open(png, "rb") as fh:
                    assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
                assert os.path.getsize(png) > 15000, png
            with h5py.File(path, "r", locking=False) as f:
                j, mt = f["jobs"], f["metrics"]
                gam, m, loss = j["gamma"][()], j["m"][()], mt["final_loss"][()]
                phi = mt["phi_half"][()]
                for fr in out["loss_vs_m"][1][-1.0]:
                    for x, y in zip(fr["x"], fr["y"]):
                        s = (gam == -1.0) & (m == x)
                        want = np.exp(np.log(loss[s]).mean())
                        assert abs(y - want) <= 1e-12 * want
                al, ga, grid = out["phi_half"][1]
                for i, g in enumerate(ga):
                    s = (gam == g) & (m == 16)
                    assert abs(grid[i, 0] - phi[s].mean()) < 1e-12
                for row, norms in out["row_norms"][1]:
                    # the histogram's norms give back the stored phi_1/2
                    assert abs((norms > 0.5).mean() - phi[row]) < 1e-6, (row, phi[row])

        for name, fn in checks:
            try:
                fn()
            except Exception:
                failed += 1
                print("FAIL %s" % name)
                traceback.print_exc()
            else:
                passed += 1
                print("ok   %s" % name)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
