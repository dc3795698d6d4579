#!/bin/bash
# tests/bench/sched.sh - overhead of the campaign machinery (a benchmark, not
# a timed test; figures go to stdout).
#   1. dispatch-and-commit throughput: 10,000 jobs of 1 step (n = 4, m = 2)
#      at P = 4 (oversubscribed on a small machine): jobs/s of the run loop.
#   2. resume of a 10^6-job campaign: time to parse the spec, check the file,
#      open it collectively and classify the rows.
#   3. busy fraction of the training slots with ~1-second jobs (P = 2), and
#      rank 0's event-loop CPU time while it waits (P = 3, --dispatch-only).
# Targets (issue 4): >= 2,000 jobs/s, 10^6-job resume < 2 s, >= 95 % busy.
# BENCH_QUICK=1 skips the 10^6 case.
. "$(dirname "$0")/../support/campaign_lib.sh"
require_modules
cd "$WORK" || exit 1
S=$SUPERSWEEP
loop_s() { sed -n 's/.* in \([0-9.]*\) s on .*/\1/p' "$1" | tail -n 1; }
# onestep_spec NAME K : NAME.yaml, K gammas x K seeds of one-step jobs (n = 4, m = 2)
onestep_spec() {
	cat >"$1.yaml" <<YAML
name: $1
seed: 1
model: {n: 4, m: 2, alpha: 1, E: 1, dist: power}
train: {batch: 1, steps: 1, warmup: 0, lr: 1e-2, log_every: 1, eval_samples: 0, threads: 1}
grid:
  gamma: {linspace: [-1, 1, $2]}
  seed: {range: [0, $(($2 - 1))]}
YAML
}

echo "== 1. dispatch-and-commit throughput (10,000 one-step jobs, P = 4)"
onestep_spec tiny 100
for p in 4 2; do
	rm -f tiny.h5
	t0=$(date +%s.%N)
	mpirun --timeout 600 -np $p "$S" run tiny.yaml -o tiny.h5 --progress 1000 >tiny$p.out 2>&1
	rc=$?
	t1=$(date +%s.%N)
	l=$(loop_s tiny$p.out)
	n=$(sed -n 's/.*this run: \([0-9]*\) committed.*/\1/p' tiny$p.out)
	awk -v l="$l" -v n="$n" -v a="$t0" -v b="$t1" -v p=$p -v rc=$rc 'BEGIN {
		printf "P = %d: exit %d, %d jobs in a run loop of %.2f s = %.0f jobs/s; whole mpirun %.2f s (start-up, create, close)\n", p, rc, n, l, n / l, b - a }'
	grep "event loop" tiny$p.out | sed 's/^/    /'
done

if [ -z "${BENCH_QUICK:-}" ]; then
	echo "== 2. resume of a 10^6-job campaign (one rank)"
	onestep_spec big 1000
	for pass in create resume; do
		"$S" run big.yaml -o big.h5 --progress 1000 >big-$pass.out 2>&1 &
		pid=$!
		sleep 1
		kill -USR1 $pid 2>/dev/null # pending until the dispatch loop: drains at once
		wait $pid
		echo "$pass: exit $? ($(du -h big.h5 | cut -f1) on disk)"
		grep "checked in\|classified" big-$pass.out | sed 's/^/    /'
	done
fi

echo "== 3. busy fraction with ~1 s jobs and rank 0's CPU while waiting"
cat >sec.yaml <<'YAML'
name: sec
seed: 1
model: {n: 200, alpha: 1.2, E: 1, dist: power}
train: {batch: 128, steps: 2000, lr: 1e-2, warmup: 100, log_every: 50, threads: 1}
grid:
  m: [16]
  gamma: [-1, -0.5, 0, 0.5]
  seed: [0, 1, 2, 3, 4, 5]
YAML
mpirun --timeout 600 -np 2 "$S" run sec.yaml -o sec2.h5 --progress 1000 >sec2.out 2>&1
echo "P = 2 (rank 0 trains too), 24 jobs: exit $?"
grep "this run" sec2.out | sed 's/^/    /'
$PY -c "
import h5py
f = h5py.File('sec2.h5', 'r', locking=False)
w = f['metrics/wall_s'][()]
print('    job wall time: mean %.2f s, min %.2f s, max %.2f s' % (w.mean(), w.min(), w.max()))"
mpirun --timeout 600 -np 3 "$S" run sec.yaml -o sec3.h5 --dispatch-only --progress 1000 >sec3.out 2>&1
echo "P = 3 --dispatch-only (two trainers, rank 0 only waits), 24 jobs: exit $?"
grep "this run" sec3.out | sed 's/^/    /'
