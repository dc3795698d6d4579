#!/bin/sh
# tests/bench/run.sh - run every benchmark and print the figures side by side.
#
# usage: BENCH_DIR=build/bench sh tests/bench/run.sh   (what `make bench` does)
#
# Runs every $BENCH_DIR/bench_* binary, every other tests/bench/*.sh script,
# then the PyTorch comparison at the widths bench_step measured: per width,
# $BENCH_TORCH_ROUNDS rounds (3) of tools/torch_step.py (Debian's
# python3-torch, one thread) and `bench_step width M` run one after the
# other, so that both see the machine as it is in the same half minute; it
# prints each round's ratio PyTorch time / supersweep time and their median.
# Without torch it prints a note instead.
# Exit status: non-zero if a benchmark failed.
set -u
BENCH_DIR=${BENCH_DIR:-build/bench}
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
# scripts may change directory: hand them an absolute binary
if [ -n "${SUPERSWEEP:-}" ]; then
	SUPERSWEEP=$(cd "$(dirname "$SUPERSWEEP")" && pwd)/$(basename "$SUPERSWEEP")
	export SUPERSWEEP
fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py=${SUPERSWEEP_TORCH_PYTHON:-/usr/bin/python3}
status=0
results=$(mktemp)
trap 'rm -f "$results"' EXIT

for b in "$BENCH_DIR"/bench_*; do
	[ -x "$b" ] || continue
	echo "== $(basename "$b")"
	"$b" | tee -a "$results" || status=1
done
for s in "$here"/*.sh; do
	[ "$(basename "$s")" = run.sh ] && continue
	echo "== $(basename "$s")"
	sh "$s" || status=1
done

echo "== PyTorch comparison (same step, n = 1000, B = 2048, 1 thread)"
if ! "$py" -c 'import torch' >/dev/null 2>&1; then
	echo "note: PyTorch is not importable by $py; install python3-torch to compare"
	exit $status
fi
widths=$(sed -n 's/^RESULT n=1000 m=\([0-9]*\) B=2048 threads=1 .*/\1/p' "$results" | tr '\n' ' ')
[ -n "$widths" ] || { echo "note: no bench_step results to compare"; exit $status; }
rounds=${BENCH_TORCH_ROUNDS:-3}
pairs=$(mktemp)
trap 'rm -f "$results" "$pairs"' EXIT
for m in $widths; do
	r=1
	while [ "$r" -le "$rounds" ]; do
		out=$("$py" "$root/tools/torch_step.py" --threads 1 "$m") || status=1
		printf '%s\n' "$out" | tee -a "$pairs"
		out=$("$BENCH_DIR/bench_step" width "$m") || status=1
		printf '%s\n' "$out" | grep '^RESULT' | tee -a "$pairs"
		r=$((r + 1))
	done
done
printf '%5s %6s %10s %13s %16s %16s %16s\n' m rounds "torch ms" "ours init ms" \
	"init ratio" "ours trained ms" "trained ratio"
awk '
function median(v, k,    i, j, t) {
	for (i = 2; i <= k; i++)
		for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
	return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
}
/^torch n=1000 / {
	split($3, a, "="); split($6, t, "="); m = a[2]; torch = t[2]
	if (!(m in seen)) { seen[m] = 1; order[++nm] = m }
}
/^RESULT n=1000 .* threads=1 / && torch != "" { # a round: the torch line before it
	split($3, a, "="); split($6, t, "="); split($9, u, "="); m = a[2]
	k = ++rounds[m]
	tt[m, k] = torch; oi[m, k] = t[2]; ot[m, k] = u[2]
	ri[m, k] = torch / t[2]; rt[m, k] = torch / u[2]
	torch = ""
}
END {
	for (i = 1; i <= nm; i++) {
		m = order[i]; k = rounds[m]
		if (k == 0)
			continue
		for (j = 1; j <= k; j++) {
			a1[j] = tt[m, j]; a2[j] = oi[m, j]; a3[j] = ot[m, j]
			a4[j] = ri[m, j]; a5[j] = rt[m, j]
		}
		mt = median(a1, k); mi = median(a2, k); mr = median(a3, k)
		ri_med = median(a4, k); rt_med = median(a5, k) # a4, a5 now sorted
		printf "%5s %6d %10.2f %13.2f %5.1fx (%.1f-%.1f) %16.2f %5.1fx (%.1f-%.1f)\n", m, k,
			mt, mi, ri_med, a4[1], a4[k], mr, rt_med, a5[1], a5[k]
	}
}' "$pairs"
echo "(medians over the rounds; in brackets, the lowest and highest round's ratio)"
exit $status
