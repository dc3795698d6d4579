/* test_sampler.c - the sparse sampler draws x_i = u_i·v_i with the right
 * law: per-feature frequencies against p_i (binomial z-bounds at a false
 * alarm rate < 1e-7 per test, with a negative control that a 5 % error in p
 * is rejected), joint activity of two features (independence), the moments
 * of v, the frequency shapes, the density rule, and determinism. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "supersweep/err.h"
#include "supersweep/sampler.h"

#define ZMAX 6.0 /* two-sided normal tail 2e-9 per feature */

static struct job_point job_of(enum spec_dist dist, int64_t n, double alpha, double E)
{
	struct job_point j = {
		.n = n,
		.m = 4,
		.dist = dist,
		.alpha = alpha,
		.dist_scale = 400,
		.E = E,
		.batch = 16,
		.steps = 10,
		.lr_w = 1e-2,
		.lr_b = 1e-2,
		.log_every = 1,
		.threads = 1,
		.key = 42,
	};
	return j;
}

struct counts {
	int64_t N;	/* samples drawn */
	int64_t *c;	/* (n) times each feature was active */
	int64_t both;	/* samples with features 0 and 1 active */
	double sv, sv2; /* Σ v, Σ v² over active entries */
	int64_t nv;	/* active entries */
};

static void draw(const struct sampler *s, int64_t N, struct counts *k)
{
	int32_t *idx = malloc((size_t)s->n * sizeof *idx);
	float *val = malloc((size_t)s->n * sizeof *val);

	memset(k, 0, sizeof *k);
	k->N = N;
	k->c = calloc((size_t)s->n, sizeof *k->c);
	for (int64_t r = 0; r < N; r++) {
		int64_t cnt = sampler_row(s, SAMPLER_DATA, (uint64_t)(r / 1000),
					  (uint64_t)(r % 1000), idx, val);
		int a0 = 0, a1 = 0;

		assert_true(cnt >= 0 && cnt <= s->n);
		for (int64_t q = 0; q < cnt; q++) {
			assert_true(idx[q] >= 0 && idx[q] < s->n);
			assert_true(val[q] > 0 && val[q] <= 2);
			k->c[idx[q]]++;
			k->sv += val[q];
			k->sv2 += (double)val[q] * val[q];
			a0 |= idx[q] == 0;
			a1 |= idx[q] == 1;
		}
		/* no feature twice in a sample */
		for (int64_t q = 1; q < cnt; q++)
			for (int64_t u = 0; u < q; u++)
				assert_int_not_equal(idx[q], idx[u]);
		k->nv += cnt;
		k->both += a0 && a1;
	}
	free(idx);
	free(val);
}

/* Largest |z| of the per-feature counts against frequencies P. */
static double max_z(const struct counts *k, const double *p, int64_t n, int64_t *worst)
{
	double zmax = 0;

	for (int64_t i = 0; i < n; i++) {
		double mu = (double)k->N * p[i], var = mu * (1 - p[i]);
		double z = var > 0 ? fabs((double)k->c[i] - mu) / sqrt(var) : (k->c[i] != mu) * 1e9;

		if (z > zmax) {
			zmax = z;
			*worst = i;
		}
	}
	return zmax;
}

