#!/bin/bash
# tests/slurm/submit_dry_run.sh - `supersweep submit --dry-run` and its quoting.
#
# Needs no Slurm: checks that the generated script is valid bash, that its
# body is slurm/supersweep.sbatch's verbatim, that hostile names (spaces,
# quotes, $, backticks, #, %, newlines) come out of the settings exactly as
# given and that the #SBATCH lines read back the way sbatch parses them,
# that --dry-run writes nothing, and that bad options are refused with
# status 2 and one message.
set -u
: "${SUPERSWEEP:?}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d /tmp/ss-submit.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() { # description command...
	local d=$1
	shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}

cd "$tmp"
spec=$root/tests/slurm/data/tiny.yaml
[ -r "$spec" ] || { echo "missing $spec"; exit 1; }
hostile_dir="$tmp/a b 'c' \"d\" \$HOME \`id\` #e %f"
mkdir -p "$hostile_dir"
campaign="$hostile_dir/camp \$(touch PWNED) 'x'.h5"
module2="it's \"odd\" \$(touch PWNED) \`touch PWNED\`"

"$SUPERSWEEP" submit "$spec" -o "$campaign" --time 1:00:00 --nodes 3 \
	--ntasks-per-node 4 --cpus-per-task 2 --threads 2 --partition 'gpu "big"' \
	--account 'acct $x' --module openmpi --module "$module2" --margin 300 \
	--max-requeues 7 --launcher mpirun --job-name 'my "job" $x' \
	--sbatch=--qos=high --sbatch '--comment=a b' --run --retry-failed --run "$module2" \
	--dry-run >out.sh 2>err.txt
rc=$?
check "dry run exits 0 (got $rc)" [ $rc -eq 0 ]
check "dry run warns of idle ranks (12 ranks, 4 jobs): $(cat err.txt)" \
	[ "$(cat err.txt)" = "supersweep submit: warning: 12 ranks for 4 jobs: 8 ranks will have nothing to do" ]
check "generated script is valid bash" bash -n out.sh
check "dry run wrote no script" [ -z "$(ls -A "$hostile_dir")" ]

# The body is the template's, verbatim.
sed -n '/^# ---- body/,$p' "$root/slurm/supersweep.sbatch" >body.want
sed -n '/^# ---- body/,/^# supersweep submit --dry-run/p' out.sh | sed '$d' >body.got
check "body equals slurm/supersweep.sbatch's" cmp -s body.want body.got
check "body is not empty" [ "$(wc -l <body.got)" -gt 100 ]

# The settings, evaluated by bash, are exactly what was given.
sed -n '/^SS_PROGRAM=/,/^SS_RUN_ARGS=/p' out.sh >settings.sh
(
	cd "$tmp"
	. ./settings.sh
	printf '%s\n' "$SS_PROGRAM" "$SS_SPEC" "$SS_CAMPAIGN" "$SS_LAUNCHER" \
		"$SS_MAX_REQUEUES" "$SS_THREADS" "${#SS_MODULES[@]}" "${SS_MODULES[@]}" \
		"${#SS_RUN_ARGS[@]}" "${SS_RUN_ARGS[@]}"
) >settings.got
printf '%s\n' "$(readlink -f "$SUPERSWEEP")" "$spec" "$campaign" mpirun 7 2 2 openmpi \
	"$module2" 2 --retry-failed "$module2" >settings.want
check "settings read back exactly (hostile names)" cmp -s settings.want settings.got
check "nothing was executed while reading the settings" [ ! -e "$tmp/PWNED" ]

