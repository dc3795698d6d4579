/* train.h - run one training job to its end or to a stop request.
 *
 * The trainer takes a resolved job point (spec.h) and the campaign seed and
 * trains the paper's toy model (PAPER.md) on `threads` cores.  All randomness
 * is a pure function of (campaign seed, job key, step, sample row), so a job
 * gives the same bytes on any rank, in any order and after any resume (for a
 * fixed thread count).  It knows nothing of MPI, HDF5 or YAML.
 *
 * Checkpoints: when a checkpoint path is given, train_run resumes from it if
 * the file exists and is valid (a damaged one is reported in the result's
 * `warning` and training restarts from step 0), and writes it atomically
 * (write, fsync, rename) when it stops on request.  The caller removes it
 * after the result is committed (train_checkpoint_remove).
 */
#ifndef SUPERSWEEP_TRAIN_H
#define SUPERSWEEP_TRAIN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "supersweep/spec.h"

#define TRAIN_MSG_LEN 256

/* Scalar results of one job.  Every field is a double so that the metric
 * table below can describe them uniformly. */
struct train_metrics {
	double final_loss; /* mean of the last min(100, steps) step losses (L, sum over features) */
	double eval_loss;  /* L on eval_samples fresh samples (NaN when eval_samples = 0) */
	double phi_half;   /* fraction of rows with norm > 1/2 */
	double phi_one;	   /* fraction of rows with norm > 1 */
	double overlap_strong; /* mean squared overlap of normalised rows with norm > 1, i != j (NaN if < 2 rows) */
	double overlap_all; /* mean squared overlap of all normalised rows, i != j */
	double weak_pred;   /* <v^2> · Σ p_i over rows with norm <= 1/2 */
	double norm_min;    /* smallest row norm */
	double norm_median; /* median row norm */
	double norm_mean;   /* mean row norm */
	double norm_max;    /* largest row norm */
	double density;	    /* Σ p_i actually used (E after the density rule) */
	double steps_done;  /* optimiser steps completed */
	double wall_s;	    /* wall time of this attempt's training, seconds */
};

/* Metric table: name, unit and doc of every train_metrics field, in column
 * order of the campaign file. */
struct train_metric_info {
	const char *name; /* column name, e.g. "final_loss" */
	size_t offset;	  /* offsetof(struct train_metrics, field) */
	const char *unit; /* unit or "" */
	const char *doc;  /* one line */
};
extern const struct train_metric_info train_metric_table[];
extern const size_t train_nmetrics;

/* Everything a job reports. */
struct train_result {
	int status; /* 0 done, ERR_DIVERGED, ERR_STOPPED, ERR_INVAL, ERR_NOMEM, ERR_IO */
	char error[TRAIN_MSG_LEN]; /* reason when status != 0, e.g. "diverged at step 1234" */
	char warning
		[TRAIN_MSG_LEN]; /* e.g. "checkpoint damaged, restarted from step 0"; "" if none */
	struct train_metrics metrics;
	int64_t ncurve; /* spec_curve_len(job) */
	float *curve;	/* (ncurve) mean loss L over each log_every steps; NaN where not reached */
	float *W;	/* (n, m) row-major, only if job->save_weights, else NULL */
	float *b;	/* (n), only if job->save_weights, else NULL */
};

/* train_run - train JOB (borrowed) with campaign seed SEED.
 * CHECKPOINT: path of this job's checkpoint file, or NULL for none.
 * STOP: borrowed flag, checked at every step boundary; when it becomes
 * non-zero the job stops, writes its checkpoint (if CHECKPOINT) and returns
 * with status ERR_STOPPED.  May be NULL.
 * RES: filled in; its arrays are allocated here and given to the caller
 * (train_result_free).  Returns 0 when the job ran (whatever its status:
 * a diverged or stopped job is data, not an error) or a negative code when
 * the job could not be run at all (ERR_NOMEM, ERR_INVAL, ERR_RANGE), with
 * res->error set and no arrays.  A non-finite step loss or parameter ends
 * the job with status ERR_DIVERGED, error "diverged at step k (loss x)"
 * (k = 1-based step), the curve up to k and NaN W metrics.  A stop whose
 * checkpoint cannot be written gives status ERR_IO (or ERR_NOMEM).
 * What is computed, exactly: docs/MODEL.md.
 * Not thread-safe with respect to OpenBLAS's global thread count: one job at
 * a time per process. */
int train_run(const struct job_point *job, uint64_t seed, const char *checkpoint,
	      volatile sig_atomic_t *stop, struct train_result *res);

/* Options of train_run_opts (tests and benchmarks); zero = defaults. */
struct train_opts {
	int64_t stop_at_step; /* > 0: behave as if STOP were set once this many steps are
	                       * done in total (deterministic stop for tests) */
	int64_t block_rows;   /* samples per block of the step kernel (0 = default) */
	int gram;	      /* engine_opts.gram: the Gram path when it pays (0), never
	                       * (< 0), for every batch (> 0), with its sparse step
	                       * always (2) */
	int64_t parts;	      /* engine_opts.parts (0 = one per thread) */
};

/* train_run_opts - train_run with OPTS (borrowed, may be NULL). */
int train_run_opts(const struct job_point *job, uint64_t seed, const char *checkpoint,
		   volatile sig_atomic_t *stop, const struct train_opts *opts,
		   struct train_result *res);

/* train_peak_bytes - the memory train_run takes for JOB at most, in bytes:
 * the engine's block (engine_job_bytes, with the thread count and the Gram
 * path's buffers the job will have), the sampler, the loss history and
 * curve, the end-of-job metrics and, with save_weights, the copies of W and
 * b, and 16 KiB for the rest; not the process's code, libraries and their
 * buffers.  Returns 0 with *BYTES set, or ERR_INVAL / ERR_RANGE with a
 * message in ERR (SPEC_ERR_LEN bytes) for a job train_run would refuse. */
int train_peak_bytes(const struct job_point *job, double *bytes, char *err);

/* train_result_free - free RES's arrays and clear them; accepts NULL. */
void train_result_free(struct train_result *res);

/* train_checkpoint_remove - remove CHECKPOINT and the temporary file of an
 * interrupted save, if they exist.  Returns 0, ERR_IO or ERR_NOMEM. */
int train_checkpoint_remove(const char *checkpoint);

#endif
