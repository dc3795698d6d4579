"""tests/slurm/lib/compare.py - are two campaign files' results byte-equal?

usage: compare.py REFERENCE.h5 OTHER.h5

Compares, byte for byte, every dataset of the two files except the ones
that describe the execution rather than the result (which rank and host ran
a job, how often it was attempted, how long it took).  Every job must be
committed (status done) in both.  Prints one line per differing dataset and
a verdict; exit 0 when equal, 1 when not.
"""
import sys

import h5py
import numpy as np

# Execution records: they legitimately differ between an uninterrupted run
# and one that drained, requeued and resumed.
EXECUTION = {"jobs/attempt", "jobs/rank", "jobs/host", "metrics/wall_s",
             "jobs/checksum",  # the payload checksum covers wall_s too
             "run"}  # the record of the latest run (hosts, times)


def datasets(f):
    out = {}
    f.visititems(lambda name, obj: out.__setitem__(name, obj) if isinstance(obj, h5py.Dataset) else None)
    return out


def main(ref_path, got_path):
    ref = h5py.File(ref_path, "r", locking=False)
    got = h5py.File(got_path, "r", locking=False)
    a, b = datasets(ref), datasets(got)
    bad = 0
    if set(a) != set(b):
        print("datasets differ: only in reference %s, only in other %s"
              % (sorted(set(a) - set(b)), sorted(set(b) - set(a))))
        bad += 1
    for name in ("jobs/status",):
        for path, d in ((ref_path, a), (got_path, b)):
            st = d[name][()]
            if not np.all(st == 1):
                print("%s: %d of %d jobs not done" % (path, int(np.sum(st != 1)), st.size))
                bad += 1
    compared = 0
    for name in sorted(set(a) & set(b)):
        if name in EXECUTION:
            continue
        x, y = a[name][()], b[name][()]
        compared += 1
        if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
            print("DIFFERS: %s" % name)
            bad += 1
    print("%d datasets compared byte for byte (%d rows; execution records %s skipped): %s"
          % (compared, a["jobs/key"].shape[0], ", ".join(sorted(EXECUTION)),
             "equal" if bad == 0 else "%d differences" % bad))
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
