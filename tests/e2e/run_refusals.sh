#!/bin/bash
# run_refusals.sh - `run` refuses what it must not touch, and says why:
# a changed spec (with the list of differences), a second writer (lock file),
# files that are not campaigns, truncated or damaged; a stale lock of a dead
# process is taken over; bad usage.  Refused files stay byte-identical.
. "$(dirname "$0")/../support/campaign_lib.sh"
require_modules
cd "$WORK" || exit 1
cat >a.yaml <<'YAML'
name: a
seed: 5
model: {n: 32, alpha: 1.0, E: 1, dist: power}
train: {batch: 32, steps: 20, lr: 1e-2, log_every: 5, threads: 1}
grid:
  m: [2, 4]
  gamma: [-1, 1]
YAML
S=$SUPERSWEEP

timeout 60 "$S" run a.yaml -o a.h5 -q >/dev/null 2>&1
check "a first run creates the campaign" [ $? -eq 0 ]
check "no lock file or .part left behind" [ ! -e a.h5.lock ] && [ ! -e a.h5.part ] && [ ! -e a.h5.ckpt ]
sum0=$(md5sum <a.h5)
timeout 60 "$S" run a.yaml -o a.h5 -q >rerun.out 2>&1
check "rerunning a finished campaign is a no-op that exits 0" [ $? -eq 0 ]
check "... and runs nothing" grep -q "this run: 0 committed" rerun.out

# a changed spec: an axis value added and a setting changed
sed -e 's/m: \[2, 4\]/m: [2, 4, 8]/' -e 's/steps: 20/steps: 30/' a.yaml >b.yaml
sum1=$(md5sum <a.h5)
timeout 60 "$S" run b.yaml -o a.h5 >b.out 2>&1
check "a changed spec is refused with exit 2" [ $? -eq 2 ]
check "the refusal lists what changed" grep -qi "differ\|changed\|added" b.out
cat b.out
check "the refused file is untouched" [ "$(md5sum <a.h5)" = "$sum1" ]

# a second writer: a lock held by a live process on this host (this shell)
start=$(sed 's/.*) //' /proc/$$/stat | cut -d' ' -f20)
echo "$(hostname) $$ $start" >a.h5.lock
timeout 60 "$S" run a.yaml -o a.h5 >lock.out 2>&1
check "a second writer is refused with exit 2" [ $? -eq 2 ]
check "the refusal names the holder" grep -q "pid $$" lock.out
check "the holder's lock file is left alone" grep -q "$$" a.h5.lock
# a stale lock: a process of this host that is gone
sleep 0 & dead=$!
wait $dead
echo "$(hostname) $dead 12345" >a.h5.lock
timeout 60 "$S" run a.yaml -o a.h5 -q >stale.out 2>&1
check "a stale lock of a dead process is taken over" [ $? -eq 0 ]
check "... with a message" grep -q "stale lock" stale.out
check "... and released at the end" [ ! -e a.h5.lock ]
# a lock from another host: refused, with the rule
echo "some-other-host 4242 1" >a.h5.lock
timeout 60 "$S" run a.yaml -o a.h5 >other.out 2>&1
check "a lock held on another host is refused" [ $? -eq 2 ]
check "... telling the user when to remove it" grep -q "remove the lock file" other.out
# ... unless it is an earlier attempt of the same Slurm job (a requeue)
echo "some-other-host 4242 1 77.0" >a.h5.lock
SLURM_JOB_ID=77 SLURM_RESTART_COUNT=0 timeout 60 "$S" run a.yaml -o a.h5 >slurm0.out 2>&1
check "the same Slurm attempt on another host is refused" [ $? -eq 2 ]
SLURM_JOB_ID=77 SLURM_RESTART_COUNT=1 timeout 60 "$S" run a.yaml -o a.h5 -q >slurm1.out 2>&1
check "the lock of an earlier attempt of the same Slurm job is taken over" [ $? -eq 0 ]
check "... with a message" grep -q "earlier attempt" slurm1.out
echo "some-other-host 4242 1 78.0" >a.h5.lock
SLURM_JOB_ID=77 SLURM_RESTART_COUNT=1 timeout 60 "$S" run a.yaml -o a.h5 >slurm2.out 2>&1
check "a lock of another Slurm job on another host is refused" [ $? -eq 2 ]
rm -f a.h5.lock

# files that are not campaigns
echo "not hdf5" >text.h5
cp text.h5 text.orig
timeout 60 "$S" run a.yaml -o text.h5 >text.out 2>&1
check "a non-HDF5 file is refused with exit 2" [ $? -eq 2 ]
check "... with a clear message" grep -q "not an HDF5 file" text.out
check "... and left untouched" cmp -s text.h5 text.orig
$PY -c "import h5py; h5py.File('plain.h5', 'w')['x'] = [1, 2, 3]"
cp plain.h5 plain.orig
timeout 60 "$S" run a.yaml -o plain.h5 >plain.out 2>&1
check "an HDF5 file that is not a campaign is refused" [ $? -eq 2 ]
check "... saying so" grep -q "not a supersweep campaign" plain.out
check "... and left untouched" cmp -s plain.h5 plain.orig
cp a.h5 t.h5
truncate -s $(($(stat -c %s a.h5) / 2)) t.h5
cp t.h5 t.orig
timeout 60 "$S" run a.yaml -o t.h5 >t.out 2>&1
check "a truncated campaign is refused" [ $? -eq 2 ]
check "... as truncated or damaged" grep -q "truncated or damaged" t.out
check "... and left untouched" cmp -s t.h5 t.orig
"$S" status t.h5 >/dev/null 2>&1
check "status refuses it too (exit 2)" [ $? -eq 2 ]
# damage the superblock signature region of a copy
cp a.h5 c.h5
printf 'XXXXXXXX' | dd of=c.h5 bs=1 seek=0 conv=notrunc 2>/dev/null
cp c.h5 c.orig
timeout 60 "$S" run a.yaml -o c.h5 >c.out 2>&1
check "a damaged campaign is refused" [ $? -eq 2 ]
check "... and left untouched" cmp -s c.h5 c.orig

# usage
"$S" run a.yaml >/dev/null 2>&1
check "missing -o is a usage error (2)" [ $? -eq 2 ]
"$S" run a.yaml -o x.h5 --progress nope >/dev/null 2>&1
check "a bad --progress is a usage error (2)" [ $? -eq 2 ]
check "... and nothing was written" [ ! -e x.h5 ]
printf 'name: broken\ngrid: {m: [1, 2\n' >broken.yaml
"$S" run broken.yaml -o y.h5 >broken.out 2>&1
check "a bad spec exits 2" [ $? -eq 2 ]
check "... naming file, line and column" grep -q "broken.yaml:[0-9]*:[0-9]*" broken.out
check "... and writes nothing" [ ! -e y.h5 ] && [ ! -e y.h5.lock ]
check "the campaign still verifies" sh -c "'$S' verify a.h5 >/dev/null"
verdict
