#!/bin/bash
# run_ranks.sh - one campaign at P = 1 (no mpirun), P = 2 and P = 4
# (oversubscribed): byte-identical result columns; the file is readable by
# h5dump and h5py; status, export and verify agree; a diverging job is
# recorded as failed and the campaign goes on; verify finds a damaged byte;
# ranks on different OpenBLAS kernels are warned about and recorded.
. "$(dirname "$0")/../support/campaign_lib.sh"
require_modules
cd "$WORK" || exit 1
cat >small.yaml <<'YAML'
name: small
seed: 3
model: {n: 64, alpha: 1.1, E: 1, dist: power}
train: {batch: 64, steps: 60, warmup: 5, log_every: 10, eval_samples: 256, threads: 1}
grid:
  m: [3, 6, 12]
  gamma: [-1, 0.5]
  save_weights: [false, true]
  lr: [1e-2, 1e30]
YAML

timeout 60 "$SUPERSWEEP" run small.yaml -o p1.h5 -q >p1.out 2>&1
check "P = 1 without mpirun exits 0" [ $? -eq 0 ]
run_np 2 small.yaml -o p2.h5 -q >p2.out 2>&1
check "P = 2 exits 0" [ "$rc" -eq 0 ]
run_np 4 small.yaml -o p4.h5 -q >p4.out 2>&1
check "P = 4 (oversubscribed) exits 0" [ "$rc" -eq 0 ]
check "summary counts 12 done and 12 failed" grep -q "24 jobs: 12 done, 12 failed, 0 pending" p4.out
check "P = 1 and P = 4 give identical result columns" $COMPARE p1.h5 p4.h5
check "P = 2 and P = 4 give identical result columns" $COMPARE p2.h5 p4.h5
check "P = 4 used every rank" $PY -c "
import h5py, sys
r = set(h5py.File('p4.h5', 'r', locking=False)['jobs/rank'][()])
sys.exit(0 if r == {0, 1, 2, 3} else 1)"
check "h5dump reads it" sh -c "h5dump -d /metrics/final_loss p4.h5 >/dev/null"

# ranks on different OpenBLAS kernels (nodes of different CPU models): the
# run warns, goes on, and records every rank's kernels
mpirun --timeout 120 -np 1 -x OPENBLAS_CORETYPE=Core2 "$SUPERSWEEP" run small.yaml -o mix.h5 -q : \
	-np 2 -x OPENBLAS_CORETYPE=Nehalem "$SUPERSWEEP" run small.yaml -o mix.h5 -q >mix.out 2>&1
rc=$?
check "ranks on mixed kernels: exit 0, every job run" \
	sh -c "[ $rc -eq 0 ] && grep -q '24 jobs: 12 done, 12 failed, 0 pending' mix.out"
check "... with a warning naming both kernels and a rank" \
	grep -q "warning: rank 0 runs OpenBLAS's Core2 kernels, rank 1 its Nehalem kernels" mix.out
check "... and /run records both" $PY -c "
import h5py, sys
v = h5py.File('mix.h5', 'r', locking=False)['run']['version'][0]
sys.exit(0 if v.endswith(b', OpenBLAS Core2,Nehalem') else 1)"
check "one kernel on every rank: no warning" sh -c '! grep -q "warning" p4.out'
mpirun --timeout 120 -np 1 -x OPENBLAS_CORETYPE=Core2 "$SUPERSWEEP" run small.yaml -o dmix.h5 -q \
	--dispatch-only : -np 2 -x OPENBLAS_CORETYPE=Nehalem "$SUPERSWEEP" run small.yaml -o dmix.h5 \
	-q --dispatch-only >dmix.out 2>&1
rc=$?
check "other kernels on a rank 0 that only dispatches: no warning" \
	sh -c "[ $rc -eq 0 ] && grep -q '12 done, 12 failed, 0 pending' dmix.out && ! grep -q warning dmix.out"
check "diverged jobs are failed with their reason" $PY -c "
import h5py, numpy as np, sys
f = h5py.File('p4.h5', 'r', locking=False)
st, lr, err = f['jobs/status'][()], f['jobs/lr_w'][()], f['jobs/error'][()]
ok = all((s == 2) == (l > 1) for s, l in zip(st, lr))
ok = ok and all(e.startswith(b'diverged') for e, l in zip(err, lr) if l > 1)
ok = ok and all(np.isfinite(f['metrics/final_loss'][()][lr < 1]))
sys.exit(0 if ok else 1)"
check "weights are saved where asked" $PY -c "
import h5py, numpy as np, sys
f = h5py.File('p4.h5', 'r', locking=False)
sw, off, st = f['jobs/save_weights'][()], f['weights/W_offset'][()], f['jobs/status'][()]
n, m = f['jobs/n'][()], f['jobs/m'][()]
W = f['weights/W']
ok = all((o >= 0) == bool(s) for o, s in zip(off, sw))
ok = ok and all(np.all(np.isfinite(W[o:o + n[i] * m[i]])) for i, o in enumerate(off) if o >= 0 and st[i] == 1)
sys.exit(0 if ok else 1)"

"$SUPERSWEEP" status p4.h5 >status.out 2>&1
check "status exits 0" [ $? -eq 0 ]
check "status counts and lists failures" sh -c "grep -q 'done 12, failed 12, pending 0' status.out && grep -q 'diverged' status.out"
"$SUPERSWEEP" export p4.h5 -o p4.csv
check "export exits 0" [ $? -eq 0 ]
check "export has a header and 24 rows, pandas-style" $PY -c "
import csv, sys
rows = list(csv.DictReader(open('p4.csv')))
ok = len(rows) == 24 and sum(r['status'] == 'done' for r in rows) == 12
ok = ok and all(r['error'].startswith('diverged') for r in rows if r['status'] == 'failed')
ok = ok and {'m', 'gamma', 'final_loss', 'key'} <= set(rows[0])
sys.exit(0 if ok else 1)"
"$SUPERSWEEP" export p4.h5 | cmp -s - p4.csv
check "export to stdout equals export to a file" [ $? -eq 0 ]
"$SUPERSWEEP" verify p4.h5 >verify.out
check "verify passes on an intact file" [ $? -eq 0 ]
# damage one committed value in place
$PY -c "
import h5py
f = h5py.File('p4.h5', 'r+', locking=False)
st = f['jobs/status'][()]
row = int([i for i, s in enumerate(st) if s == 1][0])
f['metrics/eval_loss'][row] = 123.0
"
"$SUPERSWEEP" verify p4.h5 >verify2.out
check "verify fails on a damaged payload" [ $? -eq 1 ]
check "verify names the damaged row" grep -q "checksum mismatch" verify2.out
verdict
