/* spec_expand.c - expand a read spec (struct spec_src) into job points.
 *
 * The grid is the Cartesian product of its groups (an axis, or a zip group
 * of equal-length lists) in document order, the last group varying
 * fastest.  Each point is resolved (defaults, learning-rate rules, warm-up
 * fraction), filtered, validated (cross-parameter rules such as warmup <
 * steps and p_i <= 1), keyed and checked for duplicates with a hash set, then
 * all points are put in dispatch order (predicted cost descending, ties in
 * expansion order).
 *
 * Hot path: the per-point loop, which must stay linear: 10^6 points in well
 * under a second.  Formatted reals of the canonical form and the costly
 * per-(n, alpha) harmonic sums and per-m rule values are cached.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "supersweep/err.h"
#include "supersweep/spec.h"
#include "spec_int.h"

#define CACHE_SLOTS 256

struct pmax_slot {
	bool valid;
	struct job_point key; /* only n, dist, alpha, dist_scale, E, density_s compared */
	double pmax;
};

struct rule_slot {
	bool valid;
	int64_t m;
	double c, m0, k, value;
};

struct ex {
	const struct spec_src *src;
	const char *path;
	char *err;
	bool set[IN_COUNT];	       /* given (fixed or axis) */
	struct spec_val cur[IN_COUNT]; /* the current point's input values */
	size_t *rows;		       /* (ngroups) current row of each group */
	struct spec_canon_cache canon;
	struct pmax_slot pmax[CACHE_SLOTS];
	struct rule_slot rule[2][CACHE_SLOTS];
};

/* The source position of input IN at the current point (line 0: default). */
static struct spec_mark src_mark(const struct ex *x, int in)
{
	const struct spec_src *s = x->src;
	struct spec_mark none = {0, 0};

	switch (s->where[in]) {
	case WHERE_FIXED: return s->fixed[in].mark;
	case WHERE_AXIS: {
		const struct spec_group *g = &s->groups[s->group_of[in]];
		for (int j = 0; j < g->nmem; j++)
			if (g->mem[j] == in)
				return g->vals[j][x->rows[s->group_of[in]]].mark;
		return g->mark;
	}
	case WHERE_UNSET: break;
	}
	return none;
}

/* The first of the inputs INS (terminated by -1) that was given, or the
 * document's start. */
static struct spec_mark first_mark(const struct ex *x, const int *ins)
{
	for (; *ins >= 0; ins++)
		if (x->set[*ins])
			return src_mark(x, *ins);
	return x->src->root;
}

static void append_value(char *buf, size_t len, size_t *pos, const struct spec_val *v, int in)
{
	char num[40];
	int n;

	switch (spec_in_table[in].kind) {
	case KIND_INT: snprintf(num, sizeof num, "%" PRId64, v->i); break;
	case KIND_BOOL: snprintf(num, sizeof num, "%s", v->i ? "true" : "false"); break;
	case KIND_DIST:
		snprintf(num, sizeof num, "%s", spec_dist_name((enum spec_dist)v->i));
		break;
	case KIND_REAL: spec_format_real(v->x, num, sizeof num); break;
	case KIND_LR:
		if (v->rule) {
			char c[32], m0[32], k[32];
			spec_format_real(v->x, c, sizeof c);
			spec_format_real(v->m0, m0, sizeof m0);
			spec_format_real(v->k, k, sizeof k);
			snprintf(num, sizeof num, "%.8s*(%.8s/m)^%.8s", c, m0, k);
		} else {
			spec_format_real(v->x, num, sizeof num);
		}
		break;
	}
	if (*pos >= len)
		return;
	n = snprintf(buf + *pos, len - *pos, "%s%s=%s", *pos ? ", " : "", spec_in_table[in].name,
		     num);
	if (n > 0)
		*pos += (size_t)n;
	if (*pos >= len)
		*pos = len - 1;
}

/* " (at the grid point m=10, gamma=-1)" for the axis values of the current
 * point; "" without axes. */
