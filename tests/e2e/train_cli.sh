#!/bin/sh
# tests/e2e/train_cli.sh - `supersweep train`: JSON result, bad input, and a
# signal stop with checkpoint that resumes to the same result as a straight run.
set -u
: "${SUPERSWEEP:?}"
py=/usr/bin/python3
[ -x "$py" ] || py=python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }

job="n=200 m=8 alpha=1 gamma=-1 batch=256 log_every=100 eval_samples=2048"

# shellcheck disable=SC2086
if timeout 300 "$SUPERSWEEP" train $job steps=200 >"$tmp/a.json" 2>"$tmp/a.err" &&
	"$py" -c '
import json, math, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "done" and r["steps_done"] == 200, r
m = r["metrics"]
for k in ("final_loss", "eval_loss", "phi_half", "phi_one", "overlap_strong",
          "overlap_all", "weak_pred", "norm_median", "density", "wall_s"):
    assert k in m and m[k] is not None and math.isfinite(m[k]), k
assert len(r["curve"]) == 2 and r["job"]["m"] == 8 and len(r["key"]) == 16
assert r["version"].startswith("supersweep "), r["version"]
assert r["blas_kernel"] not in ("", "unknown"), r["blas_kernel"]
' "$tmp/a.json"; then ok "JSON result of a short job"; else bad "JSON result"; cat "$tmp/a.err"; fi

# shellcheck disable=SC2086
"$SUPERSWEEP" train $job nosuch=1 >/dev/null 2>"$tmp/e.err"
rc=$?
if [ $rc -eq 2 ] && grep -q nosuch "$tmp/e.err"; then ok "unknown key: exit 2 naming it"; else bad "unknown key (rc $rc)"; cat "$tmp/e.err"; fi
"$SUPERSWEEP" train n=10 m=2 alpha=1 gamma=-1 E=9 >/dev/null 2>"$tmp/e.err"
rc=$?
if [ $rc -eq 2 ] && grep -q "p = " "$tmp/e.err"; then ok "impossible E: exit 2"; else bad "impossible E (rc $rc)"; cat "$tmp/e.err"; fi
OPENBLAS_CORETYPE=Core2 "$SUPERSWEEP" train n=10 m=2 alpha=1 gamma=-1 steps=5 >"$tmp/k.json" 2>&1
if grep -q '"blas_kernel":"Core2"' "$tmp/k.json"; then ok "JSON names the OpenBLAS kernels (OPENBLAS_CORETYPE=Core2)"; else bad "JSON kernels"; cat "$tmp/k.json"; fi
"$SUPERSWEEP" train n=10 m=2 alpha=1 gamma=-1 lr=1e30 warmup=0 steps=50 >"$tmp/d.json" 2>"$tmp/d.err"
rc=$?
if [ $rc -eq 1 ] && grep -q '"status":"diverged"' "$tmp/d.json" && grep -q "diverged at step" "$tmp/d.err"; then
	ok "divergence: exit 1, status diverged"
else bad "divergence (rc $rc)"; fi

# straight run, then the same job interrupted by SIGINT and resumed
# shellcheck disable=SC2086
timeout 600 "$SUPERSWEEP" train $job steps=20000 >"$tmp/straight.json" 2>/dev/null
# shellcheck disable=SC2086
"$SUPERSWEEP" train --checkpoint "$tmp/ck" $job steps=20000 >"$tmp/part.json" 2>"$tmp/part.err" &
pid=$!
sleep 1
kill -INT $pid
wait $pid
rc=$?
if [ $rc -eq 3 ] && [ -f "$tmp/ck" ] && grep -q '"status":"stopped"' "$tmp/part.json"; then
	ok "SIGINT: exit 3 with a checkpoint"
else
	bad "SIGINT (rc $rc)"; cat "$tmp/part.err"
fi
# shellcheck disable=SC2086
timeout 600 "$SUPERSWEEP" train --checkpoint "$tmp/ck" $job steps=20000 >"$tmp/resumed.json" 2>"$tmp/res.err"
if "$py" -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for r in (a, b):
    r["metrics"].pop("wall_s"); r.pop("wall_s"); r.pop("checkpoint")
assert b["status"] == "done" and a == b, (a["metrics"], b["metrics"])
' "$tmp/straight.json" "$tmp/resumed.json"; then
	ok "resumed result equals the straight run"
else
	bad "resume differs"; cat "$tmp/res.err"
fi

# --version names the commit the binary was built from (campaign files record
# it): in a git checkout, this checkout's HEAD, -dirty when tracked files differ
root=$(cd "$(dirname "$0")/../.." && pwd)
if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
	want=$(git -C "$root" rev-parse --short=12 HEAD)
	git -C "$root" diff --quiet HEAD -- || want="$want-dirty"
	got=$("$SUPERSWEEP" --version)
	case "$got" in
	*"(git $want)") ok "--version names HEAD ($want)" ;;
	*) bad "--version says '$got', HEAD is $want (a stale build/git-commit-stamp?)" ;;
	esac
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
