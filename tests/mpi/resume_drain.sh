#!/bin/bash
# resume_drain.sh - drain and resume: SIGUSR1 to mpirun (forwarded to every
# rank), then to rank 0 alone, then to one worker alone; each time the run
# checkpoints its running jobs, commits what finished and exits 3; the
# checkpoints are on disk; a final rerun completes, removes them, and the
# result columns equal an uninterrupted run's byte for byte.  A damaged
# checkpoint makes its job restart from step 0 with a warning.
. "$(dirname "$0")/../support/campaign_lib.sh"
require_modules
cd "$WORK" || exit 1
# jobs of ~1 s (8000 steps): each of the three drains below must still find
# work left, also on a machine several times faster than this one
cat >d.yaml <<'YAML'
name: drain
seed: 5
model: {n: 200, alpha: 1.2, E: 1, dist: power}
train: {batch: 128, steps: 8000, lr: 1e-2, warmup: 100, log_every: 50, threads: 1}
grid:
  m: [8, 16]
  gamma: [-1, 0.5]
  seed: [0, 1, 2]
  save_weights: [true]
YAML

run_np 2 d.yaml -o base.h5 -q >base.out 2>&1
check "the uninterrupted run completes" [ "$rc" -eq 0 ]

# drain WHO: all (mpirun forwards), rank0, worker
drain() {
	mpirun --timeout 120 -np 2 "$SUPERSWEEP" run d.yaml -o d.h5 --progress 0.5 >"drain-$1.out" 2>&1 &
	mp=$!
	# wait until the dispatch loop runs (bounded), then let jobs train a bit
	wait_dispatch "drain-$1.out"
	sleep 0.7
	case $1 in
	all) target=$mp ;;
	rank0) target=$(rank_pid $mp 0) ;;
	worker) target=$(rank_pid $mp 1) ;;
	esac
	if [ -z "$target" ]; then
		echo "drain ($1): no $1 process to signal: the campaign ended before the signal"
	fi
	t0=$(date +%s.%N)
	[ -n "$target" ] && kill -USR1 "$target"
	wait $mp
	rc=$?
	t1=$(date +%s.%N)
	ck=$(ls d.h5.ckpt 2>/dev/null | wc -l)
	echo "drain ($1): exit $rc, $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s from SIGUSR1 to exit, $ck checkpoint files"
	grep -h "committed\|draining\|checkpoint" "drain-$1.out" | sed 's/^/  /'
}

drain all
check "SIGUSR1 to mpirun drains with exit 3" [ "$rc" -eq 3 ]
check "running jobs left checkpoints" [ "$ck" -ge 1 ]
check "no lock is left after a drain" [ ! -e d.h5.lock ]
# damage one checkpoint: the job must restart from step 0 with a warning
victim=$(ls d.h5.ckpt/*.ckpt | head -n 1)
size=$(stat -c %s "$victim")
printf 'XXXXXXXXXXXXXXXX' | dd of="$victim" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
drain rank0
check "SIGUSR1 to rank 0 alone drains every rank (exit 3)" [ "$rc" -eq 3 ]
check "a damaged checkpoint is reported and its job restarts" grep -q "restarted from step 0" drain-rank0.out
drain worker
check "SIGUSR1 to a worker alone drains the campaign (exit 3)" [ "$rc" -eq 3 ]
"$SUPERSWEEP" status d.h5 >status.out 2>&1
check "status of a drained campaign says how to continue" grep -q "run the same" status.out
run_np 2 d.yaml -o d.h5 -q >final.out 2>&1
check "the rerun completes (exit 0)" [ "$rc" -eq 0 ]
check "checkpoints are removed at commit" [ ! -e d.h5.ckpt ]
$COMPARE --check d.h5
check "every job is done exactly once" [ $? -eq 0 ]
check "result columns equal the uninterrupted run's" $COMPARE d.h5 base.h5
verdict