static void describe(const struct ex *x, char *buf, size_t len)
{
	const struct spec_src *s = x->src;
	char inner[256];
	size_t pos = 0;

	inner[0] = '\0';
	for (size_t g = 0; g < s->ngroups; g++)
		for (int j = 0; j < s->groups[g].nmem; j++)
			append_value(inner, sizeof inner, &pos, &s->groups[g].vals[j][x->rows[g]],
				     s->groups[g].mem[j]);
	if (pos)
		snprintf(buf, len, " (at the grid point %s)", inner);
	else
		buf[0] = '\0';
}

static double rule_value(struct ex *x, int which, const struct spec_val *v, int64_t m)
{
	struct rule_slot *sl = &x->rule[which][(size_t)m % CACHE_SLOTS];

	if (sl->valid && sl->m == m && sl->c == v->x && sl->m0 == v->m0 && sl->k == v->k)
		return sl->value;
	sl->valid = true;
	sl->m = m;
	sl->c = v->x;
	sl->m0 = v->m0;
	sl->k = v->k;
	sl->value = spec_round15(v->x * pow(v->m0 / (double)m, v->k));
	return sl->value;
}

static double pmax_cached(struct ex *x, const struct job_point *j)
{
	uint64_t h;
	struct pmax_slot *sl;
	double key[5] = {(double)j->n, j->alpha, j->dist_scale, j->E, j->density_s};

	h = XXH3_64bits(key, sizeof key) ^ (uint64_t)j->dist;
	sl = &x->pmax[h % CACHE_SLOTS];
	if (sl->valid && sl->key.n == j->n && sl->key.dist == j->dist &&
	    sl->key.alpha == j->alpha && sl->key.dist_scale == j->dist_scale && sl->key.E == j->E &&
	    sl->key.density_s == j->density_s)
		return sl->pmax;
	sl->valid = true;
	sl->key = *j;
	sl->pmax = spec_job_pmax(j);
	return sl->pmax;
}

/* floor(frac·steps), snapping products within rounding of an integer
 * (0.29 · 100 is 28.999999999999996 in binary). */
static int64_t warmup_of(double frac, int64_t steps)
{
	double w = frac * (double)steps, r = nearbyint(w);

	if (fabs(w - r) <= 1e-9 * (r > 1 ? r : 1))
		return (int64_t)r;
	return (int64_t)floor(w);
}

/* resolve - the current inputs -> a job_point (no validation). */
static void resolve(struct ex *x, struct job_point *j)
{
	const struct spec_val *c = x->cur;
	const bool *set = x->set;

	memset(j, 0, sizeof *j);
	j->n = c[IN_N].i;
	j->m = c[IN_M].i;
	j->dist = set[IN_DIST] ? (enum spec_dist)c[IN_DIST].i : SPEC_DIST_POWER;
	j->alpha = set[IN_ALPHA] ? c[IN_ALPHA].x : 0.0;
	j->dist_scale = set[IN_DIST_SCALE] ? c[IN_DIST_SCALE].x : 400.0;
	j->E = set[IN_E] ? c[IN_E].x : 1.0;
	j->density_s = set[IN_DENSITY_S] ? c[IN_DENSITY_S].x : 0.0;
	j->gamma = c[IN_GAMMA].x;
	j->seed = set[IN_SEED] ? c[IN_SEED].i : 0;
	j->batch = set[IN_BATCH] ? c[IN_BATCH].i : 2048;
	j->steps = set[IN_STEPS] ? c[IN_STEPS].i : 20000;
	if (!set[IN_LR])
		j->lr_w = 1e-2;
	else if (c[IN_LR].rule)
		j->lr_w = rule_value(x, 0, &c[IN_LR], j->m);
	else
		j->lr_w = c[IN_LR].x;
	if (!set[IN_LR_B])
		j->lr_b = j->lr_w;
	else if (c[IN_LR_B].rule)
		j->lr_b = rule_value(x, 1, &c[IN_LR_B], j->m);
	else
		j->lr_b = c[IN_LR_B].x;
	if (set[IN_WARMUP])
		j->warmup = c[IN_WARMUP].i;
	else if (set[IN_WARMUP_FRAC])
		j->warmup = warmup_of(c[IN_WARMUP_FRAC].x, j->steps);
	else
		j->warmup = j->steps / 10 < 2000 ? j->steps / 10 : 2000;
	j->lr_min_ratio = set[IN_LR_MIN_RATIO] ? c[IN_LR_MIN_RATIO].x : 0.05;
	if (set[IN_LOG_EVERY])
		j->log_every = c[IN_LOG_EVERY].i;
	else
		j->log_every = j->steps < 100 ? j->steps : 100;
	j->eval_samples = set[IN_EVAL_SAMPLES] ? c[IN_EVAL_SAMPLES].i : 100 * j->batch;
	j->save_weights = set[IN_SAVE_WEIGHTS] ? c[IN_SAVE_WEIGHTS].i != 0 : false;
	j->threads = set[IN_THREADS] ? c[IN_THREADS].i : 1;
}

