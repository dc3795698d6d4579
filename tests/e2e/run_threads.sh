#!/bin/bash
# run_threads.sh - `run --threads N` and SUPERSWEEP_THREADS set the threads of
# every job (the Slurm batch script sets it to --cpus-per-task): a run with
# --threads 2 of a spec that says threads: 1 gives the same bytes as a run of
# the same spec with threads: 2, and bad values are refused with exit 2.
. "$(dirname "$0")/../support/campaign_lib.sh"
require_modules
cd "$WORK" || exit 1
S=$SUPERSWEEP
spec() { # name threads
	cat >"$1.yaml" <<YAML
name: threads
seed: 3
model: {n: 300, alpha: 1.0, E: 1, dist: power}
train: {batch: 512, steps: 200, lr: 2e-2, warmup: 20, log_every: 50, threads: $2}
grid:
  m: [12]
  gamma: [-1, 0.5]
YAML
}
spec t1 1
spec t2 2
metrics() { # campaign -> the result columns as text
	$PY -c "
import h5py, sys
f = h5py.File(sys.argv[1], 'r', locking=False)
for k in ('final_loss', 'eval_loss', 'overlap_all'):
    print(k, f['metrics/' + k][()].tobytes().hex())
print('curve', f['curves/loss'][()].tobytes().hex())" "$1"
}
timeout 120 "$S" run t1.yaml -o one.h5 -q >one.out 2>&1
check "threads: 1 runs" [ $? -eq 0 ]
timeout 120 "$S" run t2.yaml -o two.h5 -q >two.out 2>&1
check "threads: 2 runs" [ $? -eq 0 ]
timeout 120 "$S" run t1.yaml -o opt.h5 -q --threads 2 >opt.out 2>&1
check "threads: 1 with --threads 2 runs" [ $? -eq 0 ]
SUPERSWEEP_THREADS=2 timeout 120 "$S" run t1.yaml -o env.h5 -q >env.out 2>&1
check "threads: 1 with SUPERSWEEP_THREADS=2 runs" [ $? -eq 0 ]
metrics one.h5 >one.txt
metrics two.h5 >two.txt
metrics opt.h5 >opt.txt
metrics env.h5 >env.txt
differ() { ! cmp -s "$1" "$2"; }
check "control: 1 and 2 threads differ in the last bits here" differ one.txt two.txt
check "--threads 2 gives the bytes of threads: 2" cmp -s opt.txt two.txt
check "SUPERSWEEP_THREADS=2 gives the bytes of threads: 2" cmp -s env.txt two.txt
SUPERSWEEP_THREADS=1 timeout 120 "$S" run t1.yaml -o both.h5 -q --threads 2 >both.out 2>&1
metrics both.h5 >both.txt
check "--threads wins over SUPERSWEEP_THREADS" cmp -s both.txt two.txt
for bad in 0 -1 two 2x 99999; do
	timeout 60 "$S" run t1.yaml -o bad.h5 --threads "$bad" >bad.out 2>&1
	check "--threads $bad is refused with exit 2" [ $? -eq 2 ]
	check "... naming the value" grep -q -- "--threads $bad: expected a whole number" bad.out
done
SUPERSWEEP_THREADS=abc timeout 60 "$S" run t1.yaml -o bad.h5 >bad.out 2>&1
check "SUPERSWEEP_THREADS=abc is refused with exit 2" [ $? -eq 2 ]
check "... naming the variable" grep -q "SUPERSWEEP_THREADS=abc: expected a whole number" bad.out
check "... and nothing is written" [ ! -e bad.h5 ]
verdict