static void check_shape(struct job_point job, int64_t N)
{
	struct sampler *s = NULL;
	char err[SPEC_ERR_LEN];
	struct counts k;
	int64_t worst = -1;
	double z, sum = 0;

	if (sampler_create(&job, 9, &s, err) != 0)
		fail_msg("sampler_create: %s", err);
	for (int64_t i = 0; i < job.n; i++)
		sum += s->p[i];
	assert_true(fabs(sum - s->density) < 1e-9 * sum);
	draw(s, N, &k);
	z = max_z(&k, s->p, job.n, &worst);
	if (z > ZMAX)
		fail_msg("feature %lld: %lld hits in %lld samples, p = %g (z = %.2f)",
			 (long long)worst, (long long)k.c[worst], (long long)N, s->p[worst], z);
	/* independence: features 0 and 1 together with probability p0·p1 */
	{
		double pp = s->p[0] * s->p[1], mu = (double)N * pp;

		if (mu * (1 - pp) > 0)
			assert_true(fabs((double)k.both - mu) / sqrt(mu * (1 - pp)) < ZMAX);
	}
	/* <v> = 1, <v²> = 4/3: Var v = 1/3, Var v² = 16/5 - 16/9 */
	{
		double mv = k.sv / (double)k.nv, mv2 = k.sv2 / (double)k.nv;

		assert_true(fabs(mv - 1.0) < ZMAX * sqrt(1.0 / 3.0 / (double)k.nv));
		assert_true(fabs(mv2 - 4.0 / 3.0) <
			    ZMAX * sqrt((16.0 / 5.0 - 16.0 / 9.0) / (double)k.nv));
	}
	free(k.c);
	sampler_destroy(&s);
	assert_null(s);
}

static void test_power(void **state)
{
	(void)state;
	check_shape(job_of(SPEC_DIST_POWER, 60, 1.0, 1.0), 200000);
	check_shape(job_of(SPEC_DIST_POWER, 60, 2.0, 1.0), 200000); /* many blocks */
	check_shape(job_of(SPEC_DIST_POWER, 60, 0.0, 1.0), 200000); /* one block */
}

static void test_other_shapes(void **state)
{
	struct job_point e = job_of(SPEC_DIST_EXPONENTIAL, 80, 0, 1.0);

	(void)state;
	e.dist_scale = 10; /* p spans 8 orders of magnitude */
	check_shape(e, 200000);
	check_shape(job_of(SPEC_DIST_LINEAR, 80, 0, 1.0), 200000);
}

/* Density rule at s = 1: p_1 = 1 exactly, so feature 0 is always active. */
static void test_density_rule(void **state)
{
	struct job_point j = job_of(SPEC_DIST_POWER, 40, 1.0, 1.0);
	struct sampler *s = NULL;
	char err[SPEC_ERR_LEN];
	double H = 0;

	(void)state;
	for (int i = 1; i <= 40; i++)
		H += 1.0 / i;
	j.density_s = 1.0;
	assert_int_equal(sampler_create(&j, 1, &s, err), 0);
	assert_true(s->p[0] == 1.0);
	assert_true(fabs(s->density - H) < 1e-9);
	sampler_destroy(&s);
	check_shape(j, 100000);
	j.density_s = 0.5;
	check_shape(j, 100000);
}

/* Impossible frequencies are refused with a message naming the value. */
static void test_bad_frequencies(void **state)
{
	struct job_point j = job_of(SPEC_DIST_POWER, 10, 1.0, 5.0);
	struct sampler *s = NULL;
	char err[SPEC_ERR_LEN];

	(void)state;
	assert_int_equal(sampler_create(&j, 1, &s, err), ERR_INVAL);
	assert_null(s);
	assert_non_null(strstr(err, "p_1"));
	j.E = 1;
	j.dist = SPEC_DIST_EXPONENTIAL;
	j.dist_scale = 0;
	assert_int_equal(sampler_create(&j, 1, &s, err), ERR_INVAL);
	j.n = 0;
	assert_int_equal(sampler_create(&j, 1, &s, err), ERR_INVAL);
}

/* Negative control: the same statistic rejects a p that is 5 % off for the
 * most frequent feature, so the frequency test cannot pass by accident. */