static double param_value(const struct job_point *j, int p)
{
	const char *base = (const char *)j + spec_params[p].offset;
	int64_t iv;
	double dv;
	bool bv;
	int dv2;

	switch (spec_params[p].type) {
	case SPEC_INT: memcpy(&iv, base, sizeof iv); return (double)iv;
	case SPEC_REAL: memcpy(&dv, base, sizeof dv); return dv;
	case SPEC_BOOL: memcpy(&bv, base, sizeof bv); return bv;
	case SPEC_DIST: memcpy(&dv2, base, sizeof dv2); return dv2;
	}
	return 0;
}

static bool keep(const struct spec_src *s, const struct job_point *j)
{
	for (size_t i = 0; i < s->nconds; i++) {
		const struct spec_cond *c = &s->conds[i];
		double a = c->lhs >= 0 ? param_value(j, c->lhs) : c->lnum;
		double b = c->rhs >= 0 ? param_value(j, c->rhs) : c->rnum;
		bool ok = false;
		switch (c->op) {
		case OP_LT: ok = a < b; break;
		case OP_LE: ok = a <= b; break;
		case OP_GT: ok = a > b; break;
		case OP_GE: ok = a >= b; break;
		case OP_EQ: ok = a == b; break;
		case OP_NE: ok = a != b; break;
		}
		if (!ok)
			return false;
	}
	return true;
}

/* check_lr - LR, the learning rate that input NAME (lr or lr_b) gives at
 * J's width, must be finite and > 0; the message points at the first given
 * of INS.  0 or ERR_INVAL. */
static int check_lr(const struct ex *x, const struct job_point *j, const char *name, double lr,
		    const int *ins)
{
	char at[300], num[40];

	if (isfinite(lr) && lr > 0)
		return 0;
	describe(x, at, sizeof at);
	spec_format_real(lr, num, sizeof num);
	return spec_fail(x->err, x->path, first_mark(x, ins), ERR_INVAL,
			 "the %s rule gives %s at m = %" PRId64 ": must be finite and > 0%s", name,
			 num, j->m, at);
}

/* check - cross-parameter rules of one (kept) point. */
static int check(struct ex *x, const struct job_point *j)
{
	static const int warm_ins[] = {IN_WARMUP, IN_WARMUP_FRAC, IN_STEPS, -1};
	static const int log_ins[] = {IN_LOG_EVERY, IN_STEPS, -1};
	static const int p_ins[] = {IN_E, IN_DENSITY_S, IN_ALPHA, IN_DIST_SCALE, IN_N, -1};
	static const int dist_ins[] = {IN_DIST, -1};
	static const int lr_ins[] = {IN_LR, -1}, lrb_ins[] = {IN_LR_B, IN_LR, -1};
	char at[300], num[40];
	double pmax;
	int rc;

	if (j->dist == SPEC_DIST_POWER && !x->set[IN_ALPHA]) {
		describe(x, at, sizeof at);
		return spec_fail(x->err, x->path, first_mark(x, dist_ins), ERR_INVAL,
				 "alpha is required when dist is power (the default)%s", at);
	}
	if (j->warmup >= j->steps) {
		describe(x, at, sizeof at);
		return spec_fail(x->err, x->path, first_mark(x, warm_ins), ERR_INVAL,
				 "warmup (%" PRId64 " steps) must be less than steps (%" PRId64
				 ")%s",
				 j->warmup, j->steps, at);
	}
	if (j->log_every > j->steps) {
		describe(x, at, sizeof at);
		return spec_fail(x->err, x->path, first_mark(x, log_ins), ERR_INVAL,
				 "log_every (%" PRId64 ") is more than steps (%" PRId64
				 "): the loss curve would be empty%s",
				 j->log_every, j->steps, at);
	}
	rc = check_lr(x, j, "lr", j->lr_w, lr_ins);
	if (rc)
		return rc;
	rc = check_lr(x, j, "lr_b", j->lr_b, lrb_ins);
	if (rc)
		return rc;
	pmax = pmax_cached(x, j);
	if (!(pmax <= 1 + 1e-12)) {
		describe(x, at, sizeof at);
		spec_format_real(spec_round15(pmax), num, sizeof num);
		return spec_fail(x->err, x->path, first_mark(x, p_ins), ERR_INVAL,
				 "the most frequent feature would have p = %s > 1 (n=%" PRId64
				 ", %s, E=%g): lower E or use a flatter shape%s",
				 num, j->n, spec_dist_name(j->dist), j->E, at);
	}
	return 0;
}

