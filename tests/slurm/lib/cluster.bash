# tests/slurm/lib/cluster.bash - a private single-node Slurm for one test.
#
# Sourced by the tests in tests/slurm/ (bash).  cluster_start starts munged,
# slurmctld and slurmd as root in a fresh directory under /tmp, on loopback,
# with ports nobody else uses, waits (bounded) until the node is idle, and
# exports SLURM_CONF so that sbatch, squeue, scontrol, scancel and srun talk
# to it.  cluster_stop (installed as an EXIT trap) cancels what is still
# queued, stops the daemons by their pid files (SIGTERM, SIGKILL after a
# bound), kills any leftover process of this cluster's jobs (found by the
# cluster directory in its environment) and removes the directory.
#
# The cluster is tuned for tests: cred_expire=5 (a requeued job restarts
# after seconds, not 120 s), KillWait=5, backfill and main scheduler every
# 1-2 s, MinJobAge long enough to read a finished job's state, and a
# one-line-per-job record (jobcomp/filetxt, $CLUSTER_DIR/jobcomp.log).
# Job ids start at a random number and TmpFS is private: the PMIx plugin
# names its per-step directories by uid, job id and step id, and two test
# clusters (or the leftovers of a killed one) must not share them.
#
# CLUSTER_KILLWAIT (default 5) is the time between SIGTERM and SIGKILL when a
# job is cancelled or reaches its time limit; 0 kills at once (no drain).
#
# A client call against a dead slurmctld blocks: every client call here is
# wrapped in `timeout`, and so should every call in a test be (use sq).
#
# Exits the test with 77 (skip) when the Slurm daemons, munge or root
# privileges are missing.

CLUSTER_DIR=
CLUSTER_NODE=
CLUSTER_CPUS=

cluster_log() { printf 'cluster: %s\n' "$*" >&2; }

# cluster_skip_unless_available - exit 77 when this machine cannot run one.
cluster_skip_unless_available() {
	local p
	for p in munged slurmctld slurmd sbatch srun squeue scontrol scancel sinfo; do
		if ! command -v "$p" >/dev/null 2>&1 && ! [ -x "/usr/sbin/$p" ]; then
			echo "SKIP: $p is not installed (apt-get install slurm-wlm munge)"
			exit 77
		fi
	done
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: a private slurmd needs root"
		exit 77
	fi
}

# free_port - print a TCP port on loopback that nothing listens on.
free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$((20000 + RANDOM % 20000))
		if ! ss -Htan 2>/dev/null | awk '{print $4}' | grep -q ":$p\$"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# sdaemon NAME - path of a daemon (PATH or /usr/sbin).
