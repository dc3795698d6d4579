# tests/slurm/lib/testlib.bash - checks and helpers shared by the Slurm tests.
#
# Sourced after lib/cluster.bash.  Sets ROOT (the source tree), PY (a
# Python that imports h5py), counts checks (check/ok/bad) and prints the
# verdict line with `verdict` (exit status 0 only when nothing failed).

: "${SUPERSWEEP:?SUPERSWEEP must name the binary under test}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
PY="sh $ROOT/tools/python"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl=self,vader
export OMPI_MCA_oob_tcp_if_include=lo OPENBLAS_NUM_THREADS=1
export HDF5_USE_FILE_LOCKING=FALSE
T_PASS=0 T_FAIL=0

ok() { T_PASS=$((T_PASS + 1)); echo "ok   $*"; }
bad() { T_FAIL=$((T_FAIL + 1)); echo "FAIL $*"; }
check() { # description command...
	local d=$1
	shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}

# verdict [LOG...] - on failure print the logs and the cluster's; the
# closing "N passed, N failed" line; returns non-zero on any failure.
verdict() {
	local f
	if [ "$T_FAIL" -gt 0 ]; then
		for f in "$@"; do
			echo "--- $f"
			cat "$f" 2>/dev/null
		done
		cluster_dump
	fi
	echo "$T_PASS passed, $T_FAIL failed"
	[ "$T_FAIL" -eq 0 ]
}

# have_h5py - true when the Python tools can read campaign files.
have_h5py() { $PY -c 'import h5py, numpy' >/dev/null 2>&1; }

# submit_job OUTFILE ARGS... - `supersweep submit ARGS`, job id on stdout.
submit_job() {
	local out=$1
	shift
	timeout 30 "$SUPERSWEEP" submit "$@" >"$out" 2>&1 || return 1
	sed -n 's/^Submitted batch job \([0-9]*\).*/\1/p' "$out" | head -n 1
}

# batch_ts LOG REGEX - the time (epoch s, ms resolution) of the first
# supersweep-batch line of LOG that matches REGEX.
batch_ts() {
	local iso
	iso=$(grep -E "^supersweep-batch: [^ ]+ .*$2" "$1" | head -n 1 | awk '{print $2}')
	[ -n "$iso" ] || return 1
	date -u -d "${iso%Z}" +%s.%3N
}

# sub A B - B - A with two decimals.
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# status_count CAMPAIGN WORD - the count after WORD ("done", "failed",
# "pending") in `supersweep status` (read-only, also while a run writes).
status_count() {
	timeout 20 "$SUPERSWEEP" status "$1" 2>/dev/null |
		sed -n "s/.*\\b$2 \\([0-9][0-9]*\\).*/\\1/p" | head -n 1
}

# write_spec FILE NAME STEPS SEEDS - a campaign of 4 widths x 2 gammas x
# SEEDS seeds of STEPS steps each (n = 1000, batch 256).
write_spec() {
	local seeds
	seeds=$(seq -s ', ' 0 $(($4 - 1)))
	cat >"$1" <<SPEC
name: $2
seed: 11
model: {n: 1000, alpha: 1.2, E: 1, dist: power}
train: {batch: 256, steps: $3, lr: 1e-2, warmup: 50, log_every: 25,
        eval_samples: 2048, threads: 1}
grid:
  m: [10, 20, 40, 80]
  gamma: [-1, 0.1]
  seed: [$seeds]
SPEC
}

# skip_without_run - exit 77 while `supersweep run` is the skeleton's
# placeholder (only its literal message counts: anything else runs the test).
skip_without_run() {
	if timeout 30 "$SUPERSWEEP" run 2>&1 | grep -q "not implemented yet"; then
		echo "SKIP: supersweep run is not implemented in this build"
		exit 77
	fi
}
