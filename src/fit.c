/* fit.c - least-squares power-law fits per group (see fit.h).
 *
 * Rows are sorted once by (group key, x) with qsort_r; each group is then a
 * run of consecutive rows, and each distinct x a run inside it.  Sums are
 * taken about the means (two passes), which keeps the slope accurate when
 * log x is far from 0.  Sizes are small (a campaign has at most some 10^5
 * rows); nothing here is a hot path.
 */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "supersweep/err.h"
#include "supersweep/fit.h"

struct fit_options fit_options_default(void)
{
	struct fit_options o = {
		.seeds = FIT_SEEDS_MEAN,
		.min_x = 0.0,
		.r2_min = 0.95,
		.min_points = 3,
	};
	return o;
}

int fit_linear(const double *x, const double *y, size_t n, struct fit_line *out)
{
	double mx = 0.0, my = 0.0, sxx = 0.0, sxy = 0.0, syy = 0.0, ssr = 0.0;

	out->slope = out->intercept = out->slope_se = out->r2 = NAN;
	out->npoints = n;
	if (n < 2)
		return ERR_INVAL;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(x[i]) || !isfinite(y[i]))
			return ERR_INVAL;
		mx += x[i];
		my += y[i];
	}
	mx /= (double)n;
	my /= (double)n;
	for (size_t i = 0; i < n; i++) {
		double dx = x[i] - mx, dy = y[i] - my;

		sxx += dx * dx;
		sxy += dx * dy;
		syy += dy * dy;
	}
	if (!(sxx > 0.0))
		return ERR_INVAL;
	out->slope = sxy / sxx;
	out->intercept = my - out->slope * mx;
	for (size_t i = 0; i < n; i++) {
		double r = y[i] - (out->intercept + out->slope * x[i]);

		ssr += r * r;
	}
	if (syy > 0.0)
		out->r2 = 1.0 - ssr / syy;
	else
		out->r2 = 1.0; /* a flat line through flat data: a perfect fit */
	if (n > 2)
		out->slope_se = sqrt(ssr / (double)(n - 2) / sxx);
	return 0;
}

/* Sorting context: rows are compared by key columns, then x. */
struct sort_ctx {
	size_t nkeys;
	const double *keys; /* (nrows, nkeys) */
	const double *x;    /* (nrows) */
};

/* Total order on doubles with every NaN equal and after all numbers. */
static int cmp_double(double a, double b)
{
	bool na = isnan(a), nb = isnan(b);

	if (na || nb)
		return (int)na - (int)nb;
	return (a > b) - (a < b);
}

static int cmp_key(const struct sort_ctx *c, size_t i, size_t j)
{
	for (size_t k = 0; k < c->nkeys; k++) {
		int r = cmp_double(c->keys[i * c->nkeys + k], c->keys[j * c->nkeys + k]);

		if (r != 0)
			return r;
	}
	return 0;
}

static int cmp_rows(const void *a, const void *b, void *arg)
{
	const struct sort_ctx *c = arg;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int r = cmp_key(c, i, j);

	if (r != 0)
		return r;
	r = cmp_double(c->x[i], c->x[j]);
	if (r != 0)
		return r;
	return (i > j) - (i < j); /* stable: row order breaks ties */
}

static bool usable(double x, double y)
{
	return isfinite(x) && isfinite(y) && x > 0.0 && y > 0.0;
}

/* fit_one - fit the rows IDX[0..n) of one group (sorted by x) into G, using
 * LX and LY (scratch of n doubles each). */
static void fit_one(const size_t *idx, size_t n, const double *x, const double *y,
		    const struct fit_options *opt, double *lx, double *ly, struct fit_group *g)
{
	size_t npts = 0, used = 0;
	double prev_mean = NAN;

	g->nrows = g->ndropped = g->nx = 0;
	g->x_min = g->x_max = NAN;
	g->line.slope = g->line.intercept = g->line.slope_se = g->line.r2 = NAN;
	g->line.npoints = 0;
	g->alpha = g->alpha_se = NAN;
	g->flags = 0;

	for (size_t a = 0; a < n;) {
		size_t b = a, cnt = 0;
		double sum = 0.0, xv = x[idx[a]];

		/* one run of equal x */
		while (b < n && cmp_double(x[idx[b]], xv) == 0) {
			size_t r = idx[b++];

			if (!usable(x[r], y[r])) {
				g->ndropped++;
				continue;
			}
			if (opt->seeds == FIT_SEEDS_POOL) {
				lx[npts] = log(x[r]);
				ly[npts] = log(y[r]);
				npts++;
			}
			sum += log(y[r]);
			cnt++;
		}
		a = b;
		if (cnt == 0)
			continue;
		used += cnt;
		if (g->nx == 0)
			g->x_min = xv;
		g->x_max = xv;
		g->nx++;
		sum /= (double)cnt;
		if (opt->seeds == FIT_SEEDS_MEAN) {
			lx[npts] = log(xv);
			ly[npts] = sum;
			npts++;
		}
		if (!isnan(prev_mean) && sum > prev_mean)
			g->flags |= FIT_FLAG_NONMONOTONE;
		prev_mean = sum;
	}
	g->nrows = used;
	if (g->ndropped > 0)
		g->flags |= FIT_FLAG_DROPPED;
	if (g->nx < opt->min_points) {
		g->flags |= FIT_FLAG_FEW_POINTS;
		g->line.npoints = npts;
		return;
	}
	/* nx >= min_points >= 2 distinct finite x: the fit is defined */
	(void)fit_linear(lx, ly, npts, &g->line);
	g->alpha = -g->line.slope;
	g->alpha_se = g->line.slope_se;
	if (!(g->line.r2 >= opt->r2_min))
		g->flags |= FIT_FLAG_LOW_R2;
}

