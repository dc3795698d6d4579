/* sampler.h - feature frequencies, counter-based random numbers and the
 * sparse data sampler of one job.
 *
 * Data (PAPER.md): x_i = u_i·v_i with u_i ~ Bernoulli(p_i), v_i ~ U(0, 2).
 * The sampler draws only the active features of a sample (≈ E of them), by
 * geometric skipping inside blocks of features whose p lies within a factor
 * of 2 of the block's largest p, then thinning by p_i / p_max: exact, and
 * about (number of blocks + 3E) uniforms per sample instead of 2n.
 *
 * Randomness is Random123's Philox4x32-10, keyed by a mix of the campaign
 * seed and the job key; the counter is (purpose, step, row, draw index).
 * So the x of a given (step, row) is a pure function of (seed, key), whatever
 * thread or rank draws it.  This module knows nothing of training.
 */
#ifndef SUPERSWEEP_SAMPLER_H
#define SUPERSWEEP_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "supersweep/spec.h"

/* What a random stream is for: part of the counter, so that the data, the
 * initialisation and the evaluation samples never share numbers. */
enum sampler_purpose {
	SAMPLER_DATA = 1,   /* training batches: step = optimiser step */
	SAMPLER_INIT_W = 2, /* W init: row = feature i, draws along j */
	SAMPLER_INIT_B = 3, /* b init: row = 0, draws along i */
	SAMPLER_EVAL = 4,   /* evaluation samples: step = eval batch index */
};

/* One group of features in descending-p order with p in (pmax/2, pmax]. */
struct sampler_block {
	int64_t lo, hi; /* positions [lo, hi) in sampler.order */
	double pmax;	/* largest p in the block (that of position lo) */
	double log1mq;	/* log1p(-pmax); unused when pmax >= 1 */
	double pnone;	/* (1 - pmax)^(hi - lo): chance that the block has no candidate */
};

struct sampler {
	int64_t n;	 /* number of features */
	double *p;	 /* (n) frequencies p_i (owned) */
	int32_t *order;	 /* (n) feature indices by p descending, ties by index (owned) */
	int64_t nblocks; /* blocks of features with p > 0 */
	struct sampler_block *blocks; /* (nblocks) (owned) */
	double density;		      /* Σ p_i after normalisation and the density rule */
	uint32_t key[2];	      /* Philox key from (campaign seed, job key) */
};

/* sampler_create - frequencies of JOB (borrowed) and its sampler for campaign
 * seed SEED.  Returns 0 and sets *OUT (given; sampler_destroy), or ERR_INVAL
 * with a message in ERR (SPEC_ERR_LEN bytes) when the job's frequencies are
 * impossible (some p_i > 1, n < 1, bad shape parameter), or ERR_NOMEM. */
int sampler_create(const struct job_point *job, uint64_t seed, struct sampler **out, char *err);

/* sampler_bytes - the memory a sampler of N features holds, in bytes. */
size_t sampler_bytes(int64_t n);

/* sampler_destroy - free *S and set it NULL; accepts NULL and *S == NULL. */
void sampler_destroy(struct sampler **s);

/* sampler_row - draw sample ROW of STEP for PURPOSE.  Writes its active
 * features into IDX and their values v into VAL (room for n entries each)
 * and returns their number (0..n).  Pure function of its arguments. */
int64_t sampler_row(const struct sampler *s, enum sampler_purpose purpose, uint64_t step,
		    uint64_t row, int32_t *idx, float *val);

/* sampler_normals - COUNT standard normal draws (Box-Muller, one per Philox
 * call) of stream (PURPOSE, ROW) times SCALE, as float into OUT. */
void sampler_normals(const struct sampler *s, enum sampler_purpose purpose, uint64_t row,
		     int64_t count, double scale, float *out);

/* sampler_uniform - the I-th uniform in (0, 1) of stream (PURPOSE, STEP, ROW),
 * as the sampler itself draws them (53-bit, never 0 or 1).  For tests. */
double sampler_uniform(const struct sampler *s, enum sampler_purpose purpose, uint64_t step,
		       uint64_t row, uint64_t i);

/* sampler_key - the Philox key words of (campaign SEED, job KEY). */
void sampler_key(uint64_t seed, uint64_t key, uint32_t out[2]);

#endif
