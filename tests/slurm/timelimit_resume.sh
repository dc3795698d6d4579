#!/bin/bash
# tests/slurm/timelimit_resume.sh - time limit and SIGKILL, resumed by resubmission.
#
# One campaign (16 jobs, one rank) is interrupted twice the hard way and
# finished by submitting again; an uninterrupted reference runs beside it.
#  1. Submitted with --time 1 (minute) and --margin 0 (no warning signal).
#     Once it has committed a few jobs its ranks are frozen (SIGSTOP) in the
#     middle of training, so that a small campaign is still running when
#     Slurm enforces the limit 60-90 s after the start, whatever the
#     machine's speed.  At the limit Slurm sends SIGCONT and SIGTERM (the
#     program may drain on it) and SIGKILL KillWait=5 s later; the batch
#     script must not requeue.  State TIMEOUT.
#  2. Submitted again (two ranks from now on); once it has committed another
#     job, every process of the job (`scontrol listpids`: batch shell, srun,
#     ranks) gets SIGKILL at once, as in a node crash (scancel always sends
#     SIGTERM first): no drain, a stale lock, the running job lost.
#  3. Submitted again: it must resume from the last commit and finish.
# After each interruption the rows committed so far must stay exactly as
# they were (not rerun); at the end the result columns must equal the
# reference's byte for byte.
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
logs=()

write_spec "$w/tl.yaml" slurm-timelimit "${TL_STEPS:-400}" 2
one=(--nodes 1 --ntasks-per-node 1 --cpus-per-task 1)
two=(--nodes 1 --ntasks-per-node 2 --cpus-per-task 1) # the reference is done by then

# snapshot NAME - keep the raw bytes of every committed row of got.h5.
snapshot() {
	$PY - "$w/got.h5" "$w/$1.npz" <<'PYEOF'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r", locking=False)
done = f["jobs/status"][()] == 1
rows = {}
def keep(name, obj):
    if isinstance(obj, h5py.Dataset) and obj.shape[:1] == done.shape:
        rows[name.replace("/", "__")] = np.frombuffer(obj[()][done].tobytes(), np.uint8)
f.visititems(keep)
np.savez(sys.argv[2], done=done, **rows)
PYEOF
}
# unchanged NAME - are the rows of snapshot NAME still byte-equal (every
# column, execution records included: they were not run again)?
unchanged() {
	$PY - "$w/got.h5" "$w/$1.npz" <<'PYEOF'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r", locking=False)
before = np.load(sys.argv[2])
done = before["done"]
changed = [k.replace("__", "/") for k in before.files if k != "done" and
           f[k.replace("__", "/")][()][done].tobytes() != before[k].tobytes()]
print("the %d rows committed before it %s" % (int(done.sum()),
      "are unchanged in every column" if not changed else "CHANGED in " + ", ".join(changed)))
sys.exit(1 if changed else 0)
PYEOF
}

# 1. The time limit, without warning.
j1=$(cd "$w" && submit_job "$w/s1.out" "$w/tl.yaml" -o "$w/got.h5" --time 1 --margin 0 "${one[@]}")
j_ref=$(cd "$w" && submit_job "$w/ref.out" "$w/tl.yaml" -o "$w/ref.h5" --time 10 --margin 60 "${one[@]}")
check "campaign and reference submitted ($j1, $j_ref)" [ -n "$j1" ] && [ -n "$j_ref" ]
logs+=("$w/got.slurm-$j1.log")
wait_job_running "${j1:-0}" 60
t0=$SECONDS
while [ $((SECONDS - t0)) -lt 120 ]; do
	d=$(status_count "$w/got.h5" done)
	[ "${d:-0}" -ge 3 ] && break
	[ "$(job_state "${j1:-0}")" = RUNNING ] || break
	sleep 0.3
