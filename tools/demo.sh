#!/bin/sh
# tools/demo.sh - the demo campaign (make demo): run SPEC with mpirun -np 2
# into build/demo/CAMPAIGN.h5 (a fresh file each time), then print a short
# results table from the campaign file.
set -eu
spec=${1:-sweeps/demo.yaml}
: "${SUPERSWEEP:?SUPERSWEEP must name the binary}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1 HDF5_USE_FILE_LOCKING=FALSE
: "${OMPI_MCA_btl:=self,vader}"
export OMPI_MCA_btl
out=build/demo
name=$(basename "$spec" .yaml)
campaign=$out/$name.h5
mkdir -p "$out"
rm -rf "$campaign" "$campaign.ckpt" "$campaign.lock"
"$SUPERSWEEP" plan "$spec"
echo
t0=$(date +%s.%N)
mpirun --timeout 600 -np 2 "$SUPERSWEEP" run "$spec" -o "$campaign"
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "wall time of mpirun -np 2: %.2f s\n", b - a }'
echo
"$SUPERSWEEP" export "$campaign" -o "$out/$name.csv"
# a short table: the parameters that vary, status and the main metrics
awk -F, '
NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
{ rows[NR] = $0 }
END {
	printf "%-4s %6s %6s %7s %7s %-7s %10s %10s %8s\n", "row", "n", "m", "alpha", "gamma", "status", "final_loss", "eval_loss", "phi_half"
	for (r = 2; r <= NR; r++) {
		split(rows[r], v, ",")
		printf "%-4s %6s %6s %7.3g %7.3g %-7s %10.4g %10.4g %8.3g\n", v[col["row"]], v[col["n"]], v[col["m"]], v[col["alpha"]], v[col["gamma"]], v[col["status"]], v[col["final_loss"]], v[col["eval_loss"]], v[col["phi_half"]]
	}
}' "$out/$name.csv"
echo
echo "campaign file: $campaign (supersweep status|export|verify $campaign)"
