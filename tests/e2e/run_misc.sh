#!/bin/bash
# run_misc.sh - one rank without mpirun: --retry-failed reruns failed jobs;
# SIGTERM and SIGINT drain like SIGUSR1 (exit 3, then a rerun completes);
# a signal that arrives while the file is being created drains at once;
# plain progress lines in a log; status while a campaign runs; a note when
# another build, or the same on other OpenBLAS kernels, resumes a campaign.
. "$(dirname "$0")/../support/campaign_lib.sh"
require_modules
cd "$WORK" || exit 1
S=$SUPERSWEEP
cat >f.yaml <<'YAML'
name: retry
seed: 2
model: {n: 32, alpha: 1.0, E: 1, dist: power}
train: {batch: 32, steps: 20, warmup: 2, log_every: 5, threads: 1}
grid:
  m: [4]
  gamma: [0.5]
  lr: [1e-2, 1e30]
YAML
timeout 60 "$S" run f.yaml -o f.h5 -q >f1.out 2>&1
check "a campaign with a diverging job exits 0" [ $? -eq 0 ]
check "... counting the failure" grep -q "2 jobs: 1 done, 1 failed, 0 pending" f1.out
timeout 60 "$S" run f.yaml -o f.h5 -q >f2.out 2>&1
check "a plain rerun leaves failed jobs alone" grep -q "this run: 0 committed" f2.out
timeout 60 "$S" run f.yaml -o f.h5 -q --retry-failed >f3.out 2>&1
check "--retry-failed reruns the failed job" grep -q "this run: 1 committed" f3.out
check "... recorded as a second attempt, failed again with its reason" $PY -c "
import h5py, sys
f = h5py.File('f.h5', 'r', locking=False)
st, at, err = f['jobs/status'][()], f['jobs/attempt'][()], f['jobs/error'][()]
i = int(list(st).index(2))
sys.exit(0 if at[i] == 2 and err[i].startswith(b'diverged') and at[1 - i] == 1 else 1)"

# a resume by another build than the one that ran the campaign last says so
$PY -c "
import h5py
f = h5py.File('f.h5', 'r+', locking=False)
r = f['run'][()]
r['version'][0] = b'supersweep 0.0.0 (git 000000000000)'
f['run'][...] = r"
timeout 60 "$S" status f.h5 >f4s.out 2>&1
check "status names both builds" \
	grep -q "created by supersweep .*, last run by supersweep 0.0.0 (git 000000000000)" f4s.out
timeout 60 "$S" run f.yaml -o f.h5 -q >f4.out 2>&1
check "a resume by another build exits 0" [ $? -eq 0 ]
check "... with a note naming the build that ran it last" \
	grep -q "note: f.h5 was last run by supersweep 0.0.0 (git 000000000000)" f4.out
cat f4.out
timeout 60 "$S" run f.yaml -o f.h5 -q >f5.out 2>&1
check "the next resume by the same build has no such note" \
	sh -c '! grep -q "was last run by" f5.out'
timeout 60 "$S" status f.h5 >f5s.out 2>&1
check "... and status then names one build" grep -q "created and last run by supersweep" f5s.out
# ... and so does a resume on other OpenBLAS kernels (another CPU model)
OPENBLAS_CORETYPE=Core2 timeout 60 "$S" run f.yaml -o f.h5 -q >f6.out 2>&1
check "a resume on other OpenBLAS kernels exits 0" [ $? -eq 0 ]
check "... with a note naming the kernels of both runs" \
	grep -q "note: f.h5 was last run by supersweep .*, OpenBLAS .*, this is supersweep .*, OpenBLAS Core2: " f6.out
OPENBLAS_CORETYPE=Core2 timeout 60 "$S" status f.h5 >f6s.out 2>&1
check "... which status then names" grep -q "created and last run by supersweep .*, OpenBLAS Core2$" f6s.out
OPENBLAS_CORETYPE=Core2 timeout 60 "$S" run f.yaml -o f.h5 -q >f7.out 2>&1
check "the next resume on the same kernels has no such note" \
	sh -c '! grep -q "was last run by" f7.out'

# a spec text beyond HDF5's 64 KB compact-attribute limit is stored whole
cp f.yaml big.yaml
for i in $(seq 1 800); do
	echo "# a long comment line to make the spec text bigger than 64 KB ........................."
done >>big.yaml
timeout 60 "$S" run big.yaml -o big.h5 -q >big.out 2>&1
check "a spec of $(wc -c <big.yaml) bytes makes a campaign" [ $? -eq 0 ]
check "... whose stored spec text is the file's" $PY -c "
import h5py, sys
f = h5py.File('big.h5', 'r', locking=False)
sys.exit(0 if f.attrs['spec_text'] == open('big.yaml', 'rb').read() else 1)"

cat >l.yaml <<'YAML'
name: long
seed: 4
model: {n: 200, alpha: 1.2, E: 1, dist: power}
train: {batch: 128, steps: 4000, lr: 1e-2, warmup: 100, log_every: 50, threads: 1}
grid:
  m: [8, 16]
  gamma: [-1, 1]
  seed: [0, 1]
YAML
timeout 120 "$S" run l.yaml -o base.h5 -q >base.out 2>&1
check "the uninterrupted one-rank run completes" [ $? -eq 0 ]
for sig in TERM INT; do
	start_watched "$sig.out" run l.yaml -o l.h5 --progress 0.3
	wait_dispatch "$sig.out"
	sleep 0.3
	"$S" status l.h5 >"status-$sig.out" 2>&1
	kill -$sig $pid
	wait_watched
	check "SIG$sig drains with exit 3" [ $rc -eq 3 ]
	check "... saying so" grep -q "draining" "$sig.out"
done
check "status works while the campaign runs" grep -q "running: lock held by" status-TERM.out
check "... with an ETA" grep -q "ETA" status-TERM.out
check "plain progress lines go to the log" grep -q "^progress: [0-9]*/8 done" TERM.out
cp l.h5 before.h5
timeout 120 "$S" run l.yaml -o l.h5 -q >l.out 2>&1
check "the rerun completes" [ $? -eq 0 ]
# after creation a campaign's HDF5 metadata never changes: every byte a
# resumed run changed lies inside some dataset's raw data
check "a resumed run changes raw data only, never metadata" $PY -c "
import h5py, numpy as np, sys
a = np.fromfile('before.h5', np.uint8); b = np.fromfile('l.h5', np.uint8)
if a.size != b.size: sys.exit('file size changed')
diff = np.nonzero(a != b)[0]
ranges = []
f = h5py.File('l.h5', 'r', locking=False)
f.visititems(lambda n, o: ranges.append((o.id.get_offset(), o.id.get_storage_size()))
             if isinstance(o, h5py.Dataset) and o.id.get_offset() is not None else None)
inside = np.zeros(diff.size, bool)
for off, size in ranges:
    inside |= (diff >= off) & (diff < off + size)
print('changed bytes:', diff.size, 'outside raw data:', int((~inside).sum()))
sys.exit(0 if diff.size and inside.all() else 1)"
check "result columns equal the uninterrupted run's" $COMPARE l.h5 base.h5

# a signal during creation stays pending until the dispatch loop: drain
start_watched e.out run l.yaml -o e.h5
sleep 0.3
kill -USR1 $pid 2>/dev/null
wait_watched
echo "early signal: exit $rc"
# the signal may also arrive before the handlers exist (then it kills)
check "an early signal drains or ends the run, never hangs" [ $rc -eq 3 ] || [ $rc -eq 138 ] || [ $rc -eq 0 ]
verdict