done
ranks=$(for p in $(sq scontrol listpids "${j1:-0}" | awk 'NR > 1 && $1 ~ /^[0-9]+$/ { print $1 }'); do
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" = supersweep ] && echo "$p"
done)
check "1: ranks found and frozen with ${d:-?} jobs committed ($(echo $ranks))" [ -n "$ranks" ]
kill -STOP $ranks 2>/dev/null
s=$(wait_job_done "$j1" 150)
check "1: ended by its time limit (state $s)" [ "$s" = TIMEOUT ]
check "1: Slurm says so" grep -q "DUE TO TIME LIMIT" "$w/got.slurm-$j1.log"
check "1: not requeued (Restarts=$(job_field "$j1" Restarts))" [ "$(job_field "$j1" Restarts)" = 0 ]
how=$(grep -Eo "job step exited with status [0-9]+, [0-9.]+ s after SIGTERM" "$w/got.slurm-$j1.log")
echo "  1: ${how:-killed before the step exited}"
d1=$(status_count "$w/got.h5" done)
p1=$(status_count "$w/got.h5" pending)
check "1: work done and work left (done ${d1:-?}, pending ${p1:-?})" \
	[ "${d1:-0}" -ge 3 ] && [ "${p1:-0}" -ge 3 ]
snapshot after1

# 2. Submitted again, then SIGKILL to every process of the job.
j2=$(cd "$w" && submit_job "$w/s2.out" "$w/tl.yaml" -o "$w/got.h5" --time 10 --margin 60 "${two[@]}")
check "2: resubmitted ($j2)" [ -n "$j2" ]
logs+=("$w/got.slurm-$j2.log")
wait_job_running "${j2:-0}" 60
t0=$SECONDS
while [ $((SECONDS - t0)) -lt 120 ]; do
	d=$(status_count "$w/got.h5" done)
	[ "${d:-0}" -gt "${d1:-0}" ] && break
	sleep 0.3
done
pids=$(sq scontrol listpids "${j2:-0}" | awk 'NR > 1 && $1 ~ /^[0-9]+$/ { print $1 }')
check "2: the job's processes found ($(echo $pids))" [ -n "$pids" ]
kill -KILL $pids 2>/dev/null
s=$(wait_job_done "${j2:-0}" 60)
d2=$(status_count "$w/got.h5" done)
p2=$(status_count "$w/got.h5" pending)
echo "  2: SIGKILL with ${d:-?} done; job state $s; done ${d2:-?}, pending ${p2:-?}"
check "2: resumed from the last commit (started with ${d1:-?} done)" \
	grep -Eq "16 jobs: ${d1:-x} done" "$w/got.slurm-$j2.log"
check "2: killed without a drain" [ -z "$(grep 'job step exited' "$w/got.slurm-$j2.log")" ]
check "2: work left after the kill (pending ${p2:-?})" [ "${p2:-0}" -ge 1 ]
out=$(unchanged after1)
check "2: $out" [ $? -eq 0 ]
snapshot after2

# 3. Submitted again: finishes.
j3=$(cd "$w" && submit_job "$w/s3.out" "$w/tl.yaml" -o "$w/got.h5" --time 10 --margin 60 "${two[@]}")
logs+=("$w/got.slurm-$j3.log")
s=$(wait_job_done "${j3:-0}" 150)
check "3: completed (state $s)" [ "$s" = COMPLETED ]
check "3: resumed from the last commit (started with ${d2:-?} done, stale lock taken over)" \
	grep -Eq "16 jobs: ${d2:-x} done" "$w/got.slurm-$j3.log"
out=$(unchanged after2)
check "3: $out" [ $? -eq 0 ]
s=$(wait_job_done "$j_ref" 200)
check "reference completed (state $s)" [ "$s" = COMPLETED ]
check "no checkpoint left after the campaign" [ -z "$(find "$w" -name '*.ckpt*' -print -quit)" ]
cmp_out=$($PY "$ROOT/tests/slurm/lib/compare.py" "$w/ref.h5" "$w/got.h5" 2>&1)
check "result columns equal the uninterrupted run's: $cmp_out" [ $? -eq 0 ]
echo "figure: time limit at ${d1:-?}/16 committed (${how:-killed}), SIGKILL at ${d2:-?}/16," \
	"finished by a third submission; equality: $cmp_out"
verdict "${logs[@]}"
