#!/bin/bash
# resume_kill.sh - kill -9 one rank in the middle of a campaign, several
# times at random moments (workers and, separately, rank 0), rerun the same
# command until it completes: every job is done exactly once and the result
# columns equal those of an uninterrupted run.
#   KILLS (default 6): number of kill -9 attempts; SEED: random seed.
. "$(dirname "$0")/../support/campaign_lib.sh"
require_modules
cd "$WORK" || exit 1
KILLS=${KILLS:-6}
SEED=${SEED:-$$}
RANDOM=$SEED
echo "seed $SEED, $KILLS kills"
cat >k.yaml <<'YAML'
name: kill
seed: 11
model: {n: 200, alpha: 1.2, E: 1, dist: power}
train: {batch: 128, steps: 3000, lr: 1e-2, warmup: 20, log_every: 20, threads: 1}
grid:
  m: [4, 8, 16, 32]
  gamma: [-1, -0.3, 0.3, 1]
  seed: [0, 1]
  save_weights: [false, true]
YAML

run_np 2 k.yaml -o base.h5 -q >base.out 2>&1
check "the uninterrupted run completes" [ "$rc" -eq 0 ]

kills=0 landed=0
for i in $(seq 1 "$KILLS"); do
	if [ $((i % 2)) -eq 0 ]; then victim=0; else victim=$((1 + RANDOM % 2)); fi
	delay=$(printf '0.%02d' $((40 + RANDOM % 60)))
	mpirun --timeout 120 -np 3 "$SUPERSWEEP" run k.yaml -o k.h5 -q >"run$i.out" 2>&1 &
	mp=$!
	sleep 0.9  # mpirun start-up
	sleep "$delay"
	pid=$(rank_pid $mp $victim)
	if [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; then
		kills=$((kills + 1))
		wait $mp
		r=$?
		[ $r -ne 0 ] && landed=$((landed + 1))
		echo "attempt $i: kill -9 rank $victim (pid $pid) after ${delay}s + start-up: mpirun exit $r"
	else
		wait $mp
		echo "attempt $i: rank $victim already gone (run ended with $?)"
	fi
	$PY -c "
import h5py, numpy as np
f = h5py.File('k.h5', 'r', locking=False)
print('  committed so far:', int(np.sum(f['jobs/status'][()] != 0)), 'of', len(f['jobs/status']))" 2>/dev/null || echo "  (no campaign file yet)"
done
check "kills landed in the middle of the campaign" [ "$landed" -ge $((KILLS / 2)) ]
for i in 1 2 3 4; do
	run_np 2 k.yaml -o k.h5 -q >"final$i.out" 2>&1
	echo "rerun $i: exit $rc"
	[ "$rc" -eq 0 ] && break
done
check "a rerun completes the campaign" [ "$rc" -eq 0 ]
check "no stale lock is left" [ ! -e k.h5.lock ]
check "checkpoints are cleaned up" [ ! -e k.h5.ckpt ]
$COMPARE --check k.h5 | tee check.out
check "every job is done exactly once" [ "${PIPESTATUS[0]}" -eq 0 ]
check "result columns equal the uninterrupted run's" $COMPARE k.h5 base.h5
check "verify passes" sh -c "'$SUPERSWEEP' verify k.h5 >/dev/null"
echo "kills: $kills, landed mid-run: $landed; $(cat check.out)"
verdict