/* rows_of - decode the expansion ordinal ORD into group rows (last fastest). */
static void rows_of(const struct spec_src *s, uint64_t ord, size_t *rows)
{
	for (size_t g = s->ngroups; g-- > 0;) {
		rows[g] = (size_t)(ord % s->groups[g].len);
		ord /= s->groups[g].len;
	}
}

static int duplicate(struct ex *x, uint64_t ord_a, uint64_t ord_b, const struct job_point *j)
{
	const struct spec_src *s = x->src;
	size_t *ra = NULL, *rb = NULL;
	struct spec_mark ma = s->root, mb = s->root;
	char at[300];
	int rc;

	ra = calloc(s->ngroups + 1, sizeof *ra);
	rb = calloc(s->ngroups + 1, sizeof *rb);
	if (!ra || !rb) {
		free(ra);
		free(rb);
		return spec_fail(x->err, x->path, s->root, ERR_NOMEM, "out of memory");
	}
	rows_of(s, ord_a, ra);
	rows_of(s, ord_b, rb);
	for (size_t g = 0; g < s->ngroups; g++)
		if (ra[g] != rb[g]) {
			ma = s->groups[g].vals[0][ra[g]].mark;
			mb = s->groups[g].vals[0][rb[g]].mark;
			break;
		}
	describe(x, at, sizeof at);
	if (ma.line == mb.line && ma.col == mb.col)
		rc = spec_fail(x->err, x->path, mb, ERR_INVAL,
			       "duplicate job point: this generator gives the same point twice%s "
			       "(key %016" PRIx64 "); every point must be distinct",
			       at, j->key);
	else
		rc = spec_fail(x->err, x->path, mb, ERR_INVAL,
			       "duplicate job point: the values here and at %d:%d give the same "
			       "point%s (key %016" PRIx64 "); every point must be distinct",
			       ma.line, ma.col, at, j->key);
	free(ra);
	free(rb);
	return rc;
}

struct order {
	double flop;
	size_t pos;
};

