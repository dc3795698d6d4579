#!/bin/bash
# tests/e2e/plan.sh - `supersweep plan` end to end: output, --list table,
# options, exit statuses and messages for good and bad specs.
set -u
: "${SUPERSWEEP:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { # description command... (succeeds if the command does)
	local d=$1
	shift
	if "$@"; then ok; else bad "$d"; fi
}

# the demo campaign
"$SUPERSWEEP" plan sweeps/demo.yaml >"$tmp/out" 2>"$tmp/err"
check "demo exits 0" test $? -eq 0
check "demo: 6 jobs" grep -q '^jobs: *6$' "$tmp/out"
check "demo: states the rate" grep -q 'core-hours at 30 GFLOP/s per core' "$tmp/out"
check "demo: peak memory" grep -q '^largest job: .* [KMG]iB peak memory' "$tmp/out"
check "demo: nothing on stderr" test ! -s "$tmp/err"

"$SUPERSWEEP" plan sweeps/demo.yaml --gflops 60 >"$tmp/out2"
check "--gflops changes the rate" grep -q 'at 60 GFLOP/s per core' "$tmp/out2"
check "--gflops=R form" sh -c '"$SUPERSWEEP" plan --gflops=15 sweeps/demo.yaml | grep -q "at 15 GFLOP/s"'

# --list: header + one line per job, 23 tab-separated columns, dispatch order
"$SUPERSWEEP" plan sweeps/demo.yaml --list >"$tmp/list"
check "--list exits 0" test $? -eq 0
sed -n '/^row\t/,$p' "$tmp/list" >"$tmp/table"
check "--list header" grep -q "^row	key	n	m	dist	alpha	dist_scale	E	density_s	gamma	seed	batch	steps	lr_w	lr_b	warmup	lr_min_ratio	log_every	eval_samples	save_weights	threads	flop	peak_bytes$" "$tmp/table"
check "--list has 7 lines" test "$(wc -l <"$tmp/table")" -eq 7
check "--list columns" test "$(awk -F'\t' '{print NF}' "$tmp/table" | sort -u)" = 23
check "--list rows 0..5" test "$(awk -F'\t' 'NR>1{printf "%s", $1}' "$tmp/table")" = 012345
check "--list flop descending" awk -F'\t' 'NR>2 && $22+0 > prev+0 {exit 1} NR>1 {prev=$22}' "$tmp/table"
check "--list keys distinct" test "$(awk -F'\t' 'NR>1{print $2}' "$tmp/table" | sort -u | wc -l)" -eq 6
check "--list widths" test "$(awk -F'\t' 'NR>1{print $4}' "$tmp/table" | sort -n | uniq | tr '\n' ' ')" = "5 10 20 "

# the peak memory follows the job's threads (their scratch and gradient
# accumulators) and its Gram path's buffers (m = 100 at B = 2048)
for t in 1 4; do
	printf 'name: p%s\nmodel: {n: 1000, E: 1, dist: power, alpha: 1}\ntrain: {batch: 2048, steps: 100, log_every: 10, threads: %s}\ngrid: {m: [25, 100], gamma: [-1]}\n' \
		"$t" "$t" >"$tmp/t$t.yaml"
	"$SUPERSWEEP" plan "$tmp/t$t.yaml" --list | sed -n '/^row\t/,$p' >"$tmp/t$t.tsv"
done
peak() { awk -F'\t' -v m="$2" 'NR>1 && $4==m {print $23}' "$1"; }
check "peak: 4 threads take more than 1" \
	awk -v a="$(peak "$tmp/t1.tsv" 100)" -v b="$(peak "$tmp/t4.tsv" 100)" 'BEGIN{exit !(b > a)}'
check "peak: m = 100 (Gram buffers) over 8 MiB, m = 25 under 4 MiB" \
	awk -v a="$(peak "$tmp/t1.tsv" 25)" -v b="$(peak "$tmp/t1.tsv" 100)" \
	'BEGIN{exit !(a > 0 && a < 4194304 && b > 8388608)}'
# a job no trainer can hold fails the plan, naming its row
printf 'name: big\nmodel: {n: 100000, E: 1, dist: power, alpha: 1}\ntrain: {batch: 64, steps: 100, log_every: 10}\ngrid: {m: [10, 30000], gamma: [-1]}\n' >"$tmp/big.yaml"
"$SUPERSWEEP" plan "$tmp/big.yaml" >"$tmp/out" 2>"$tmp/err"
check "too big a job: exit 2" test $? -eq 2
check "too big a job: named" grep -q "big.yaml: job row 0 (n=100000 m=30000): n·m = .* beyond what one job can hold" "$tmp/err"

# help and usage errors
"$SUPERSWEEP" plan --help >"$tmp/help"
check "--help exits 0" test $? -eq 0
for w in --list --gflops --help "Exit status" docs/SPEC.md; do
	check "--help mentions $w" grep -q -- "$w" "$tmp/help"
done
"$SUPERSWEEP" plan >/dev/null 2>&1
check "no spec: exit 2" test $? -eq 2
"$SUPERSWEEP" plan sweeps/demo.yaml --frobnicate >/dev/null 2>"$tmp/err"
check "unknown option: exit 2" test $? -eq 2
check "unknown option named" grep -q -- "--frobnicate" "$tmp/err"
"$SUPERSWEEP" plan sweeps/demo.yaml --gflops -3 >/dev/null 2>&1
check "bad --gflops: exit 2" test $? -eq 2
"$SUPERSWEEP" plan "$tmp/missing.yaml" >/dev/null 2>"$tmp/err"
check "missing file: exit 2" test $? -eq 2
check "missing file named" grep -q "missing.yaml: cannot open" "$tmp/err"

# good fixtures load; bad fixtures fail with exit 2, file:line:col on stderr,
# nothing on stdout
for f in tests/specs/good/*.yaml sweeps/*.yaml; do
	"$SUPERSWEEP" plan "$f" >/dev/null 2>"$tmp/err"
	check "$f is valid" test $? -eq 0
done
for f in tests/specs/bad/*.yaml; do
	"$SUPERSWEEP" plan "$f" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	check "$f: exit 2 (got $rc)" test $rc -eq 2
	check "$f: stdout empty" test ! -s "$tmp/out"
	want=$(sed -n 's/^# expect: //p' "$f")
	check "$f: message '$want'" grep -qF -- "$f:$want" "$tmp/err"
done

echo "$pass passed, $fail failed"
test $fail -eq 0
