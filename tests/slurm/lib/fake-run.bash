#!/bin/bash
# tests/slurm/lib/fake-run.bash - stands in for `supersweep run` to test the
# batch script's control flow (signal forwarding, waiting, requeue, cap).
#
# Behaviour per generation: word number $SLURM_RESTART_COUNT of $FAKE_PLAN
# (the last word repeats): "drain" waits (up to 60 s) for SIGUSR1 and then
# exits 3 (work left); "slowdrain" takes 20 s to drain after SIGUSR1 unless
# SIGTERM comes; "done" exits 0; "exit3" and "exit1" exit at once.
# The real program is tested by the other Slurm tests.
rank=${PMIX_RANK:-${OMPI_COMM_WORLD_RANK:-0}}
gen=${SLURM_RESTART_COUNT:-0}
read -r -a plan <<<"${FAKE_PLAN:-done}"
if [ "$gen" -lt "${#plan[@]}" ]; then
	what=${plan[$gen]}
else
	what=${plan[${#plan[@]} - 1]}
fi
echo "fake rank $rank generation $gen: $what (threads $SUPERSWEEP_THREADS; args $*)"
case $what in
drain)
	trap 'echo "fake rank $rank: SIGUSR1, draining"; exit 3' USR1
	trap 'echo "fake rank $rank: SIGTERM, draining"; exit 3' TERM
	echo "fake rank $rank: ready"
	for _ in $(seq 1 600); do
		sleep 0.1 &
		wait $!
	done
	echo "fake rank $rank: no signal came"
	exit 1
	;;
slowdrain)
	# USR1 starts a drain that takes 20 s; TERM ends it at once
	n=0 draining=0
	trap 'echo "fake rank $rank: SIGUSR1, draining slowly"; draining=1' USR1
	trap 'echo "fake rank $rank: SIGTERM during the drain"; exit 3' TERM
	echo "fake rank $rank: ready"
	for _ in $(seq 1 600); do
		sleep 0.1 &
		wait $!
		[ $draining -eq 0 ] || n=$((n + 1))
		[ $n -lt 200 ] || exit 3
	done
	exit 1
	;;
done)
	[ "$rank" != 0 ] || : >"$4" # the campaign file the script looks for
	exit 0
	;;
exit3) exit 3 ;;
exit1) exit 1 ;;
*)
	echo "fake: unknown plan word '$what'"
	exit 1
	;;
esac