static void test_negative_control(void **state)
{
	struct job_point j = job_of(SPEC_DIST_POWER, 60, 1.0, 1.0);
	struct sampler *s = NULL;
	char err[SPEC_ERR_LEN];
	struct counts k;
	double *wrong = malloc(60 * sizeof *wrong);
	int64_t worst = -1;

	(void)state;
	assert_int_equal(sampler_create(&j, 9, &s, err), 0);
	draw(s, 200000, &k);
	memcpy(wrong, s->p, 60 * sizeof *wrong);
	wrong[0] *= 1.05;
	assert_true(max_z(&k, wrong, 60, &worst) > ZMAX);
	assert_int_equal(worst, 0);
	/* and a sampler with a wrong law (every p halved) is caught too */
	for (int i = 0; i < 60; i++)
		wrong[i] = s->p[i] * 0.5;
	assert_true(max_z(&k, wrong, 60, &worst) > ZMAX);
	free(k.c);
	free(wrong);
	sampler_destroy(&s);
}

/* Pure function of (seed, key, purpose, step, row); streams differ. */
static void test_determinism(void **state)
{
	struct job_point j = job_of(SPEC_DIST_POWER, 200, 0.5, 4.0);
	struct sampler *a = NULL, *b = NULL, *c = NULL;
	char err[SPEC_ERR_LEN];
	int32_t i1[200], i2[200];
	float v1[200], v2[200];
	int differ = 0;

	(void)state;
	assert_int_equal(sampler_create(&j, 5, &a, err), 0);
	assert_int_equal(sampler_create(&j, 5, &b, err), 0);
	assert_int_equal(sampler_create(&j, 6, &c, err), 0);
	for (uint64_t r = 0; r < 50; r++) {
		int64_t k1 = sampler_row(a, SAMPLER_DATA, 77, r, i1, v1);
		int64_t k2 = sampler_row(b, SAMPLER_DATA, 77, r, i2, v2);

		assert_int_equal(k1, k2);
		assert_memory_equal(i1, i2, (size_t)k1 * 4);
		assert_memory_equal(v1, v2, (size_t)k1 * 4);
		k2 = sampler_row(c, SAMPLER_DATA, 77, r, i2, v2);
		differ += k1 != k2 || memcmp(v1, v2, (size_t)k1 * 4) != 0;
		k2 = sampler_row(a, SAMPLER_EVAL, 77, r, i2, v2);
		differ += k1 != k2 || memcmp(v1, v2, (size_t)k1 * 4) != 0;
	}
	assert_true(differ >= 95);
	assert_true(sampler_uniform(a, SAMPLER_DATA, 1, 2, 3) ==
		    sampler_uniform(b, SAMPLER_DATA, 1, 2, 3));
	assert_true(sampler_uniform(a, SAMPLER_DATA, 1, 2, 3) !=
		    sampler_uniform(a, SAMPLER_DATA, 1, 2, 4));
	sampler_destroy(&a);
	sampler_destroy(&b);
	sampler_destroy(&c);
}

/* Normals for the init: mean 0, variance SCALE². */
static void test_normals(void **state)
{
	struct job_point j = job_of(SPEC_DIST_POWER, 10, 1.0, 1.0);
	struct sampler *s = NULL;
	char err[SPEC_ERR_LEN];
	enum { N = 100000 };
	float *x = malloc(N * sizeof *x);
	double s1 = 0, s2 = 0, s4 = 0;

	(void)state;
	assert_int_equal(sampler_create(&j, 1, &s, err), 0);
	sampler_normals(s, SAMPLER_INIT_W, 3, N, 2.0, x);
	for (int i = 0; i < N; i++) {
		double y = x[i] / 2.0;

		s1 += y;
		s2 += y * y;
		s4 += y * y * y * y;
	}
	assert_true(fabs(s1 / N) < ZMAX / sqrt(N));
	assert_true(fabs(s2 / N - 1) < ZMAX * sqrt(2.0 / N));
	assert_true(fabs(s4 / N - 3) < ZMAX * sqrt(96.0 / N)); /* Var y⁴ = 105 - 9 */
	free(x);
	sampler_destroy(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_power),
		cmocka_unit_test(test_other_shapes),
		cmocka_unit_test(test_density_rule),
		cmocka_unit_test(test_bad_frequencies),
		cmocka_unit_test(test_negative_control),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_normals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
