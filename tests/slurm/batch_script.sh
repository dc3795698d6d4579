#!/bin/bash
# tests/slurm/batch_script.sh - the batch script's drain and requeue logic
# on a real single-node Slurm.
#
# slurm/supersweep.sbatch runs a stand-in program (lib/fake-run.bash) so
# that each branch can be forced: a USR1 sent to the batch shell
# (`scancel --signal=USR1 --batch`) is forwarded to the job step under srun
# and under mpirun, the step exits 3, the job requeues itself and the next
# generation finishes; a step that keeps exiting 3 stops at the requeue cap
# with status 3; a step that fails (1) is not requeued; `scancel JOB` (TERM)
# drains the step but never requeues, also when it comes during a drain.
# The real program is exercised by submit_demo.sh, drain_requeue.sh and
# timelimit_resume.sh.
set -u
: "${SUPERSWEEP:?}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/lib/cluster.bash"
cluster_skip_unless_available
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl=self,vader OMPI_MCA_oob_tcp_if_include=lo
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}

cluster_start || { cluster_dump; exit 1; }
work=$CLUSTER_DIR/work
mkdir -p "$work"

# make_script NAME LAUNCHER NTASKS MAX_REQUEUES [CPUS] - the template with
# the stand-in program and this test's settings.
make_script() {
	sed -e "s|^SS_PROGRAM=.*|SS_PROGRAM=$here/lib/fake-run.bash|" \
		-e "s|^SS_SPEC=.*|SS_SPEC=spec.yaml|" \
		-e "s|^SS_CAMPAIGN=.*|SS_CAMPAIGN=$1.h5|" \
		-e "s|^SS_LAUNCHER=.*|SS_LAUNCHER=$2|" \
		-e "s|^SS_MAX_REQUEUES=.*|SS_MAX_REQUEUES=$4|" \
		-e "s|^#SBATCH --ntasks-per-node=.*|#SBATCH --ntasks-per-node=$3|" \
		-e "s|^#SBATCH --cpus-per-task=.*|#SBATCH --cpus-per-task=${5:-1}|" \
		-e "s|^#SBATCH --time=.*|#SBATCH --time=5|" \
		-e "s|^#SBATCH --job-name=.*|#SBATCH --job-name=$1|" \
		-e "s|^#SBATCH --output=.*|#SBATCH --output=$work/$1.log|" \
		"$root/slurm/supersweep.sbatch" >"$work/$1.sbatch"
}
submit() { # NAME PLAN -> job id
	(cd "$work" && FAKE_PLAN=$2 sq sbatch --parsable "$1.sbatch")
}

make_script cap srun 1 1
make_script fail srun 1 3 2
make_script srun srun 2 3
make_script mpirun mpirun 2 3
make_script cancel srun 1 3
make_script late srun 1 3
j_cap=$(submit cap "exit3")
j_fail=$(submit fail "exit1")
j_srun=$(submit srun "drain done")
j_mpirun=$(submit mpirun "drain done")
j_cancel=$(submit cancel "drain done")
j_late=$(submit late "slowdrain done")
echo "jobs: cap $j_cap fail $j_fail srun $j_srun mpirun $j_mpirun cancel $j_cancel late $j_late"

# USR1 to the batch shell of the srun and mpirun jobs, plain scancel (TERM)
# to the cancel job, each as soon as its step is ready (the jobs share two
# cpus: whichever is ready first is signalled first).
# The late job gets USR1 and, while it drains, a plain scancel.
declare -A sig=([srun]="--signal=USR1 --batch" [mpirun]="--signal=USR1 --batch" [cancel]=""
	[late]="--signal=USR1 --batch")
