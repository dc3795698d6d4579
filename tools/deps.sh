#!/bin/sh
# tools/deps.sh - install the Debian packages supersweep needs (make deps).
#
# Checks what is already there (pkg-config modules and commands) and does
# nothing when everything is found, e.g. on a cluster where environment
# modules provide MPI, HDF5 and OpenBLAS.  As root it installs the missing
# packages with apt-get; otherwise it prints the exact command to run.
#
# usage: tools/deps.sh [core|test]
#   core  what building and running campaigns needs (make demo)
#   test  core + cmocka, Slurm, Python tools, fuzzing (make check, default)
# Only core and cmocka are required: without root, a missing optional
# package is reported and its tests are skipped instead.
set -u
group=${1:-test}
missing=""
optional=""
need_pc() { # pkg-config module, Debian package
	pkg-config --exists "$1" 2>/dev/null || missing="$missing $2"
}
need_cmd() { # command, Debian package
	command -v "$1" >/dev/null 2>&1 || missing="$missing $2"
}
need_file() { # file (a shell pattern), Debian package
	for f in $1; do
		[ -e "$f" ] && return
	done
	missing="$missing $2"
}
need_py() { # python module, Debian package
	for py in /usr/bin/python3 python3; do
		"$py" -c "import $1" >/dev/null 2>&1 && return
	done
	missing="$missing $2"
}

# build and run
need_cmd gcc build-essential
need_cmd make build-essential
need_cmd pkg-config pkg-config
need_pc hdf5-openmpi libhdf5-openmpi-dev
need_cmd mpirun openmpi-bin
need_pc ompi libopenmpi-dev
need_pc openblas libopenblas-dev
need_pc yaml-0.1 libyaml-dev
need_pc libxxhash libxxhash-dev
need_file /usr/include/Random123/philox.h librandom123-dev
need_cmd h5dump hdf5-tools
if [ "$group" != core ]; then
	need_pc cmocka libcmocka-dev
	required=$missing
	need_cmd slurmctld slurm-wlm
	need_cmd munged munge
	need_py h5py python3-h5py
	need_py numpy python3-numpy
	need_py matplotlib python3-matplotlib
	need_cmd clang-14 clang-14
	need_file '/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a' libclang-rt-14-dev
	need_cmd clang-format clang-format
	optional=${missing#"$required"}
	missing=$required
fi

if [ -z "$missing$optional" ]; then
	echo "deps: everything is installed"
	exit 0
fi
pkgs=$(printf '%s\n' $missing $optional | sort -u | tr '\n' ' ')
cmd="apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends $pkgs"
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: missing: $pkgs"
	echo "deps: as root run:  apt-get update && $cmd"
	if [ -z "$missing" ]; then
		echo "deps: only optional packages are missing; their tests will be skipped"
		exit 0
	fi
	echo "deps: (on a cluster, load the site's modules for MPI, HDF5 (parallel) and OpenBLAS instead)"
	exit 1
fi
echo "deps: installing $pkgs"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && $cmd
