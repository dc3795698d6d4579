/* fit.h - least-squares power-law fits of loss against width, per group.
 *
 * The paper's exponents (PAPER.md, "How exponents are taken"): alpha_x is
 * minus the slope of a least-squares line of log L against log x, its error
 * is the slope's standard error, and R^2 is reported.  This module does that
 * for many groups at once (a group = the rows that share the values of the
 * grouping columns, e.g. gamma and alpha) and flags groups that are not power
 * laws.  Pure numerics: it knows nothing of HDF5, MPI or the campaign file;
 * the caller hands it columns as doubles.
 *
 * Replicates (seeds, duplicate points): by default the loss of all rows of a
 * group at the same x is averaged first, as a geometric mean (the mean of
 * log L), and the line is fitted through one point per distinct x; the
 * standard error then reflects the scatter of those means about the line.
 * FIT_SEEDS_POOL instead fits every row as its own point.
 */
#ifndef SUPERSWEEP_FIT_H
#define SUPERSWEEP_FIT_H

#include <stdbool.h>
#include <stddef.h>

/* One least-squares line y = intercept + slope * x. */
struct fit_line {
	double slope;	  /* least-squares slope */
	double intercept; /* value at x = 0 */
	double slope_se;  /* standard error of the slope: sqrt(SSR/(n-2)/Sxx); NaN if n < 3 */
	double r2;	  /* coefficient of determination 1 - SSR/SST (1 when SST = 0 = SSR) */
	size_t npoints;	  /* points fitted */
};

/* fit_linear - ordinary least squares of Y on X (N points each, borrowed).
 * Returns 0 and fills *OUT, or ERR_INVAL when N < 2, a value is not finite or
 * all X are equal (OUT is then filled with NaN and npoints = N). */
int fit_linear(const double *x, const double *y, size_t n, struct fit_line *out);

/* How replicates at one x enter the fit. */
enum fit_seeds {
	FIT_SEEDS_MEAN = 0, /* geometric mean of L per distinct x, then one point per x */
	FIT_SEEDS_POOL = 1, /* every row is a point */
};

/* Why a group is not (or not shown to be) a power law; bits of fit_group.flags. */
enum fit_flag {
	FIT_FLAG_FEW_POINTS = 1u << 0,	/* fewer than min_points distinct x: no line fitted */
	FIT_FLAG_LOW_R2 = 1u << 1,	/* R^2 below r2_min */
	FIT_FLAG_NONMONOTONE = 1u << 2, /* the (mean) loss rises from one x to the next */
	FIT_FLAG_DROPPED = 1u << 3,	/* rows with x <= 0 or L <= 0 or non-finite were left out */
};

struct fit_options {
	enum fit_seeds seeds; /* replicate handling */
	double min_x;	      /* rows with x < min_x are left out (e.g. 32); 0 = keep all */
	double r2_min;	      /* FIT_FLAG_LOW_R2 below this, e.g. 0.95 */
	size_t min_points;    /* FIT_FLAG_FEW_POINTS below this many distinct x, >= 2 */
};

/* fit_options_default - seeds averaged, no min_x, r2_min 0.95, min_points 3. */
struct fit_options fit_options_default(void);

/* The fit of one group. */
struct fit_group {
	const double *key;    /* (nkeys) values of the grouping columns (points into the result) */
	size_t nrows;	      /* rows used (selected, x >= min_x, finite and positive) */
	size_t ndropped;      /* selected rows left out as not finite or not positive */
	size_t nx;	      /* distinct x among the rows used */
	double x_min, x_max;  /* range of x used (NaN when nrows = 0) */
	struct fit_line line; /* log L against log x; NaN fields when not fitted */
	double alpha;	      /* -line.slope: the exponent alpha_x */
	double alpha_se;      /* line.slope_se */
	unsigned flags;	      /* enum fit_flag bits; 0 = a clean power law */
};

struct fit_result {
	size_t nkeys;		  /* grouping columns */
	size_t ngroups;		  /* groups, ordered by key ascending (lexicographic) */
	struct fit_group *groups; /* (ngroups) */
	double *keys;		  /* (ngroups, nkeys) storage behind groups[i].key */
};

/* fit_groups - fit log Y against log X in every group.
 * NROWS rows; KEYS (nrows, nkeys) row-major holds the grouping values of each
 * row (NULL when NKEYS = 0: one group of everything); X and Y (nrows) are the
 * regressor (e.g. m) and the loss; SELECT (nrows) chooses the rows to consider
 * (e.g. status = done), NULL = all.  Groups are formed from the selected rows
 * with x >= opt->min_x, by exact equality of their key values (NaN equals NaN).
 * All arrays are borrowed.  On success returns 0 and sets *OUT (given to the
 * caller; free with fit_result_destroy); a result may have 0 groups.  Returns
 * ERR_INVAL for bad options (min_points < 2) and ERR_NOMEM, leaving *OUT NULL. */
int fit_groups(size_t nrows, size_t nkeys, const double *keys, const double *x, const double *y,
	       const bool *select, const struct fit_options *opt, struct fit_result **out);

/* fit_result_destroy - free *RES and set it NULL; accepts NULL and *RES == NULL. */
void fit_result_destroy(struct fit_result **res);

/* fit_flags_string - the flags as "few_points,low_r2,..." or "ok" into BUF
 * of LEN bytes (truncated, always NUL-terminated when LEN > 0).  Returns BUF. */
const char *fit_flags_string(unsigned flags, char *buf, size_t len);

#endif
