/* spec.h - campaign specs: YAML -> validated spec -> ordered job points.
 *
 * A campaign spec (YAML, docs/SPEC.md) names fixed settings and axes;
 * spec_load_* parses and validates it and expands the axes into job points,
 * each a fully resolved set of training parameters with a stable 64-bit key.
 * This module knows nothing of MPI, HDF5 or training: it is pure data.
 *
 * Job identity: a point's key is XXH3-64 of its canonical text form
 * (parameter names sorted by strcmp, key_part parameters only, values exact:
 * integers in decimal, reals as round-trip "%.17g" with -0 written as 0,
 * dist by name, booleans as true/false), so reordering the YAML or adding an
 * axis value does not change the keys of existing points.  `threads` is an
 * execution setting and is not part of the key.  Values the spec computes
 * (linspace, logspace, learning-rate rules) are rounded to 15 significant
 * digits, so keys do not depend on the last bit of the C library's pow().
 *
 * A single job (e.g. `supersweep train key=value ...`) is a spec without a
 * grid: every parameter may be given under `train:` (or `model:`), e.g.
 * "train: {n: 100, m: 10, gamma: -1, steps: 50}\n".  The top-level `seed`
 * is the campaign seed; `seed` under model/train/grid is the replicate seed.
 *
 * No global state: every function is reentrant.  Not collective (no MPI):
 * under MPI, rank 0 may load the spec and broadcast its text, or every rank
 * may load the same text and get the same jobs in the same order.
 */
#ifndef SUPERSWEEP_SPEC_H
#define SUPERSWEEP_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPEC_ERR_LEN  1024     /* size of an error message buffer */
#define SPEC_MAX_JOBS 10000000 /* default bound on grid points (before the filter) */

/* Feature-frequency shapes (PAPER.md, "Data"). */
enum spec_dist {
	SPEC_DIST_POWER = 0,	   /* p_i ∝ i^-alpha, i = 1..n */
	SPEC_DIST_EXPONENTIAL = 1, /* p_i ∝ exp(-i/dist_scale), i = 0..n-1 */
	SPEC_DIST_LINEAR = 2,	   /* p_i ∝ (n - i)/n, i = 0..n-1 */
};

/* One training job: every parameter resolved (no rules, no defaults left). */
struct job_point {
	/* data */
	int64_t n;	     /* number of features, >= 1 */
	int64_t m;	     /* width (hidden dimensions), >= 1 */
	enum spec_dist dist; /* frequency shape */
	double alpha;	     /* power-law exponent (dist power), >= 0; 0 if not given */
	double dist_scale;   /* exponential scale in ranks (dist exponential), > 0 */
	double E;	     /* Σ p_i after normalisation (expected active features), > 0 */
	double density_s;    /* density sweep: p <- p(1 + s(1/p_1 - 1)), s in [0,1]; 0 = off */
	/* superposition dial */
	double gamma; /* signed row-wise decay: >= 0 ordinary, < 0 norm-to-1 */
	/* training */
	int64_t seed;	/* replicate seed (part of the key), >= 0 */
	int64_t batch;	/* samples per step, >= 1 */
	int64_t steps;	/* optimiser steps, >= 1 */
	double lr_w;	/* peak learning rate of W (rule already applied), > 0 */
	double lr_b;	/* peak learning rate of b (rule already applied), > 0 */
	int64_t warmup; /* linear warm-up steps (fraction already applied), 0 <= warmup < steps */
	double lr_min_ratio;  /* cosine floor as a fraction of each peak, in [0,1] */
	int64_t log_every;    /* loss-curve interval in steps, 1 <= log_every <= steps */
	int64_t eval_samples; /* fresh samples for the eval loss, >= 0 (0 = skip) */
	bool save_weights;    /* store W and b in the campaign file */
	/* execution (not part of the key) */
	int64_t threads; /* cores used by this job, >= 1 (int64_t like every SPEC_INT) */
	/* identity */
	uint64_t key; /* hash of the canonical form */
};

/* Parameter table: one entry per job_point field that is a parameter, in the
 * order of the campaign file's columns.  Used by store (columns), plan --list
 * and export.  `key_part` is false for execution settings (threads). */
enum spec_type { SPEC_INT, SPEC_REAL, SPEC_BOOL, SPEC_DIST };
struct spec_param {
	const char *name;    /* as in the campaign file (YAML: lr_w/lr_b come from lr/lr_b) */
	enum spec_type type; /* C type of the field: int64_t, double, bool, enum spec_dist (int) */
	size_t offset;	     /* offsetof(struct job_point, field) */
	bool key_part;	     /* included in the canonical form */
	const char *unit;    /* unit or "" */
	const char *doc;     /* one line */
};
extern const struct spec_param spec_params[];
extern const size_t spec_nparams;

