/* test_fit.c - the power-law fit: known exponents, standard errors by hand,
 * flags, grouping, replicate handling and allocation failures. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "supersweep/err.h"
#include "supersweep/fit.h"

static const double widths[6] = {10, 15, 25, 39, 63, 100}; /* floor(logspace(10,100,6)) */

/* A small deterministic generator for noise: splitmix64 -> two uniforms ->
 * Box-Muller normal. */
static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double normal(uint64_t *s)
{
	double u1 = ((double)(mix(s) >> 11) + 0.5) / 9007199254740992.0;
	double u2 = ((double)(mix(s) >> 11) + 0.5) / 9007199254740992.0;

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Hand computation (see comment): x = 0..3, y = 1, 3, 2, 5.
 * mean x 1.5, mean y 2.75, Sxx 5, Sxy 5.5 -> slope 1.1, intercept 1.1;
 * residuals -0.1, 0.8, -1.3, 0.6 -> SSR 2.7; SST 8.75 -> R^2 = 1 - 2.7/8.75;
 * se = sqrt(2.7 / 2 / 5) = sqrt(0.27). */
static void test_linear_by_hand(void **state)
{
	const double x[] = {0, 1, 2, 3}, y[] = {1, 3, 2, 5};
	struct fit_line l;

	(void)state;
	assert_int_equal(fit_linear(x, y, 4, &l), 0);
	assert_true(fabs(l.slope - 1.1) < 1e-14);
	assert_true(fabs(l.intercept - 1.1) < 1e-14);
	assert_true(fabs(l.slope_se - sqrt(0.27)) < 1e-14);
	assert_true(fabs(l.r2 - (1.0 - 2.7 / 8.75)) < 1e-14);
	assert_int_equal(l.npoints, 4);
}

static void test_linear_degenerate(void **state)
{
	const double x[] = {2, 2, 2}, y[] = {1, 2, 3}, x2[] = {1, 2}, y2[] = {5, 3};
	const double xn[] = {1, NAN, 3};
	struct fit_line l;

	(void)state;
	assert_int_equal(fit_linear(x, y, 3, &l), ERR_INVAL);
	assert_true(isnan(l.slope));
	assert_int_equal(fit_linear(x, y, 1, &l), ERR_INVAL);
	assert_int_equal(fit_linear(xn, y, 3, &l), ERR_INVAL);
	/* two points: exact line, no standard error */
	assert_int_equal(fit_linear(x2, y2, 2, &l), 0);
	assert_true(fabs(l.slope + 2.0) < 1e-15);
	assert_true(isnan(l.slope_se));
	assert_true(fabs(l.r2 - 1.0) < 1e-15);
}

/* Noiseless L = 3 m^-1.3 over the paper's six widths: exact exponent. */
static void test_noiseless_exact(void **state)
{
	double x[6], y[6];
	struct fit_options o = fit_options_default();
	struct fit_result *r = NULL;

	(void)state;
	for (int i = 0; i < 6; i++) {
		x[i] = widths[i];
		y[i] = 3.0 * pow(widths[i], -1.3);
	}
	assert_int_equal(fit_groups(6, 0, NULL, x, y, NULL, &o, &r), 0);
	assert_int_equal(r->ngroups, 1);
	assert_true(fabs(r->groups[0].alpha - 1.3) < 1e-12);
	assert_true(fabs(r->groups[0].line.intercept - log(3.0)) < 1e-12);
	assert_true(r->groups[0].alpha_se < 1e-12);
	assert_true(fabs(r->groups[0].line.r2 - 1.0) < 1e-12);
	assert_int_equal(r->groups[0].flags, 0);
	assert_int_equal(r->groups[0].nx, 6);
	assert_int_equal(r->groups[0].nrows, 6);
	assert_true(r->groups[0].x_min == 10 && r->groups[0].x_max == 100);
	fit_result_destroy(&r);
	assert_null(r);
	fit_result_destroy(&r);
	fit_result_destroy(NULL);
}

/* Noisy: 16 widths, 4 seeds, log-normal noise sd 0.05, true alpha 0.9.
 * The expected standard error of the slope through the seed means is
 * sd/sqrt(4)/sqrt(Sxx) ~ 0.0065; the estimate must lie within 0.03 of 0.9
 * (> 4 sd, so it does not fail by chance, while a biased estimator, e.g. an
 * arithmetic instead of log mean of wide noise, or a wrong sign, fails), and
 * the reported se must be within a factor 2 of the expected one.  The
 * generator is seeded, so the test is deterministic. */
static void test_noisy_bound(void **state)
{
	enum { NX = 16, NS = 4, N = NX * NS };
	double x[N], y[N], lx[NX], sxx = 0.0, mx = 0.0, expect_se;
	uint64_t s = 12345;
	struct fit_options o = fit_options_default();
	struct fit_result *mean = NULL, *pool = NULL;

	(void)state;
	for (int i = 0; i < NX; i++) {
		lx[i] = log(8.0) + i * (log(1024.0) - log(8.0)) / (NX - 1);
		mx += lx[i] / NX;
	}
	for (int i = 0; i < NX; i++)
		sxx += (lx[i] - mx) * (lx[i] - mx);
	expect_se = 0.05 / sqrt((double)NS) / sqrt(sxx);
	for (int k = 0; k < N; k++) {
		x[k] = exp(lx[k % NX]);
		y[k] = 0.7 * exp(-0.9 * lx[k % NX] + 0.05 * normal(&s));
	}
	assert_int_equal(fit_groups(N, 0, NULL, x, y, NULL, &o, &mean), 0);
	assert_int_equal(mean->groups[0].nx, NX);
	assert_int_equal(mean->groups[0].line.npoints, NX);
	assert_true(fabs(mean->groups[0].alpha - 0.9) < 0.03);
	assert_true(mean->groups[0].alpha_se > expect_se / 2 &&
		    mean->groups[0].alpha_se < expect_se * 2);
	assert_true(mean->groups[0].line.r2 > 0.99);
	/* pooled: every row a point; with the same replicates at every x the
	 * least-squares slope equals the slope through the means exactly */
	o.seeds = FIT_SEEDS_POOL;
	assert_int_equal(fit_groups(N, 0, NULL, x, y, NULL, &o, &pool), 0);
	assert_int_equal(pool->groups[0].line.npoints, N);
	assert_true(fabs(pool->groups[0].alpha - mean->groups[0].alpha) < 1e-12);
	assert_true(fabs(pool->groups[0].alpha_se - expect_se) < expect_se);
	assert_true(pool->groups[0].alpha_se != mean->groups[0].alpha_se);
	fit_result_destroy(&mean);
	fit_result_destroy(&pool);
}

/* Seeds averaged as a geometric mean: two replicates L and 4L at each m
 * give the point 2L, so the intercept moves by log 2 and the slope stays. */
static void test_geometric_mean(void **state)
{
	double x[12], y[12];
	struct fit_options o = fit_options_default();
	struct fit_result *r = NULL;

	(void)state;
	for (int i = 0; i < 6; i++) {
		x[2 * i] = x[2 * i + 1] = widths[i];
		y[2 * i] = pow(widths[i], -1.0);
		y[2 * i + 1] = 4.0 * pow(widths[i], -1.0);
	}
	assert_int_equal(fit_groups(12, 0, NULL, x, y, NULL, &o, &r), 0);
	assert_true(fabs(r->groups[0].alpha - 1.0) < 1e-12);
	assert_true(fabs(r->groups[0].line.intercept - log(2.0)) < 1e-12);
	assert_true(r->groups[0].alpha_se < 1e-12);
	assert_int_equal(r->groups[0].nrows, 12);
	assert_int_equal(r->groups[0].nx, 6);
	fit_result_destroy(&r);
}

static void test_flags(void **state)
{
	/* group 0: two widths only; group 1: rises at the last width;
	 * group 2: zigzag (low R^2); group 3: one NaN and one zero loss */
	double keys[4 * 6], x[4 * 6], y[4 * 6];
	struct fit_options o = fit_options_default();
	struct fit_result *r = NULL;
	char buf[64];

	(void)state;
	for (int g = 0; g < 4; g++)
		for (int i = 0; i < 6; i++) {
			int k = g * 6 + i;

			keys[k] = g;
			x[k] = widths[i];
			y[k] = pow(widths[i], -1.0);
		}
	for (int i = 1; i < 6; i++) { /* group 0: widths 10 and 15 only */
		x[i] = widths[1];
		y[i] = pow(widths[1], -1.0);
	}
	y[6 + 5] = y[6 + 4] * 1.01; /* group 1: L(100) > L(63) */
	for (int i = 0; i < 6; i++) /* group 2: zigzag around a flat line */
		y[12 + i] = (i % 2) ? 0.5 : 0.1;
	y[18 + 2] = NAN;
	y[18 + 3] = 0.0;

	assert_int_equal(fit_groups(24, 1, keys, x, y, NULL, &o, &r), 0);
	assert_int_equal(r->ngroups, 4);
	assert_int_equal(r->groups[0].flags, FIT_FLAG_FEW_POINTS);
	assert_int_equal(r->groups[0].nx, 2);
	assert_true(isnan(r->groups[0].alpha));
	assert_int_equal(r->groups[1].flags, FIT_FLAG_NONMONOTONE);
	assert_true(r->groups[1].line.r2 > 0.95); /* still a good line: only the flag says */
	assert_int_equal(r->groups[2].flags, FIT_FLAG_NONMONOTONE | FIT_FLAG_LOW_R2);
	assert_int_equal(r->groups[3].flags, FIT_FLAG_DROPPED);
	assert_int_equal(r->groups[3].ndropped, 2);
	assert_int_equal(r->groups[3].nrows, 4);
	assert_true(fabs(r->groups[3].alpha - 1.0) < 1e-12);
	assert_string_equal(fit_flags_string(r->groups[2].flags, buf, sizeof buf),
			    "low_r2,non_monotone");
	assert_string_equal(fit_flags_string(0, buf, sizeof buf), "ok");
	assert_string_equal(fit_flags_string(FIT_FLAG_FEW_POINTS | FIT_FLAG_DROPPED, buf, 8),
			    "few_poi");
	/* a lower threshold clears low_r2; min_points 2 fits group 0 */
	fit_result_destroy(&r);
	o.r2_min = -1.0;
	o.min_points = 2;
	assert_int_equal(fit_groups(24, 1, keys, x, y, NULL, &o, &r), 0);
	assert_int_equal(r->groups[2].flags, FIT_FLAG_NONMONOTONE);
	assert_int_equal(r->groups[0].flags, 0);
	assert_true(fabs(r->groups[0].alpha - 1.0) < 1e-12);
	fit_result_destroy(&r);
	o.min_points = 1;
	assert_int_equal(fit_groups(24, 1, keys, x, y, NULL, &o, &r), ERR_INVAL);
	assert_null(r);
}

/* Two grouping columns (gamma, alpha) in shuffled row order, a selection
 * mask and min_x: every group gets its own exponent, groups come out sorted. */
static void test_grouping(void **state)
{
	enum { NG = 6, N = NG * 6 };
	const double gam[3] = {0.5, -1.0, 0.1}, alp[2] = {1.5, 0.5};
	double keys[N * 2], x[N], y[N];
	bool sel[N];
	size_t perm[N];
	uint64_t s = 7;
	struct fit_options o = fit_options_default();
	struct fit_result *r = NULL;

	(void)state;
	for (size_t k = 0; k < N; k++)
		perm[k] = k;
	for (size_t k = N - 1; k > 0; k--) { /* Fisher-Yates */
		size_t j = mix(&s) % (k + 1), t = perm[k];

		perm[k] = perm[j];
		perm[j] = t;
	}
	for (size_t k = 0; k < N; k++) {
		size_t p = perm[k], g = p / 6, i = p % 6;
		double ga = gam[g / 2], al = alp[g % 2];
		double expo = 0.5 + ga + al; /* distinct per group */

		keys[2 * k] = ga;
		keys[2 * k + 1] = al;
		x[k] = widths[i];
		y[k] = pow(widths[i], -expo);
		sel[k] = true;
		if (ga == 0.1 && al == 1.5 && i == 0)
			y[k] = 1e9; /* excluded by the mask below: must not matter */
		if (ga == 0.1 && al == 1.5 && i == 0)
			sel[k] = false;
	}
	assert_int_equal(fit_groups(N, 2, keys, x, y, sel, &o, &r), 0);
	assert_int_equal(r->nkeys, 2);
	assert_int_equal(r->ngroups, NG);
	for (size_t g = 0; g < NG; g++) {
		const double *key = r->groups[g].key;

		if (g > 0) {
			const double *prev = r->groups[g - 1].key;

			assert_true(prev[0] < key[0] || (prev[0] == key[0] && prev[1] < key[1]));
		}
		assert_true(fabs(r->groups[g].alpha - (0.5 + key[0] + key[1])) < 1e-12);
		assert_int_equal(r->groups[g].flags, 0);
		if (key[0] == 0.1 && key[1] == 1.5)
			assert_int_equal(r->groups[g].nrows, 5);
		else
			assert_int_equal(r->groups[g].nrows, 6);
	}
	assert_true(r->groups[0].key[0] == -1.0 && r->groups[0].key[1] == 0.5);
	fit_result_destroy(&r);

	/* min_x 32 keeps widths 39, 63, 100 */
	o.min_x = 32;
	assert_int_equal(fit_groups(N, 2, keys, x, y, sel, &o, &r), 0);
	for (size_t g = 0; g < r->ngroups; g++) {
		assert_int_equal(r->groups[g].nx, 3);
		assert_true(r->groups[g].x_min == 39);
	}
	fit_result_destroy(&r);

	/* nothing selected: zero groups, not an error */
	memset(sel, 0, sizeof sel);
	assert_int_equal(fit_groups(N, 2, keys, x, y, sel, &o, &r), 0);
	assert_int_equal(r->ngroups, 0);
	fit_result_destroy(&r);
}

/* NaN keys group together (e.g. a column that is NaN for some rows). */
static void test_nan_keys(void **state)
{
	double keys[12], x[12], y[12];
	struct fit_options o = fit_options_default();
	struct fit_result *r = NULL;

	(void)state;
	for (int k = 0; k < 12; k++) {
		keys[k] = (k % 2) ? NAN : 1.0;
		x[k] = widths[k / 2];
		y[k] = pow(x[k], (k % 2) ? -2.0 : -1.0);
	}
	assert_int_equal(fit_groups(12, 1, keys, x, y, NULL, &o, &r), 0);
	assert_int_equal(r->ngroups, 2);
	assert_true(r->groups[0].key[0] == 1.0 && isnan(r->groups[1].key[0]));
	assert_true(fabs(r->groups[0].alpha - 1.0) < 1e-12);
	assert_true(fabs(r->groups[1].alpha - 2.0) < 1e-12);
	fit_result_destroy(&r);
}

/* Every allocation failure gives ERR_NOMEM, no result and no leak (ASan). */
static void test_alloc_failures(void **state)
{
	double keys[6], x[6], y[6];
	struct fit_options o = fit_options_default();
	struct fit_result *r = NULL;
	long n;

	(void)state;
	for (int i = 0; i < 6; i++) {
		keys[i] = i % 2;
		x[i] = widths[i];
		y[i] = 1.0 / widths[i];
	}
	for (n = 0;; n++) {
		int rc;

		alloc_fail_after(n);
		rc = fit_groups(6, 1, keys, x, y, NULL, &o, &r);
		if (!alloc_fail_triggered()) {
			assert_int_equal(rc, 0);
			break;
		}
		assert_int_equal(rc, ERR_NOMEM);
		assert_null(r);
	}
	alloc_fail_reset();
	assert_true(n >= 4);
	fit_result_destroy(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linear_by_hand),	cmocka_unit_test(test_linear_degenerate),
		cmocka_unit_test(test_noiseless_exact), cmocka_unit_test(test_noisy_bound),
		cmocka_unit_test(test_geometric_mean),	cmocka_unit_test(test_flags),
		cmocka_unit_test(test_grouping),	cmocka_unit_test(test_nan_keys),
		cmocka_unit_test(test_alloc_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
