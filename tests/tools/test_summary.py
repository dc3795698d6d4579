"""test_summary.py - tools/summary.py reports the numbers a fixture was
built with (tools/campaign_fixture.py: exact paper predictions)."""
import os
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import campaign_fixture  # noqa: E402
import plots  # noqa: E402
import summary  # noqa: E402


def test_small(tmp):
    p = os.path.join(tmp, "s.h5")
    campaign_fixture.build(p, "small", n=200, pending=[2])
    rows = {(r[0], r[1]): r for r in summary.summarize_small(plots.Campaign(p))}
    assert rows[("small, strong (γ < 0), α ≤ 1", "α_m")][3].startswith("1.000 (1.000 to 1.000")
    assert rows[("small, strong", "φ_1/2")][3] == "1.000 (1.000 to 1.000, 47 values)", rows
    assert rows[("small, weak", "φ_1/2 ÷ (m/n)")][3].startswith("1.000 (1.000 to 1.000, 48")
    assert rows[("small, strong", "m × mean sq. overlap of strong rows")][3].startswith("1.000")
    assert rows[("small, weak", "loss ÷ ⟨v²⟩·(dropped mass)")][3].startswith("1.000 (1.000 to")
    weak = [r for r in rows.values() if r[0].startswith("small, weak, γ = 0.5") and r[1] == "α_m"]
    assert len(weak) == 2 and weak[1][2] == "≈ α − 1 = 1 (ideal cells)", weak
    assert rows[("small, weak, γ = 0.5, α ≥ 1.5", "φ_1/2 ÷ (m/n)")][3].startswith(
        "1.000 (1.000 to 1.000, 24 values)")
    assert rows[("small, strong, α = 1", "m × mean sq. overlap of strong rows")][3] == (
        "1.000 (1.000 to 1.000, 12 values)")


def test_density(tmp):
    p = os.path.join(tmp, "d.h5")
    campaign_fixture.build(p, "density", n=200)
    rows = summary.summarize_density(plots.Campaign(p))
    lin = [r for r in rows if r[1] == "loss vs E"]
    assert len(lin) == 2 and all("straight line 1.0000" in r[3] for r in lin), lin
    am = [r for r in rows if r[1] == "α_m"]
    assert len(am) == 3 and all(r[3].startswith("1.000 ± 0.000") for r in am), am


def test_cli(tmp):
    p = os.path.join(tmp, "s.h5")
    campaign_fixture.build(p, "small", n=200)
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "summary.py"), p, "--kind",
                        "small"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "| setting | quantity | paper | measured |" in r.stdout
    assert "96 of 96 jobs done" in r.stdout
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "summary.py"),
                        os.path.join(tmp, "none.h5"), "--kind", "small"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "none.h5" in r.stderr


def main():
    passed = failed = 0
    for t in (test_small, test_density, test_cli):
        with tempfile.TemporaryDirectory(prefix="ss-summary-") as tmp:
            try:
                t(tmp)
            except Exception:
                failed += 1
                print("FAIL %s" % t.__name__)
                traceback.print_exc()
            else:
                passed += 1
                print("ok   %s" % t.__name__)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