# #SBATCH lines, read back with sbatch's own rules (quotes group, a
# backslash escapes the next character).
sbatch_value() { # option: print the value of #SBATCH --option=... in out.sh
	sed -n "s/^#SBATCH --$1=//p" out.sh | head -n 1 | awk '
	{ s = $0; out = ""; q = ""; esc = 0
	  for (i = 1; i <= length(s); i++) { c = substr(s, i, 1)
	    if (esc) { out = out c; esc = 0 } else if (c == "\\") esc = 1
	    else if (q != "") { if (c == q) q = ""; else out = out c }
	    else if (c == "\"" || c == "'\''") q = c
	    else out = out c }
	  print out }'
}
check "job name" [ "$(sbatch_value job-name)" = 'my "job" $x' ]
check "partition" [ "$(sbatch_value partition)" = 'gpu "big"' ]
check "account" [ "$(sbatch_value account)" = 'acct $x' ]
check "time" [ "$(sbatch_value time)" = 1:00:00 ]
want_log="${campaign%.h5}.slurm-%j.log"
want_log=${want_log//%f/%%f}
check "log path (with % doubled)" [ "$(sbatch_value output)" = "$want_log" ]
check "nodes, tasks, cpus" grep -qx '#SBATCH --nodes=3' out.sh
check "tasks per node" grep -qx '#SBATCH --ntasks-per-node=4' out.sh
check "cpus per task" grep -qx '#SBATCH --cpus-per-task=2' out.sh
check "drain signal with margin" grep -qx '#SBATCH --signal=B:USR1@300' out.sh
check "requeue" grep -qx '#SBATCH --requeue' out.sh
check "append" grep -qx '#SBATCH --open-mode=append' out.sh
check "sbatch command printed" grep -qF "# and run: sbatch --qos=high '--comment=a b' '" out.sh

# Defaults: srun, cpus per task as threads, margin 120, script and log
# beside the campaign.
"$SUPERSWEEP" submit "$spec" -o rel.h5 --time 30 --nodes 1 --dry-run >def.sh 2>&1
check "defaults: exit 0" [ $? -eq 0 ]
check "defaults: srun" grep -qx 'SS_LAUNCHER=srun' def.sh
check "defaults: threads from cpus per task" grep -qx 'SS_THREADS=' def.sh
check "defaults: margin 120" grep -qx '#SBATCH --signal=B:USR1@120' def.sh
check "defaults: one task" grep -qx '#SBATCH --ntasks-per-node=1' def.sh
check "defaults: cpus per task = the spec's threads (1)" grep -qx '#SBATCH --cpus-per-task=1' def.sh
"$SUPERSWEEP" submit "$spec" -o rel.h5 --time 30 --nodes 1 --dry-run 2>&1 >/dev/null | cat >def.err
check "defaults: nothing on stderr ($(cat def.err))" [ ! -s def.err ]
check "job name from the spec" grep -qx '#SBATCH --job-name="slurm-tiny"' def.sh
sed -e 's/threads: 1/threads: 4/' -e 's/^name: .*/name: "four threads"/' "$spec" >t4.yaml
"$SUPERSWEEP" submit t4.yaml -o t4.h5 --time 30 --nodes 1 --dry-run >t4.sh 2>t4.err
check "defaults: cpus per task = the spec's threads (4)" grep -qx '#SBATCH --cpus-per-task=4' t4.sh
check "job name reduced to a safe word" grep -qx '#SBATCH --job-name="four_threads"' t4.sh
"$SUPERSWEEP" submit t4.yaml -o t4.h5 --time 30 --nodes 1 --cpus-per-task 2 --dry-run >/dev/null 2>t4.err
check "warns when threads exceed cpus per task" grep -q "4 threads per job on 2 cpus per task" t4.err
check "defaults: absolute campaign path" grep -qxF "SS_CAMPAIGN='$tmp/rel.h5'" def.sh
check "defaults: script beside the campaign" grep -qF "write this script to '$tmp/rel.sbatch'" def.sh
check "defaults: no run options" grep -qx 'SS_RUN_ARGS=()' def.sh
check "defaults: log beside the campaign" grep -qxF "#SBATCH --output=\"$tmp/rel.slurm-%j.log\"" def.sh

# --margin 0: no warning signal, and a warning that says what that means.
"$SUPERSWEEP" submit "$spec" -o rel.h5 --time 30 --nodes 1 --margin 0 --dry-run >m0.sh 2>m0.err
check "margin 0: exit 0" [ $? -eq 0 ]
check "margin 0: no --signal line" [ -z "$(grep -e '--signal' m0.sh)" ]
check "margin 0: warns" grep -q "no warning signal" m0.err

# Bad usage: status 2, one message, nothing written.
refuse() { # description expected-message-part args...
	local d=$1 want=$2
	shift 2
	"$SUPERSWEEP" submit "$@" >r.out 2>r.err
	local rc=$?
	if [ $rc -eq 2 ] && grep -qF -- "$want" r.err && [ "$(wc -l <r.err)" -eq 1 ]; then
		ok "refuses $d"
	else
		bad "refuses $d (status $rc, stderr: $(cat r.err))"
	fi
}
refuse "no arguments" "needs SPEC.yaml"
refuse "missing --time" "needs SPEC.yaml" "$spec" -o x.h5 --nodes 1
refuse "missing --nodes" "needs SPEC.yaml" "$spec" -o x.h5 --time 10
refuse "bad time" "got '1:2:3:4'" "$spec" -o x.h5 --time 1:2:3:4 --nodes 1
refuse "zero time" "got '0'" "$spec" -o x.h5 --time 0 --nodes 1
refuse "margin >= limit" "not shorter than the time limit" "$spec" -o x.h5 --time 2 --nodes 1 --margin 120
refuse "zero nodes" "--nodes: expected an integer from 1" "$spec" -o x.h5 --time 10 --nodes 0
refuse "bad tasks" "got '2x'" "$spec" -o x.h5 --time 10 --nodes 1 --ntasks-per-node 2x
refuse "bad launcher" "expected srun or mpirun" "$spec" -o x.h5 --time 10 --nodes 1 --launcher ssh
refuse "newline in partition" "newline" "$spec" -o x.h5 --time 10 --nodes 1 --partition "$(printf 'a\nb')"
refuse "newline in the log path" "newline" "$spec" -o "$(printf 'a\nb.h5')" --time 10 --nodes 1
refuse "unknown option" "unknown option '--frobnicate'" "$spec" -o x.h5 --time 10 --nodes 1 --frobnicate 1
refuse "missing spec file" "no-such.yaml" "$tmp/no-such.yaml" -o x.h5 --time 10 --nodes 1
printf 'name: bad\nmodel: {n: -3}\n' >bad.yaml
refuse "a bad spec, naming file and line" "bad.yaml:2" bad.yaml -o x.h5 --time 10 --nodes 1
refuse "option without value" "--time needs a value" "$spec" -o x.h5 --nodes 1 --time
check "nothing written by refused submits" [ ! -e x.sbatch ] && [ ! -e x.h5 ]

"$SUPERSWEEP" submit --help >help.txt 2>&1
check "--help exits 0 and lists --margin" grep -q -- '--margin SECONDS' help.txt

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