/* A parsed campaign. */
struct spec {
	char *path;		/* file name used in messages (owned) */
	char *text;		/* the spec's full text, verbatim, NUL-terminated (owned) */
	size_t text_len;	/* bytes in text (excluding the NUL) */
	uint64_t text_hash;	/* XXH3-64 of text */
	char *name;		/* campaign name (owned); default: file name without .yaml */
	uint64_t seed;		/* campaign seed: mixes into every job's randomness */
	size_t njobs;		/* number of job points, >= 1 */
	struct job_point *jobs; /* (njobs) in dispatch order: predicted cost
	                         * descending, ties in grid expansion order (owned) */
	size_t ngrid;		/* grid points before the filter (>= njobs) */
};

/* spec_load_file - read, parse, validate and expand the spec at PATH.
 * On success returns 0 and sets *OUT (given to the caller; free with
 * spec_destroy).  On failure returns ERR_INVAL (bad spec), ERR_IO (unreadable)
 * or ERR_NOMEM, leaves *OUT NULL and writes one message naming the file, line
 * and column (or the value and what was expected) into ERR (SPEC_ERR_LEN),
 * formatted "PATH:LINE:COLUMN: message" (1-based).  ERR may be NULL. */
int spec_load_file(const char *path, struct spec **out, char *err);

/* spec_load_string - as spec_load_file for TEXT (LEN bytes, need not be NUL
 * terminated); NAME is used as the file name in messages.  TEXT is borrowed. */
int spec_load_string(const char *text, size_t len, const char *name, struct spec **out, char *err);

/* spec_load_string_max - as spec_load_string with the bound on grid points
 * (before the filter) set to MAX_JOBS instead of SPEC_MAX_JOBS (0 = default).
 * A larger grid is an ERR_INVAL error.  Used by the fuzzer to keep runs short. */
int spec_load_string_max(const char *text, size_t len, const char *name, size_t max_jobs,
			 struct spec **out, char *err);

/* spec_destroy - free *SPEC and set it NULL; accepts NULL and *SPEC == NULL. */
void spec_destroy(struct spec **spec);

/* spec_canonical - write JOB's canonical form ("E=1;alpha=0.5;...", sorted
 * names, key_part parameters only) into BUF of LEN bytes (NUL-terminated,
 * truncated if short; BUF may be NULL when LEN is 0).  Returns the length it
 * needs (excluding NUL), like snprintf. */
size_t spec_canonical(const struct job_point *job, char *buf, size_t len);

/* spec_job_key - the 64-bit key of JOB (XXH3-64 of its canonical form). */
uint64_t spec_job_key(const struct job_point *job);

/* spec_job_flop - predicted training cost of JOB: 6·batch·n·m·steps plus the
 * eval forward pass 2·eval_samples·n·m, in FLOP. */
double spec_job_flop(const struct job_point *job);

/* spec_curve_len - number of loss-curve points of JOB: steps / log_every. */
int64_t spec_curve_len(const struct job_point *job);

/* spec_job_pmax - the largest feature frequency of JOB after normalisation
 * to E and the density rule (p_1 for power, p_0 otherwise).  Validation
 * rejects points where it exceeds 1 by more than rounding (1e-12, the
 * tolerance of the trainer's sampler). */
double spec_job_pmax(const struct job_point *job);

/* spec_job_freqs - fill P (n doubles, caller's) with JOB's feature
 * frequencies p_i, rank order (most frequent first): the shape of dist,
 * normalised so that Σ p = E, then the density rule when density_s > 0.
 * Values above 1 (only by rounding on a validated point) are clamped to 1. */
void spec_job_freqs(const struct job_point *job, double *p);

/* spec_format_real - write X into BUF (LEN bytes, 32 suffice) as the
 * shortest of "%.15g", "%.16g", "%.17g" that reads back exactly, -0 as "0":
 * for tables meant for people and programs (plan --list, export). */
void spec_format_real(double x, char *buf, size_t len);

/* spec_dist_name / spec_dist_parse - "power", "exponential", "linear".
 * spec_dist_name returns "unknown" for a bad value; spec_dist_parse returns
 * 0 or ERR_INVAL (and leaves *OUT unchanged). */
const char *spec_dist_name(enum spec_dist dist);
int spec_dist_parse(const char *name, enum spec_dist *out);

/* spec_diff - compare OLD (e.g. the campaign file's) and NEW.  Returns 0 when
 * they describe the same campaign: same campaign seed and the same job keys
 * in the same dispatch order (row i of the campaign file is jobs[i]) with the
 * same execution settings.  Else ERR_MISMATCH with a human-readable list of
 * differences (points added, removed, reordered, seed or settings changed; at
 * most a few lines per kind with a count of the rest) in ERR (SPEC_ERR_LEN),
 * or ERR_NOMEM.  Reordering the YAML keeps every key but may change the order
 * of points of equal cost: that is reported as reordered. */
int spec_diff(const struct spec *old, const struct spec *new, char *err);

#endif