static int order_cmp(const void *a, const void *b)
{
	const struct order *x = a, *y = b;

	if (x->flop != y->flop)
		return x->flop > y->flop ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Put JOBS in dispatch order: cost descending, ties by position. */
static int sort_jobs(struct job_point *jobs, size_t n)
{
	struct order *ord = malloc((n ? n : 1) * sizeof *ord);
	size_t *perm = malloc((n ? n : 1) * sizeof *perm);

	if (!ord || !perm) {
		free(ord);
		free(perm);
		return ERR_NOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		ord[i].flop = spec_job_flop(&jobs[i]);
		ord[i].pos = i;
	}
	qsort(ord, n, sizeof *ord, order_cmp);
	for (size_t i = 0; i < n; i++)
		perm[i] = ord[i].pos; /* destination i takes source perm[i] */
	free(ord);
	for (size_t i = 0; i < n; i++) {
		struct job_point tmp;
		size_t k = i;
		if (perm[i] == i)
			continue;
		tmp = jobs[i];
		while (perm[k] != i) {
			size_t next = perm[k];
			jobs[k] = jobs[next];
			perm[k] = k;
			k = next;
		}
		jobs[k] = tmp;
		perm[k] = k;
	}
	free(perm);
	return 0;
}

int spec_expand(const struct spec_src *src, const char *path, size_t max_jobs, struct spec *spec,
		char *err)
{
	static const int required[] = {IN_N, IN_M, IN_GAMMA};
	struct ex *x = NULL;
	struct spec_keyset *keys = NULL;
	struct job_point *jobs = NULL;
	uint64_t *ords = NULL;
	size_t total = 1, njobs = 0, cap = 0;
	char canon[1024];
	int rc = 0;

	spec->jobs = NULL;
	spec->njobs = 0;
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
		if (src->where[required[i]] == WHERE_UNSET)
			return spec_fail(
				err, path, src->root, ERR_INVAL,
				"missing required parameter %s: set it under model:, train: "
				"or grid:",
				spec_in_table[required[i]].name);
	for (size_t g = 0; g < src->ngroups; g++) {
		size_t len = src->groups[g].len;
		if (len == 0 || total > max_jobs / len)
			return spec_fail(
				err, path,
				src->grid_mark.line ? src->grid_mark : src->groups[g].mark,
				ERR_INVAL,
				"the grid has more than %zu points: narrow it or split the "
				"campaign",
				max_jobs);
		total *= len;
	}
	x = calloc(1, sizeof *x);
	if (!x)
		goto nomem;
	x->src = src;
	x->path = path;
	x->err = err;
	x->rows = calloc(src->ngroups + 1, sizeof *x->rows);
	keys = spec_keyset_new();
	if (!x->rows || !keys || spec_keyset_reserve(keys, total < (1u << 22) ? total : (1u << 22)))
		goto nomem;
	for (int in = 0; in < IN_COUNT; in++) {
		x->set[in] = src->where[in] != WHERE_UNSET;
		if (src->where[in] == WHERE_FIXED)
			x->cur[in] = src->fixed[in];
	}
	for (uint64_t ord = 0; ord < total; ord++) {
		struct job_point j;
		size_t prev, clen;
		for (size_t g = 0; g < src->ngroups; g++) {
			const struct spec_group *gr = &src->groups[g];
			for (int k = 0; k < gr->nmem; k++)
				x->cur[gr->mem[k]] = gr->vals[k][x->rows[g]];
		}
		resolve(x, &j);
		if (keep(src, &j)) {
			rc = check(x, &j);
			if (rc)
				goto out;
			clen = spec_canonical_cached(&j, canon, sizeof canon, &x->canon);
			j.key = XXH3_64bits(canon, clen < sizeof canon ? clen : sizeof canon - 1);
			rc = spec_keyset_add(keys, j.key, njobs, &prev);
			if (rc < 0)
				goto nomem;
			if (rc == 1) {
				rc = duplicate(x, ords[prev], ord, &j);
				goto out;
			}
			if (njobs == cap) {
				size_t ncap = cap ? 2 * cap : (total < 1024 ? total : 1024);
				struct job_point *nj;
				uint64_t *no;
				if (ncap > total)
					ncap = total;
				nj = realloc(jobs, ncap * sizeof *nj);
				if (!nj)
					goto nomem;
				jobs = nj;
				no = realloc(ords, ncap * sizeof *no);
				if (!no)
					goto nomem;
				ords = no;
				cap = ncap;
			}
			jobs[njobs] = j;
			ords[njobs] = ord;
			njobs++;
		}
		for (size_t g = src->ngroups; g-- > 0;) {
			if (++x->rows[g] < src->groups[g].len)
				break;
			x->rows[g] = 0;
		}
	}
	if (njobs == 0) {
		rc = spec_fail(err, path, src->filter_mark.line ? src->filter_mark : src->root,
			       ERR_INVAL, "the filter keeps none of the %zu grid points", total);
		goto out;
	}
	if (sort_jobs(jobs, njobs))
		goto nomem;
	spec->jobs = jobs;
	spec->njobs = njobs;
	spec->ngrid = total;
	jobs = NULL;
	rc = 0;
	goto out;
nomem:
	rc = spec_fail(err, path, (struct spec_mark){0, 0}, ERR_NOMEM, "out of memory");
out:
	free(jobs);
	free(ords);
	spec_keyset_free(&keys);
	if (x)
		free(x->rows);
	free(x);
	return rc;
}
