#!/bin/sh
# tests/bench/run.sh - run every benchmark and print the figures side by side.
#
# usage: BENCH_DIR=build/bench sh tests/bench/run.sh   (what `make bench` does)
#
# Runs every $BENCH_DIR/bench_* binary, every other tests/bench/*.sh script,
# then the PyTorch comparison: tools/torch_step.py (Debian's python3-torch,
# one thread) at the widths bench_step measured, with the ratio PyTorch time /
# supersweep time per width.  Without torch it prints a note instead.
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
# shellcheck disable=SC2086
"$py" "$root/tools/torch_step.py" --threads 1 $widths | tee -a "$results" || status=1
printf '%5s %12s %14s %8s %16s %8s\n' m "torch ms" "ours init ms" ratio "ours trained ms" ratio
awk '
/^RESULT n=1000 .* threads=1 / {
	split($3, a, "="); split($6, t, "="); split($9, u, "=")
	ours[a[2]] = t[2]; trained[a[2]] = u[2]
}
/^torch n=1000 / {
	split($3, a, "="); split($6, t, "="); torch[a[2]] = t[2]; order[++k] = a[2]
}
END {
	for (i = 1; i <= k; i++) {
		m = order[i]
		if (m in ours)
			printf "%5s %12.2f %14.2f %7.1fx %16.2f %7.1fx\n", m, torch[m], ours[m],
				torch[m] / ours[m], trained[m], torch[m] / trained[m]
	}
}' "$results"
exit $status
