"""campaign_compare.py - compare the result columns of two campaign files.

usage: campaign_compare.py A.h5 B.h5     exit 0 when equal, 1 when not
       campaign_compare.py --check A.h5  every job done exactly once (attempt >= 1)

Result columns: /jobs/<param>, /jobs/key, /jobs/status, /jobs/error, every
/metrics/* except wall_s (a time), /curves/loss, /weights/*.  They must be
byte-identical (NaN == NaN).  Provenance and per-attempt columns (attempt,
rank, host, checksum -- which covers wall_s -- and /run, the record of the
latest run) may differ.  Prints how many
jobs ran more than once (attempt > 1) as "reruns N".
"""
import sys

import h5py
import numpy as np

SKIP = {"/metrics/wall_s", "/jobs/attempt", "/jobs/rank", "/jobs/host", "/jobs/checksum", "/run"}


def columns(f):
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and "/" + name not in SKIP:
            out["/" + name] = obj[()]

    f.visititems(visit)
    return out


def same(a, b):
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return a.tobytes() == b.tobytes()


def main():
    if sys.argv[1] == "--check":
        with h5py.File(sys.argv[2], "r", locking=False) as f:
            status = f["jobs/status"][()]
            attempt = f["jobs/attempt"][()]
            bad = int(np.sum(status != 1))
            print("jobs %d, not done %d, reruns %d, max attempt %d"
                  % (len(status), bad, int(np.sum(np.maximum(attempt - 1, 0))),
                     int(attempt.max())))
            return 1 if bad or attempt.min() < 1 else 0
    with h5py.File(sys.argv[1], "r", locking=False) as fa, \
            h5py.File(sys.argv[2], "r", locking=False) as fb:
        a, b = columns(fa), columns(fb)
    if sorted(a) != sorted(b):
        print("different datasets:", sorted(set(a) ^ set(b)))
        return 1
    diff = [k for k in sorted(a) if not same(a[k], b[k])]
    for k in diff:
        print("differs:", k)
    print("compared %d result columns: %s" % (len(a), "equal" if not diff else "DIFFERENT"))
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