sdaemon() { command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"; }

# cluster_start - start the daemons; sets CLUSTER_DIR and exports SLURM_CONF.
cluster_start() {
	local ctld_port slurmd_port i state
	cluster_skip_unless_available
	PATH=$PATH:/usr/sbin
	CLUSTER_DIR=$(mktemp -d /tmp/ssq.XXXXXX) || return 1
	chmod 755 "$CLUSTER_DIR"
	trap cluster_stop EXIT
	CLUSTER_NODE=$(hostname -s)
	CLUSTER_CPUS=$(nproc)
	mkdir -p "$CLUSTER_DIR/munge" "$CLUSTER_DIR/state" "$CLUSTER_DIR/spool" "$CLUSTER_DIR/log" \
		"$CLUSTER_DIR/tmp"
	chmod 755 "$CLUSTER_DIR/munge"
	head -c 1024 /dev/urandom >"$CLUSTER_DIR/munge/key"
	chmod 400 "$CLUSTER_DIR/munge/key"
	if ! timeout 10 "$(sdaemon munged)" --force \
		--key-file="$CLUSTER_DIR/munge/key" \
		--socket="$CLUSTER_DIR/munge/sock" \
		--pid-file="$CLUSTER_DIR/munge/pid" \
		--log-file="$CLUSTER_DIR/log/munged.log" \
		--seed-file="$CLUSTER_DIR/munge/seed"; then
		cluster_log "munged did not start"
		cat "$CLUSTER_DIR/log/munged.log" >&2
		return 1
	fi
	ctld_port=$(free_port) && slurmd_port=$(free_port) || return 1
	while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done
	cat >"$CLUSTER_DIR/slurm.conf" <<CONF
ClusterName=sstest
SlurmctldHost=$CLUSTER_NODE(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$CLUSTER_DIR/munge/sock,cred_expire=5
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_interval=2
MpiDefault=none
KillWait=${CLUSTER_KILLWAIT:-5}
MinJobAge=600
FirstJobId=$((1000 + RANDOM * 30 + RANDOM % 30))
TmpFS=$CLUSTER_DIR/tmp
ReturnToService=2
StateSaveLocation=$CLUSTER_DIR/state
SlurmdSpoolDir=$CLUSTER_DIR/spool
SlurmctldPidFile=$CLUSTER_DIR/slurmctld.pid
SlurmdPidFile=$CLUSTER_DIR/slurmd.pid
SlurmctldLogFile=$CLUSTER_DIR/log/slurmctld.log
SlurmdLogFile=$CLUSTER_DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
JobCompType=jobcomp/filetxt
JobCompLoc=$CLUSTER_DIR/jobcomp.log
NodeName=$CLUSTER_NODE NodeAddr=127.0.0.1 CPUs=$CLUSTER_CPUS State=UNKNOWN
PartitionName=test Nodes=$CLUSTER_NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
	export SLURM_CONF=$CLUSTER_DIR/slurm.conf
	# Nothing of an enclosing allocation may leak into this cluster's jobs.
	unset $(env | sed -n 's/^\(SLURM_[A-Z_]*\)=.*/\1/p' | grep -v '^SLURM_CONF$') 2>/dev/null
	if ! timeout 20 "$(sdaemon slurmctld)" -f "$SLURM_CONF" -c; then
		cluster_log "slurmctld did not start"
		tail -n 20 "$CLUSTER_DIR/log/slurmctld.log" >&2
		return 1
	fi
	if ! timeout 20 "$(sdaemon slurmd)" -f "$SLURM_CONF"; then
		cluster_log "slurmd did not start"
		tail -n 20 "$CLUSTER_DIR/log/slurmd.log" >&2
		return 1
	fi
	for i in $(seq 1 60); do
		state=$(timeout 3 sinfo -h -o %t -n "$CLUSTER_NODE" 2>/dev/null)
		[ "$state" = idle ] && break
		sleep 0.5
	done
	if [ "$state" != idle ]; then
		cluster_log "node not idle after 30 s (state '$state')"
		tail -n 20 "$CLUSTER_DIR/log/slurmctld.log" "$CLUSTER_DIR/log/slurmd.log" >&2
		return 1
	fi
	cluster_log "up in $CLUSTER_DIR (ports $ctld_port, $slurmd_port; $CLUSTER_CPUS cpus)"
}

# stop_pidfile FILE NAME - SIGTERM the pid in FILE, SIGKILL after 10 s.
stop_pidfile() {
	local pid i
	[ -s "$1" ] || return 0
	pid=$(cat "$1")
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	cluster_log "$2 ($pid) ignored SIGTERM for 10 s; SIGKILL"
	kill -KILL "$pid" 2>/dev/null
}

# cluster_job_pids - pids of processes started by this cluster's jobs (their
# environment names this cluster's slurm.conf); never anything else.
cluster_job_pids() {
	local e pid
	[ -n "$CLUSTER_DIR" ] || return 0
	for e in /proc/[0-9]*/environ; do
		pid=${e#/proc/}
		pid=${pid%/environ}
		[ "$pid" != $$ ] && [ "$pid" != "$BASHPID" ] || continue
		if tr '\0' '\n' 2>/dev/null <"$e" | grep -qxF "SLURM_CONF=$CLUSTER_DIR/slurm.conf"; then
			# our own shell and its helpers carry it too: only the
			# jobs' processes and the step daemons
			if tr '\0' '\n' 2>/dev/null <"$e" | grep -q '^SLURM_JOB_ID=' ||
				[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = slurmstepd ]; then
				echo "$pid"
			fi
		fi
	done
}

# cluster_stop - cancel jobs, stop daemons, clean up (the EXIT trap).
cluster_stop() {
	local i left
	[ -n "$CLUSTER_DIR" ] && [ -d "$CLUSTER_DIR" ] || return 0
	if [ -s "$CLUSTER_DIR/slurmctld.pid" ] && kill -0 "$(cat "$CLUSTER_DIR/slurmctld.pid")" 2>/dev/null; then
		timeout 5 scancel --full --signal=KILL --user=root >/dev/null 2>&1
		timeout 5 scancel --user=root >/dev/null 2>&1
		for i in $(seq 1 20); do
			[ -z "$(timeout 3 squeue -h -o %i 2>/dev/null)" ] && break
			sleep 0.5
		done
	fi
	stop_pidfile "$CLUSTER_DIR/slurmd.pid" slurmd
	stop_pidfile "$CLUSTER_DIR/slurmctld.pid" slurmctld
	left=$(cluster_job_pids)
	if [ -n "$left" ]; then
		cluster_log "killing leftover job processes: $(echo $left)"
		kill -KILL $left 2>/dev/null
	fi
	stop_pidfile "$CLUSTER_DIR/munge/pid" munged
	if [ -n "${CLUSTER_KEEP:-}" ]; then
		cluster_log "kept $CLUSTER_DIR"
	else
		rm -rf "$CLUSTER_DIR"
	fi
	CLUSTER_DIR=
}

# sq ARGS... - a bounded Slurm client call: sq squeue -h ...
sq() { timeout 10 "$@"; }

# job_state JOB - the job's state (PENDING, RUNNING, COMPLETED, ...).
job_state() {
	sq scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1
}

# job_field JOB NAME - one field of `scontrol show job` (e.g. Restarts, ExitCode).
job_field() {
	sq scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# wait_job_done JOB SECONDS - wait until JOB is finished for good (not
# pending/running/requeued/completing); prints the final state.  Returns 1
# when the bound is reached.
wait_job_done() {
	local t0=$SECONDS s
	while [ $((SECONDS - t0)) -lt "$2" ]; do
		s=$(job_state "$1")
		case $s in
		COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED)
			echo "$s"
			return 0
			;;
		esac
		sleep 0.5
	done
	echo "${s:-UNKNOWN}"
	return 1
}

# wait_job_running JOB SECONDS - wait until JOB runs; returns 1 on timeout.
wait_job_running() {
	local t0=$SECONDS
	while [ $((SECONDS - t0)) -lt "$2" ]; do
		[ "$(job_state "$1")" = RUNNING ] && return 0
		sleep 0.2
	done
	return 1
}

# wait_for_file_match FILE REGEX SECONDS - wait until FILE has a line matching.
wait_for_file_match() {
	local t0=$SECONDS
	while [ $((SECONDS - t0)) -lt "$3" ]; do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

# cluster_dump - print the daemons' logs' tails (on failure).
cluster_dump() {
	[ -n "$CLUSTER_DIR" ] || return 0
	echo "--- slurmctld.log (tail)"
	tail -n 30 "$CLUSTER_DIR/log/slurmctld.log" 2>/dev/null
	echo "--- slurmd.log (tail)"
	tail -n 30 "$CLUSTER_DIR/log/slurmd.log" 2>/dev/null
	echo "--- jobcomp.log"
	cat "$CLUSTER_DIR/jobcomp.log" 2>/dev/null
}
