# campaign_lib.sh - shared helpers of the campaign tests (tests/mpi, tests/e2e).
# Sourced, not run.  Needs SUPERSWEEP (absolute path of the binary).
: "${SUPERSWEEP:?SUPERSWEEP must name the binary under test}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl=self,vader
export OMPI_MCA_oob_tcp_if_include=lo OPENBLAS_NUM_THREADS=1 HDF5_USE_FILE_LOCKING=FALSE
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
COMPARE="$PY $ROOT/tests/support/campaign_compare.py"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/supersweep-test.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
npass=0 nfail=0

ok() { npass=$((npass + 1)); echo "ok: $*"; }
bad() { nfail=$((nfail + 1)); echo "FAIL: $*"; }
# check DESCRIPTION COMMAND... : pass when the command succeeds
check() { d=$1; shift; if "$@"; then ok "$d"; else bad "$d"; fi; }
verdict() { echo "$npass passed, $nfail failed"; [ "$nfail" -eq 0 ]; }

# skip (77) until the spec and trainer modules are linked in: a one-job
# campaign must complete
require_modules() {
	printf 'train: {n: 4, m: 2, gamma: 0, alpha: 1, steps: 2}\n' >"$WORK/probe.yaml"
	if ! "$SUPERSWEEP" run "$WORK/probe.yaml" -o "$WORK/probe.h5" -q 2>&1 |
		grep -q "1 jobs: 1 done"; then
		echo "skip: the spec or trainer module is not linked in"
		exit 77
	fi
	rm -f "$WORK/probe.h5"
}

# run_np P ARGS... : mpirun with a timeout; sets $rc
run_np() {
	p=$1; shift
	mpirun --timeout 120 -np "$p" "$SUPERSWEEP" run "$@"
	rc=$?
}

# rank_pid MPIRUN_PID RANK : pid of that rank (a child of mpirun)
rank_pid() {
	for c in $(ps -o pid= --ppid "$1"); do
		if tr '\0' '\n' <"/proc/$c/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2"; then
			echo "$c"
			return 0
		fi
	done
	return 1
}

# wait_dispatch LOG : until LOG says the dispatch loop runs ("to run on"),
# bounded at 300 polls of 0.1 s; returns without error either way
wait_dispatch() {
	for _ in $(seq 1 300); do
		grep -q "to run on" "$1" 2>/dev/null && break
		sleep 0.1
	done
}

# start_watched LOG ARGS... : "$SUPERSWEEP" ARGS in the background, output to
# LOG, killed with -9 by a watchdog after 60 s (no `timeout` in front: it
# would catch the signals the test sends); sets $pid and $watchdog
start_watched() {
	local log=$1; shift
	"$SUPERSWEEP" "$@" >"$log" 2>&1 &
	pid=$!
	(sleep 60 && kill -9 $pid 2>/dev/null) &
	watchdog=$!
}

# wait_watched : wait for the run of start_watched, stop its watchdog; sets $rc
wait_watched() {
	wait $pid
	rc=$?
	kill $watchdog 2>/dev/null
}
