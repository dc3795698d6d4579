/* sched.h - run a campaign: rank-0 dispatch, worker ranks, drain, progress.
 *
 * Rank 0 hands out rows of the campaign (spec->jobs[i] is row i) to ranks
 * that ask, longest predicted job first (the spec's order), and commits each
 * finished job in the store.  Control messages do not travel over MPI: rank 0
 * listens on a TCP socket, broadcasts its address once, and every worker
 * connects; rank 0 and the workers then wait in ppoll(2), which blocks in the
 * kernel (Open MPI's blocking receives would spin a core).  MPI is used only
 * for the collective steps: setting up the channel and agreeing at the end.
 *
 * Every rank, rank 0 included, trains in a separate thread (one job at a
 * time; the trainer uses the job's `threads` cores); its main thread is the event loop and
 * the only thread that calls HDF5 or MPI (MPI_THREAD_FUNNELED suffices).
 *
 * Drain: the stop signals (SIGUSR1, SIGTERM, SIGINT) must be blocked in every
 * thread (main.c blocks them before MPI_Init so that MPI's threads inherit
 * the mask); sched_run unblocks them only inside ppoll, so a signal always
 * interrupts the wait.  A signal on any rank drains the whole campaign: rank
 * 0 stops dispatching and tells every worker to stop its job at the next step
 * boundary (the trainer checkpoints it); finished jobs are committed.
 */
#ifndef SUPERSWEEP_SCHED_H
#define SUPERSWEEP_SCHED_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <mpi.h>

#include "supersweep/spec.h"
#include "supersweep/store.h"

#define SCHED_ERR_LEN 1024

struct sched_opts {
	const char *campaign; /* campaign file path: checkpoints go to CAMPAIGN.ckpt/ */
	bool retry_failed;    /* dispatch failed rows again */
	double progress_s;    /* seconds between progress lines (<= 0: 1 on a terminal, 30 else) */
	bool dispatch_only;   /* rank 0 trains nothing itself (needs >= 2 ranks) */
	bool quiet;	      /* no progress lines */
	int64_t threads;      /* threads of every job in this run; 0: each job's own */
};

/* What a run did (identical on every rank after sched_run). */
struct sched_summary {
	int64_t njobs;		 /* rows of the campaign */
	int64_t done;		 /* rows done now (all runs) */
	int64_t failed;		 /* rows failed now */
	int64_t pending;	 /* rows still pending (interrupted or never started) */
	int64_t ran;		 /* jobs committed by this run (done or failed) */
	int64_t stopped;	 /* jobs stopped by the drain (checkpointed) */
	int64_t dropped;	 /* late duplicate results dropped */
	bool drained;		 /* a stop signal or drain request was seen */
	double wall_s;		 /* wall time of the dispatch loop */
	double rank0_cpu_s;	 /* CPU time of rank 0's event-loop thread during the loop */
	double rank0_proc_cpu_s; /* CPU time of rank 0's whole process during the loop
	                          * (its training thread and MPI's threads included) */
	double busy_frac;	 /* Σ training wall time / (training slots × wall_s) */
};

/* sched_run - run the campaign's remaining jobs.  Collective on COMM; SPEC
 * and ST are borrowed (ST opened collectively on the same ranks), STOP is
 * main.c's flag (set by the signal handlers).  Returns 0 when the loop ended
 * normally (also after a drain; see SUM), or a negative code: agreed by all
 * ranks when the failure happened in a collective step (message in ERR on
 * rank 0), or -- when a rank lost its control connection in mid-run -- not
 * agreed, in which case the caller must not make further collective calls
 * (main.c aborts). *LOCAL_ONLY is set true in that second case. */
int sched_run(const struct spec *spec, struct store *st, const struct sched_opts *opts,
	      MPI_Comm comm, volatile sig_atomic_t *stop, struct sched_summary *sum,
	      bool *local_only, char *err);

/* sched_checkpoint_path - CAMPAIGN.ckpt/<key as 16 hex digits>.ckpt into BUF
 * (LEN bytes).  Returns 0 or ERR_RANGE. */
int sched_checkpoint_path(char *buf, size_t len, const char *campaign, uint64_t key);

#endif
