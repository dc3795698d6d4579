#!/bin/bash
# tests/e2e/plan_speed.sh - `supersweep plan` of a 10^6-point spec must stay
# fast (expansion, keys and the duplicate check are linear).  The bound is
# loose because CI machines are shared; the time is printed for the record.
set -u
: "${SUPERSWEEP:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/million.yaml" <<'YAML'
name: million
model: {n: 1000, alpha: 1.1}
train: {steps: 1000}
grid:
  m: {range: [1, 100]}
  gamma: {linspace: [-1, 1, 100]}
  seed: {range: [0, 99]}
YAML
t0=$(date +%s.%N)
"$SUPERSWEEP" plan "$tmp/million.yaml" >"$tmp/out"
rc=$?
t1=$(date +%s.%N)
secs=$(echo "$t1 - $t0" | bc)
echo "plan of 10^6 points: ${secs} s (exit $rc)"
cat "$tmp/out"
pass=0 fail=0
if [ $rc -eq 0 ]; then pass=$((pass + 1)); else echo "FAIL: exit $rc"; fail=$((fail + 1)); fi
if grep -q '^jobs: *1000000$' "$tmp/out"; then pass=$((pass + 1)); else echo "FAIL: job count"; fail=$((fail + 1)); fi
if [ "$(echo "$secs < 20" | bc)" -eq 1 ]; then pass=$((pass + 1)); else echo "FAIL: took ${secs} s (bound 20 s)"; fail=$((fail + 1)); fi
echo "$pass passed, $fail failed"
test $fail -eq 0
