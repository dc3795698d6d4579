/* test_metrics.c - the W metrics on constructed matrices: orthogonal rows
 * have overlap 0, random unit rows ≈ 1/m (exactly the reference), known
 * norms give known φ, median and weak-regime prediction. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "supersweep/err.h"
#include "supersweep/metrics.h"
#include "alloc_fail.h"

static uint64_t lcg = 99;

static double urand(void)
{
	lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
	return ((double)(lcg >> 11) + 0.5) * 0x1p-53;
}

static double nrand(void)
{
	return sqrt(-2 * log(urand())) * cos(2 * M_PI * urand());
}

static void test_orthogonal(void **state)
{
	enum { n = 8, m = 8 };
	float W[n * m] = {0};
	double p[n];
	struct train_metrics mt;

	(void)state;
	for (int i = 0; i < n; i++) {
		W[i * m + i] = i < 6 ? 1.5f : -0.3f; /* six strong rows, two weak */
		p[i] = 0.1 * (i + 1);
	}
	assert_int_equal(metrics_compute(W, n, m, p, &mt), 0);
	assert_true(mt.overlap_all == 0);
	assert_true(mt.overlap_strong == 0);
	assert_true(fabs(mt.phi_half - 6.0 / 8) < 1e-15);
	assert_true(fabs(mt.phi_one - 6.0 / 8) < 1e-15);
	assert_true(fabs(mt.weak_pred - 4.0 / 3 * (0.7 + 0.8)) < 1e-12);
	assert_true(fabs(mt.norm_min - 0.3) < 1e-6 && fabs(mt.norm_max - 1.5) < 1e-6);
	assert_true(fabs(mt.norm_median - 1.5) < 1e-6);
}

/* Random directions: E(ŵ_i·ŵ_j)² = 1/m; rows of norm 2 (all strong). */
static void test_random_unit_rows(void **state)
{
	enum { n = 300, m = 20 };
	float *W = malloc(n * m * sizeof *W);
	double p[n], all, strong;
	struct train_metrics mt;

	(void)state;
	for (int i = 0; i < n; i++) {
		double s = 0;

		p[i] = 1.0 / n;
		for (int j = 0; j < m; j++) {
			W[i * m + j] = (float)nrand();
			s += (double)W[i * m + j] * W[i * m + j];
		}
		for (int j = 0; j < m; j++)
			W[i * m + j] = (float)(W[i * m + j] * ((i % 3 ? 2.0 : 0.9) / sqrt(s)));
	}
	assert_int_equal(metrics_compute(W, n, m, p, &mt), 0);
	metrics_overlap_ref(W, n, m, &all, &strong);
	assert_true(fabs(mt.overlap_all - all) < 1e-5 * all);
	assert_true(fabs(mt.overlap_strong - strong) < 1e-5 * strong);
	/* (ŵ_i·ŵ_j)² has mean 1/m and sd ≈ √2/m: 44850 pairs, generous bound */
	assert_true(fabs(all - 1.0 / m) < 0.1 / m);
	assert_true(fabs(strong - 1.0 / m) < 0.1 / m);
	assert_true(fabs(mt.phi_one - 200.0 / 300) < 1e-12);
	assert_true(mt.phi_half == 1.0);
	assert_true(mt.weak_pred == 0);
	assert_true(fabs(mt.norm_mean - (200 * 2.0 + 100 * 0.9) / 300) < 1e-6);
	free(W);
}

/* Known norms, even n: median is the mean of the two middle norms; fewer
 * than two strong rows gives NaN for the strong overlap. */
static void test_known_norms(void **state)
{
	enum { n = 4, m = 2 };
	const float W[n * m] = {0.25f, 0, 0, 0.75f, 0.54f, 0.72f, 3, 4};
	const double p[n] = {0.4, 0.3, 0.2, 0.1};
	struct train_metrics mt;

	(void)state;
	assert_int_equal(metrics_compute(W, n, m, p, &mt), 0);
	assert_true(fabs(mt.phi_half - 0.75) < 1e-15);
	assert_true(fabs(mt.phi_one - 0.25) < 1e-15);
	assert_true(fabs(mt.norm_median - (0.75 + 0.9) / 2) < 1e-6);
	assert_true(fabs(mt.weak_pred - 4.0 / 3 * 0.4) < 1e-12);
	assert_true(isnan(mt.overlap_strong));
	/* rows 0,1 orthogonal; row 2 and 3 parallel: overlap 1 for (2,3), (3,2);
	 * (0,2): 0.6², (0,3): 0.6², (1,2): 0.8², (1,3): 0.8², symmetric */
	double want = 2 * (1 + 0.36 * 2 + 0.64 * 2) / 12;

	assert_true(fabs(mt.overlap_all - want) < 1e-6);
}

static void test_nomem(void **state)
{
	enum { n = 4, m = 2 };
	const float W[n * m] = {1, 0, 0, 1, 1, 1, 2, 0};
	const double p[n] = {0.25, 0.25, 0.25, 0.25};
	struct train_metrics mt = {0};

	(void)state;
	for (long k = 0; k < 5; k++) {
		alloc_fail_after(k);
		assert_int_equal(metrics_compute(W, n, m, p, &mt), ERR_NOMEM);
	}
	alloc_fail_reset();
	assert_int_equal(metrics_compute(W, n, m, p, &mt), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_orthogonal),
		cmocka_unit_test(test_random_unit_rows),
		cmocka_unit_test(test_known_norms),
		cmocka_unit_test(test_nomem),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
