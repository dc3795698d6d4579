/* engine.h - one job's training state and its threaded optimiser step.
 *
 * A step takes one of two paths, chosen from the batch and the sign of b:
 * the block path described here (model.h), or, when the batch has few
 * distinct active features for the density of g that b predicts, the Gram
 * path (gram.h), cheaper by ≈ B/D; both give the gradient of the same
 * objective (they differ in the order of float sums).
 *
 * An engine owns the parameters (W, b), the Adam moments, the sampler and
 * every scratch buffer of a job, carved from one allocation at creation:
 * nothing allocates after engine_create.  A step draws the batch (B samples,
 * cut into C fixed chunks of rows: C = 1 with one thread, 2·threads
 * otherwise; threads claim chunks dynamically and process each in blocks of
 * `block_rows` samples into the chunk's own gradient accumulator), then
 * reduces the accumulators in chunk order and applies the decay and Adam
 * update, ranges of rows of W claimed by the threads.  For a fixed thread
 * count the result is a pure function of (seed, job, step), whichever thread
 * did what; another thread count changes only the order of float sums.
 *
 * OpenBLAS is used single-threaded from each engine thread: engine_create
 * calls openblas_set_num_threads(1) (a process-wide setting).  One engine at
 * a time per process.
 */
#ifndef SUPERSWEEP_ENGINE_H
#define SUPERSWEEP_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "supersweep/sampler.h"
#include "supersweep/spec.h"

struct engine;

/* Tuning knobs (tests, benchmarks); zero = defaults. */
struct engine_opts {
	int64_t block_rows; /* samples per block (default 128; 256 when n·m > 2^20) */
	double sparse_max;  /* largest density of g (z > 0) for which a block takes gW and
	                     * gᵀh over the non-zeros of g (default 0.1; < 0: never;
	                     * 1: always) */
	int gram;	    /* the Gram path (gram.h): 0 = when it pays (default), < 0 =
	                     * never, > 0 = for every batch that fits its buffers,
	                     * 2 = and always with its sparse step (tests) */
	int64_t parts;	    /* parts of the features in the Gram path's sparse step
	                     * (default, 0: one per thread); its bits depend on the
	                     * parts, not on the threads (tests) */
};

/* The job's state, borrowed from the engine. */
struct engine_params {
	float *W, *b;	/* (n, m), (n) */
	float *mW, *vW; /* (n, m) Adam moments */
	float *mb, *vb; /* (n) */
};

/* engine_create - an engine for JOB (borrowed; must outlive the engine) and
 * campaign seed SEED, using job->threads threads.  Parameters start
 * initialised (engine_init).  OPTS may be NULL.  Returns 0 and sets *OUT, or
 * ERR_INVAL (bad job) / ERR_NOMEM / ERR_RANGE (sizes beyond BLAS's int) with a
 * message in ERR (SPEC_ERR_LEN bytes). */
int engine_create(const struct job_point *job, uint64_t seed, const struct engine_opts *opts,
		  struct engine **out, char *err);

/* engine_destroy - stop the threads, free everything, set *E NULL; NULL-safe. */
void engine_destroy(struct engine **e);

/* engine_init - W ~ N(0,1)/√m, b ~ N(0,1) from their own random streams;
 * Adam moments zero. */
void engine_init(struct engine *e);

/* engine_step - optimiser step STEP (0-based): the batch of STEP, gradient,
 * decay and Adam with the scheduled learning rates.  *LOSS gets the step's
 * loss L (mean over samples of Σ_features (y - x)², before the update).
 * Returns 0, or ERR_DIVERGED when the loss or the updated parameters are not
 * finite. */
int engine_step(struct engine *e, int64_t step, double *loss);

/* engine_gradient - the gradient of the objective (mean over B·n entries) at
 * the current parameters for the batch of STEP, reduced over threads into DW
 * (n, m) and DB (n); returns the loss L.  No update.  For tests. */
double engine_gradient(struct engine *e, int64_t step, float *dW, float *db);

/* engine_eval - mean loss L over NSAMPLES fresh evaluation samples (their
 * own random stream); NaN when NSAMPLES is 0. */
double engine_eval(struct engine *e, int64_t nsamples);

/* engine_params / engine_sampler - borrowed views. */
struct engine_params engine_params(struct engine *e);
const struct sampler *engine_sampler(const struct engine *e);

/* engine_last_path - "block", "gram" or "gram-sparse" (its sparse
 * backward): the path the last step or gradient took (model.h; gram.h). */
const char *engine_last_path(const struct engine *e);

/* engine_bytes - bytes of the engine's working block (parameters, moments,
 * accumulators and scratch of every thread). */
size_t engine_bytes(const struct engine *e);

/* engine_job_bytes - what engine_bytes would be for an engine of JOB with
 * OPTS (NULL: defaults), without allocating it: the Gram path's choice and
 * every thread's scratch included.  Returns 0, or engine_create's errors. */
int engine_job_bytes(const struct job_point *job, const struct engine_opts *opts, size_t *bytes,
		     char *err);

#endif
