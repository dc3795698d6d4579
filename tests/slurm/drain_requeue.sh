#!/bin/bash
# tests/slurm/drain_requeue.sh - drain on USR1, requeue, resume, same bytes.
#
# Two submissions of one campaign (8 jobs, 2 ranks each) to a real Slurm:
# the reference runs uninterrupted; the other gets USR1 on its batch shell
# (`scancel --signal=USR1 --batch`, what Slurm sends at the --signal margin)
# while jobs are in the middle of training.  It must drain (running jobs
# checkpoint, exit 3), requeue itself, resume from the checkpoints in its
# second generation and finish with result columns byte-equal to the
# reference's.  Prints the figures: drain time (USR1 to step exit), the
# requeue gap, and the overhead of the whole interrupt-requeue-resume cycle.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/cluster.bash"
. "$here/lib/testlib.bash"
cluster_skip_unless_available
skip_without_run
have_h5py || { echo "SKIP: the comparison needs python3-h5py"; exit 77; }
cluster_start || { cluster_dump; exit 1; }
w=$CLUSTER_DIR/work
mkdir -p "$w"
write_spec "$w/drain.yaml" slurm-drain "${DRAIN_STEPS:-600}" 1
common=(--time 10 --nodes 1 --ntasks-per-node 2 --cpus-per-task 1 --margin 60)

j_ref=$(cd "$w" && submit_job "$w/ref.out" "$w/drain.yaml" -o "$w/ref.h5" "${common[@]}")
j=$(cd "$w" && submit_job "$w/got.out" "$w/drain.yaml" -o "$w/got.h5" "${common[@]}")
check "two jobs submitted ($j_ref, $j)" [ -n "$j_ref" ] && [ -n "$j" ]
ref_log=$w/ref.slurm-$j_ref.log
log=$w/got.slurm-$j.log

# USR1 when a quarter of the jobs are committed: the running ones are then
# in the middle of training.
s=$(wait_job_done "$j_ref" 300)
check "reference completed (state $s)" [ "$s" = COMPLETED ]
wait_job_running "$j" 60
t0=$SECONDS
sent=0
while [ $((SECONDS - t0)) -lt 240 ]; do
	d=$(status_count "$w/got.h5" done)
	if [ "${d:-0}" -ge 2 ]; then
		sq scancel --signal=USR1 --batch "$j" && sent=1
		break
	fi
	[ "$(job_state "$j")" = RUNNING ] || break
	sleep 0.3
done
check "USR1 sent with ${d:-?} of 8 jobs committed" [ $sent -eq 1 ] && [ "${d:-8}" -lt 8 ]
s=$(wait_job_done "$j" 300)
check "interrupted campaign completed (state $s)" [ "$s" = COMPLETED ]
check "requeued exactly once (Restarts=$(job_field "$j" Restarts))" [ "$(job_field "$j" Restarts)" = 1 ]
check "USR1 forwarded to the job step" grep -q "SIGUSR1 received: forwarding USR1" "$log"
check "step drained with status 3" grep -Eq "job step exited with status 3, [0-9.]+ s after SIGUSR1" "$log"
check "job requeued itself" grep -q "work left: requeueing job $j (generation 1)" "$log"
check "second generation in the same log" grep -q "job $j generation 1 on" "$log"
check "campaign done" grep -q "supersweep-batch: .* campaign done" "$log"
nck=$(grep -Eo "[0-9]+ checkpointed by the drain" "$log" | head -n 1 | awk '{print $1}')
check "running jobs checkpointed by the drain (${nck:-none})" [ "${nck:-0}" -ge 1 ]
check "no checkpoint left after the campaign" [ -z "$(find "$w" -name '*.ckpt*' -print -quit)" ]
timeout 60 "$SUPERSWEEP" verify "$w/got.h5" >"$w/verify.out" 2>&1
rc=$?
check "verify: $(tail -n 1 "$w/verify.out")" [ $rc -eq 0 ]
cmp_out=$($PY "$ROOT/tests/slurm/lib/compare.py" "$w/ref.h5" "$w/got.h5" 2>&1)
check "result columns equal the uninterrupted run's: $cmp_out" [ $? -eq 0 ]
# The comparison can fail: one flipped bit in a copy is found.
cp "$w/got.h5" "$w/flipped.h5"
if $PY - "$w/flipped.h5" <<'PYEOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+", locking=False) as f:
    d = f["metrics/final_loss"]
    v = d[()]
    v.view(np.uint64)[0] ^= np.uint64(1)
    d[...] = v
PYEOF
then
	$PY "$ROOT/tests/slurm/lib/compare.py" "$w/ref.h5" "$w/flipped.h5" >"$w/flipped.out" 2>&1
	rc=$?
	check "the comparison finds one flipped bit ($(head -n 1 "$w/flipped.out"))" [ $rc -eq 1 ]
else
	bad "could not flip a bit in a copy of the campaign file"
fi

# Figures, from the batch shell's time stamps.
drain=$(sed -n 's/.*job step exited with status 3, \([0-9.]*\) s after SIGUSR1.*/\1/p' "$log" | head -n 1)
t_exit=$(batch_ts "$log" "job step exited with status 3")
t_gen1=$(batch_ts "$log" "generation 1 on")
ref_wall=$(sub "$(batch_ts "$ref_log" "generation 0 on")" "$(batch_ts "$ref_log" "campaign done")")
got_wall=$(sub "$(batch_ts "$log" "generation 0 on")" "$(batch_ts "$log" "campaign done")")
echo "figure: drain time, USR1 to job step exit: ${drain:-?} s (${nck:-?} jobs checkpointed)"
echo "figure: requeue gap, step exit to generation 1 start: $(sub "$t_exit" "$t_gen1") s"
echo "figure: campaign wall, uninterrupted ${ref_wall} s, interrupted once ${got_wall} s:" \
	"overhead of one interrupt-requeue-resume cycle $(sub "$ref_wall" "$got_wall") s"
echo "figure: equality: $cmp_out"
verdict "$log" "$ref_log"