late_cancelled=0
t0=$SECONDS
while { [ ${#sig[@]} -gt 0 ] || [ $late_cancelled -eq 0 ]; } && [ $((SECONDS - t0)) -lt 120 ]; do
	for l in "${!sig[@]}"; do
		if grep -q "fake rank 0: ready" "$work/$l.log" 2>/dev/null; then
			j=$(eval echo "\$j_$l")
			sq scancel ${sig[$l]} "$j"
			unset "sig[$l]"
		fi
	done
	if [ $late_cancelled -eq 0 ] && grep -q "draining slowly" "$work/late.log" 2>/dev/null; then
		sq scancel "$j_late"
		late_cancelled=1
	fi
	sleep 0.2
done
for l in "${!sig[@]}"; do
	bad "$l: the step did not start"
done
for l in srun mpirun; do
	j=$(eval echo "\$j_$l")
	s=$(wait_job_done "$j" 90)
	check "$l: USR1 drain, requeue, second generation completes (state $s)" [ "$s" = COMPLETED ]
	check "$l: requeued once (Restarts=$(job_field "$j" Restarts))" [ "$(job_field "$j" Restarts)" = 1 ]
	check "$l: USR1 forwarded to the step" grep -q "SIGUSR1 received: forwarding USR1" "$work/$l.log"
	# (the first rank to exit 3 makes srun/mpirun end the other: one
	# line at least; the real program exits after a collective close)
	check "$l: the ranks got USR1" grep -q 'SIGUSR1, draining' "$work/$l.log"
	check "$l: step status 3 after the signal" grep -Eq "job step exited with status 3, [0-9.]+ s after SIGUSR1" "$work/$l.log"
	check "$l: requeued itself" grep -q "work left: requeueing job $j (generation 1)" "$work/$l.log"
	check "$l: generation 1 in the same (appended) log" grep -q "job $j generation 1 on" "$work/$l.log"
	check "$l: campaign done" grep -q "campaign done" "$work/$l.log"
	grep -E "s after SIGUSR1" "$work/$l.log" | sed "s/^/  $l: /"
done

s=$(wait_job_done "$j_cap" 90)
check "cap: stops after 1 requeue with status 3 (state $s, exit $(job_field "$j_cap" ExitCode))" \
	[ "$s" = FAILED ] && [ "$(job_field "$j_cap" ExitCode)" = 3:0 ]
check "cap: Restarts=1" [ "$(job_field "$j_cap" Restarts)" = 1 ]
check "cap: says why" grep -q "not requeued: generation 1 reached the cap" "$work/cap.log"
s=$(wait_job_done "$j_fail" 60)
check "failure: status 1, not requeued (state $s, exit $(job_field "$j_fail" ExitCode))" \
	[ "$s" = FAILED ] && [ "$(job_field "$j_fail" ExitCode)" = 1:0 ] &&
	[ "$(job_field "$j_fail" Restarts)" = 0 ]
check "failure: says so" grep -q "job step failed with status 1: not requeued" "$work/fail.log"
check "threads per job = cpus per task (2)" grep -q "fake rank 0 generation 0: exit1 (threads 2;" "$work/fail.log"
check "threads per job reach mpirun's ranks (1)" grep -q "fake rank 1 generation 0: drain (threads 1;" "$work/mpirun.log"

# scancel: TERM to the batch shell and the step; drained, not requeued.
s=$(wait_job_done "$j_cancel" 60)
sleep 3 # a wrong requeue would show as PENDING/RUNNING by now
s=$(job_state "$j_cancel")
check "scancel: cancelled, not requeued (state $s, Restarts=$(job_field "$j_cancel" Restarts))" \
	[ "$s" = CANCELLED ] && [ "$(job_field "$j_cancel" Restarts)" = 0 ]
check "scancel: the step drained on TERM" grep -q "SIGTERM, draining" "$work/cancel.log"
check "scancel: says why" grep -q "not requeued after SIGTERM" "$work/cancel.log"

# scancel during a USR1 drain: the drain ends, the job is not requeued.
s=$(wait_job_done "$j_late" 60)
sleep 3
s=$(job_state "$j_late")
check "scancel during a drain: not requeued (state $s, Restarts=$(job_field "$j_late" Restarts))" \
	[ "$s" = CANCELLED ] && [ "$(job_field "$j_late" Restarts)" = 0 ]
check "scancel during a drain: says why" grep -q "not requeued after SIGTERM" "$work/late.log"

if [ $fail -gt 0 ]; then
	for f in "$work"/*.log; do
		echo "--- $f"
		cat "$f"
	done
	cluster_dump
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
