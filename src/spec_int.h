/* spec_int.h - internals shared by the spec module's files.
 *
 * spec_yaml.c reads the YAML document into a struct spec_src (settings, axis
 * groups, filter conditions, all with their source positions); the YAML
 * document is freed before expansion.  spec_expand.c turns a spec_src into
 * the ordered job points of a struct spec.  spec.c holds the public
 * functions (load, keys, costs, diff).  Nothing here is exported beyond the
 * module's files.
 */
#ifndef SUPERSWEEP_SPEC_INT_H
#define SUPERSWEEP_SPEC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "supersweep/spec.h"

/* Input parameters: the keys a spec may set (model:, train:, grid:, zip:). */
enum spec_in {
	IN_N,
	IN_M,
	IN_ALPHA,
	IN_GAMMA,
	IN_E,
	IN_DIST,
	IN_DIST_SCALE,
	IN_DENSITY_S,
	IN_SEED,
	IN_BATCH,
	IN_STEPS,
	IN_LR,
	IN_LR_B,
	IN_WARMUP,
	IN_WARMUP_FRAC,
	IN_LR_MIN_RATIO,
	IN_LOG_EVERY,
	IN_EVAL_SAMPLES,
	IN_SAVE_WEIGHTS,
	IN_THREADS,
	IN_COUNT
};

enum spec_kind {
	KIND_INT,  /* int64_t */
	KIND_REAL, /* double */
	KIND_BOOL, /* true/false */
	KIND_DIST, /* power | exponential | linear */
	KIND_LR,   /* a number, or a rule {c, m0, k}: c·(m0/m)^k */
};

struct spec_in_info {
	const char *name;
	enum spec_kind kind;
	double lo, hi;	       /* allowed range */
	bool lo_open, hi_open; /* exclusive bounds */
	const char *doc;
};
extern const struct spec_in_info spec_in_table[IN_COUNT];

/* A position in the spec text, 1-based; line 0 = none (a default). */
struct spec_mark {
	int line, col;
};

/* One value of one input parameter. */
struct spec_val {
	int64_t i; /* KIND_INT, KIND_BOOL (0/1), KIND_DIST (enum spec_dist) */
	double x;  /* KIND_REAL; KIND_LR: the number, or the rule's c */
	double m0; /* KIND_LR rule: reference width */
	double k;  /* KIND_LR rule: exponent */
	bool rule; /* KIND_LR: c·(m0/m)^k rather than a number */
	struct spec_mark mark;
};

/* An axis (nmem = 1) or a zip group (nmem >= 1 lists of equal length). */
struct spec_group {
	size_t len;			 /* rows */
	int nmem;			 /* member parameters */
	int mem[IN_COUNT];		 /* (nmem) enum spec_in */
	struct spec_val *vals[IN_COUNT]; /* (nmem) arrays of (len) values (owned) */
	struct spec_mark mark;		 /* where the group starts */
};

enum spec_op { OP_LT, OP_LE, OP_GT, OP_GE, OP_EQ, OP_NE };

/* One filter condition: lhs OP rhs, each a job_point parameter (index into
 * spec_params) or a number. */
struct spec_cond {
	int lhs, rhs;	   /* spec_params index, or -1 for the number */
	double lnum, rnum; /* the numbers (dist: enum value) */
	enum spec_op op;
	struct spec_mark mark;
	char *text; /* the condition as written (owned) */
};

enum spec_where { WHERE_UNSET = 0, WHERE_FIXED, WHERE_AXIS };

struct spec_src {
	char *name;			 /* campaign name or NULL (owned) */
	uint64_t seed;			 /* campaign seed */
	enum spec_where where[IN_COUNT]; /* how each input is given */
	struct spec_val fixed[IN_COUNT]; /* WHERE_FIXED values */
	int group_of[IN_COUNT];		 /* WHERE_AXIS: index into groups */
	struct spec_mark def[IN_COUNT];	 /* where each input is defined */
	struct spec_group *groups;	 /* (ngroups) in document order (owned) */
	size_t ngroups, groups_cap;
	struct spec_cond *conds; /* (nconds) ANDed (owned) */
	size_t nconds, conds_cap;
	struct spec_mark root;	      /* the document's start */
	struct spec_mark grid_mark;   /* grid: (line 0 if none) */
	struct spec_mark filter_mark; /* filter: (line 0 if none) */
};

/* Errors: "PATH:LINE:COL: message" (or "PATH: message" without a mark) into
 * ERR (SPEC_ERR_LEN); returns CODE. */
int spec_fail(char *err, const char *path, struct spec_mark mark, int code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* spec_read - parse TEXT (LEN bytes) into SRC (zeroed by the caller; freed
 * with spec_src_free also on failure).  MAX_AXIS bounds the values of one
 * generated axis.  0, ERR_INVAL or ERR_NOMEM with ERR set. */
int spec_read(const char *text, size_t len, const char *path, size_t max_axis, struct spec_src *src,
	      char *err);
void spec_src_free(struct spec_src *src);

/* spec_expand - expand SRC into SPEC->jobs/njobs/ngrid (dispatch order),
 * validating every point.  At most MAX_JOBS grid points.  0, ERR_INVAL or
 * ERR_NOMEM with ERR set; on failure SPEC->jobs is NULL. */
int spec_expand(const struct spec_src *src, const char *path, size_t max_jobs, struct spec *spec,
		char *err);

/* Nearest of NAMES (N entries) to WORD by edit distance, or NULL when none
 * is close enough to be a useful hint. */
const char *spec_nearest(const char *word, const char *const *names, size_t n);

/* spec_param_index - index of NAME in spec_params ("lr" means lr_w), or -1. */
int spec_param_index(const char *name);

/* Canonical form with an optional cache of formatted reals (expansion calls
 * it once per point; consecutive points share most values). */
struct spec_canon_cache {
	uint64_t bits[32];
	char str[32][32];
	unsigned char len[32];
	bool valid[32];
};
size_t spec_canonical_cached(const struct job_point *job, char *buf, size_t len,
			     struct spec_canon_cache *cache);

/* Open-addressing set of job keys -> job index (duplicates, spec_diff). */
struct spec_keyset;
struct spec_keyset *spec_keyset_new(void); /* NULL on ENOMEM */
void spec_keyset_free(struct spec_keyset **set);
/* spec_keyset_reserve - room for N keys without rehashing: 0 or ERR_NOMEM. */
int spec_keyset_reserve(struct spec_keyset *set, size_t n);
/* spec_keyset_add - insert KEY -> IDX.  0 if inserted, 1 if KEY was already
 * there (*PREV = its index), ERR_NOMEM. */
int spec_keyset_add(struct spec_keyset *set, uint64_t key, size_t idx, size_t *prev);

/* spec_round15 - X rounded to 15 significant digits (exact decimal
 * round trip), -0 made 0. */
double spec_round15(double x);

#endif