int fit_groups(size_t nrows, size_t nkeys, const double *keys, const double *x, const double *y,
	       const bool *select, const struct fit_options *opt, struct fit_result **out)
{
	struct fit_result *res = NULL;
	size_t *idx = NULL, nsel = 0, ngroups = 0;
	double *lx = NULL, *ly = NULL;
	struct sort_ctx ctx = {.nkeys = nkeys, .keys = keys, .x = x};
	int rc = ERR_NOMEM;

	*out = NULL;
	if (opt->min_points < 2 || (nkeys > 0 && keys == NULL && nrows > 0))
		return ERR_INVAL;
	if (nkeys > 0 && nrows > SIZE_MAX / nkeys)
		return ERR_RANGE;
	res = calloc(1, sizeof *res);
	if (res == NULL)
		goto out;
	res->nkeys = nkeys;
	idx = malloc((nrows ? nrows : 1) * sizeof *idx);
	lx = malloc((nrows ? nrows : 1) * sizeof *lx);
	ly = malloc((nrows ? nrows : 1) * sizeof *ly);
	if (idx == NULL || lx == NULL || ly == NULL)
		goto out;
	for (size_t i = 0; i < nrows; i++) {
		if (select != NULL && !select[i])
			continue;
		if (opt->min_x > 0.0 && !(x[i] >= opt->min_x))
			continue;
		idx[nsel++] = i;
	}
	qsort_r(idx, nsel, sizeof *idx, cmp_rows, &ctx);
	for (size_t a = 0; a < nsel; a++)
		if (a == 0 || cmp_key(&ctx, idx[a - 1], idx[a]) != 0)
			ngroups++;
	res->groups = calloc(ngroups ? ngroups : 1, sizeof *res->groups);
	res->keys = calloc((ngroups * nkeys) > 0 ? ngroups * nkeys : 1, sizeof *res->keys);
	if (res->groups == NULL || res->keys == NULL)
		goto out;
	for (size_t a = 0, g = 0; a < nsel; g++) {
		size_t b = a + 1;

		while (b < nsel && cmp_key(&ctx, idx[a], idx[b]) == 0)
			b++;
		for (size_t k = 0; k < nkeys; k++)
			res->keys[g * nkeys + k] = keys[idx[a] * nkeys + k];
		res->groups[g].key = res->keys + g * nkeys;
		fit_one(idx + a, b - a, x, y, opt, lx, ly, &res->groups[g]);
		a = b;
	}
	res->ngroups = ngroups;
	*out = res;
	res = NULL;
	rc = 0;
out:
	free(idx);
	free(lx);
	free(ly);
	fit_result_destroy(&res);
	return rc;
}

void fit_result_destroy(struct fit_result **res)
{
	if (res == NULL || *res == NULL)
		return;
	free((*res)->groups);
	free((*res)->keys);
	free(*res);
	*res = NULL;
}

const char *fit_flags_string(unsigned flags, char *buf, size_t len)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{FIT_FLAG_FEW_POINTS, "few_points"},
		{FIT_FLAG_LOW_R2, "low_r2"},
		{FIT_FLAG_NONMONOTONE, "non_monotone"},
		{FIT_FLAG_DROPPED, "dropped_rows"},
	};
	size_t used = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		size_t nl;

		if (!(flags & names[i].bit))
			continue;
		nl = strlen(names[i].name);
		if (used > 0 && used + 1 < len)
			buf[used++] = ',';
		if (used + nl >= len)
			nl = len - 1 - used;
		memcpy(buf + used, names[i].name, nl);
		used += nl;
		buf[used] = '\0';
	}
	if (used == 0)
		snprintf(buf, len, "ok");
	return buf;
}
