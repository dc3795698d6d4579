/* test_spec.c - unit tests of the spec module (spec.h).
 *
 * Every error kind is checked for its exit code and for the line:column and
 * value its message names; the axis forms, rounding, zip, filter, defaults,
 * rules, keys (stability under reordering and added values, canonical form),
 * dispatch order and spec_diff are checked against hand-computed values;
 * allocation failures are injected at every allocation of a good load.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "supersweep/err.h"
#include "supersweep/spec.h"

static char err[SPEC_ERR_LEN];

static struct spec *load(const char *text)
{
	struct spec *s = NULL;
	int rc = spec_load_string(text, strlen(text), "t.yaml", &s, err);

	if (rc != 0)
		fail_msg("load failed (%d): %s\n--- spec ---\n%s", rc, err, text);
	assert_non_null(s);
	return s;
}

/* load_err - TEXT must fail with ERR_INVAL and a message starting with
 * "t.yaml:WHERE: " and containing every NEEDLE (NULL-terminated). */
static void load_err(const char *text, const char *where, ...)
{
	struct spec *s = NULL;
	char prefix[64];
	va_list ap;
	const char *needle;
	int rc = spec_load_string(text, strlen(text), "t.yaml", &s, err);

	if (rc != ERR_INVAL)
		fail_msg("expected ERR_INVAL, got %d (%s)\n--- spec ---\n%s", rc, err, text);
	assert_null(s);
	snprintf(prefix, sizeof prefix, "t.yaml:%s: ", where);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("message '%s' does not start with '%s'", err, prefix);
	va_start(ap, where);
	while ((needle = va_arg(ap, const char *)) != NULL)
		if (!strstr(err, needle))
			fail_msg("message '%s' lacks '%s'", err, needle);
	va_end(ap);
}

#define BASE "model: {n: 100, alpha: 1.5}\n"

/* ---- defaults and fixed values ---- */

static void test_defaults(void **state)
{
	struct spec *s = load("train: {n: 1000, m: 10, gamma: -1, alpha: 1}\n");
	const struct job_point *j = &s->jobs[0];

	(void)state;
	assert_int_equal(s->njobs, 1);
	assert_int_equal(s->ngrid, 1);
	assert_string_equal(s->name, "t");
	assert_true(s->seed == 0);
	assert_int_equal(j->n, 1000);
	assert_int_equal(j->m, 10);
	assert_true(j->gamma == -1);
	assert_true(j->alpha == 1);
	assert_int_equal(j->dist, SPEC_DIST_POWER);
	assert_true(j->dist_scale == 400);
	assert_true(j->E == 1);
	assert_true(j->density_s == 0);
	assert_int_equal(j->seed, 0);
	assert_int_equal(j->batch, 2048);
	assert_int_equal(j->steps, 20000);
	assert_true(j->lr_w == 1e-2);
	assert_true(j->lr_b == 1e-2);
	assert_int_equal(j->warmup, 2000);
	assert_true(j->lr_min_ratio == 0.05);
	assert_int_equal(j->log_every, 100);
	assert_int_equal(j->eval_samples, 100 * 2048);
	assert_false(j->save_weights);
	assert_int_equal(j->threads, 1);
	assert_true(j->key == spec_job_key(j));
	spec_destroy(&s);
	assert_null(s);
	spec_destroy(&s);
	spec_destroy(NULL);
}

static void test_short_run_defaults(void **state)
{
	/* warmup defaults to min(2000, steps/10), log_every to min(100, steps),
	 * eval_samples to 100·batch */
	struct spec *s = load(BASE "train: {m: 4, gamma: 1, steps: 50, batch: 8}\n");

	(void)state;
	assert_int_equal(s->jobs[0].warmup, 5);
	assert_int_equal(s->jobs[0].log_every, 50);
	assert_int_equal(s->jobs[0].eval_samples, 800);
	spec_destroy(&s);
	s = load(BASE "train: {m: 4, gamma: 1, steps: 1}\n");
	assert_int_equal(s->jobs[0].warmup, 0);
	assert_int_equal(s->jobs[0].log_every, 1);
	spec_destroy(&s);
}

static void test_all_settings(void **state)
{
	struct spec *s = load("name: full\nseed: 18446744073709551615\n"
			      "model: {n: 50, m: 7, gamma: 0.25, dist: exponential, dist_scale: 10,"
			      " E: 2, density_s: 0.5, alpha: 3}\n"
			      "train: {seed: 3, batch: 16, steps: 400, lr: 0.003, lr_b: 0.2,"
			      " warmup_frac: 0.29, lr_min_ratio: 0, log_every: 7, eval_samples: 0,"
			      " save_weights: true, threads: 2}\n");
	const struct job_point *j = &s->jobs[0];

	(void)state;
	assert_string_equal(s->name, "full");
	assert_true(s->seed == UINT64_MAX);
	assert_int_equal(j->dist, SPEC_DIST_EXPONENTIAL);
	assert_true(j->dist_scale == 10);
	assert_true(j->E == 2);
	assert_true(j->density_s == 0.5);
	assert_int_equal(j->seed, 3);
	assert_int_equal(j->batch, 16);
	assert_true(j->lr_w == 0.003);
	assert_true(j->lr_b == 0.2);
	assert_int_equal(j->warmup, 116); /* 0.29·400 = 115.99999999999999 in binary */
	assert_true(j->lr_min_ratio == 0);
	assert_int_equal(j->log_every, 7);
	assert_int_equal(j->eval_samples, 0);
	assert_true(j->save_weights);
	assert_int_equal(j->threads, 2);
	assert_int_equal(spec_curve_len(j), 57);
	spec_destroy(&s);
}

/* ---- keys ---- */

static void test_canonical_form(void **state)
{
	struct spec *s = load(BASE "train: {m: 4, gamma: -0.0, steps: 100}\n");
	char buf[1024];
	const char *want = "E=1;alpha=1.5;batch=2048;density_s=0;dist=power;dist_scale=400;"
			   "eval_samples=204800;gamma=0;log_every=100;lr_b=0.01;lr_min_ratio="
			   "0.050000000000000003;lr_w=0.01;m=4;n=100;save_weights=false;seed=0;"
			   "steps=100;warmup=10";
	size_t n;

	(void)state;
	n = spec_canonical(&s->jobs[0], buf, sizeof buf);
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
	/* truncation like snprintf */
	assert_int_equal(spec_canonical(&s->jobs[0], buf, 5), strlen(want));
	assert_string_equal(buf, "E=1;");
	assert_int_equal(spec_canonical(&s->jobs[0], NULL, 0), strlen(want));
	/* threads is not part of the key */
	{
		struct job_point j = s->jobs[0];
		j.threads = 8;
		assert_true(spec_job_key(&j) == s->jobs[0].key);
		j.seed = 1;
		assert_true(spec_job_key(&j) != s->jobs[0].key);
	}
	spec_destroy(&s);
}

static void test_canonical_names_sorted(void **state)
{
	struct spec *s = load(BASE "train: {m: 4, gamma: 1}\n");
	char buf[1024], *tok, *save = NULL, prev[64] = "";
	size_t count = 0;

	(void)state;
	spec_canonical(&s->jobs[0], buf, sizeof buf);
	for (tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		char name[64];
		size_t len = strcspn(tok, "=");
		memcpy(name, tok, len);
		name[len] = '\0';
		assert_true(strcmp(prev, name) < 0);
		strcpy(prev, name);
		count++;
	}
	/* every key_part parameter once */
	{
		size_t want = 0;
		for (size_t p = 0; p < spec_nparams; p++)
			want += spec_params[p].key_part;
		assert_int_equal(count, want);
	}
	spec_destroy(&s);
}

static int find_key(const struct spec *s, uint64_t key)
{
	for (size_t i = 0; i < s->njobs; i++)
		if (s->jobs[i].key == key)
			return (int)i;
	return -1;
}

static void test_key_stability(void **state)
{
	struct spec *a = load("model: {n: 100, alpha: 1}\n"
			      "train: {steps: 100, batch: 8}\n"
			      "grid: {m: [4, 8], gamma: [-1, 1]}\n");
	/* reordered sections, keys and values; an axis value added */
	struct spec *b = load("grid:\n  gamma: [1, -1, 0.5]\n  m: [8, 4]\n"
			      "train: {batch: 8, steps: 100}\n"
			      "model: {alpha: 1.0, n: 1e2}\n");

	(void)state;
	assert_int_equal(a->njobs, 4);
	assert_int_equal(b->njobs, 6);
	for (size_t i = 0; i < a->njobs; i++)
		assert_true(find_key(b, a->jobs[i].key) >= 0);
	spec_destroy(&a);
	spec_destroy(&b);
}

static void test_key_golden(void **state)
{
	/* The key of a fixed point must never change between versions: a
	 * campaign file written today must resume tomorrow. */
	struct spec *s = load("model: {n: 1000, m: 10, alpha: 1, gamma: -1}\n");
	char buf[1024];

	(void)state;
	spec_canonical(&s->jobs[0], buf, sizeof buf);
	assert_string_equal(buf, "E=1;alpha=1;batch=2048;density_s=0;dist=power;dist_scale=400;"
				 "eval_samples=204800;gamma=-1;log_every=100;lr_b=0.01;"
				 "lr_min_ratio=0.050000000000000003;lr_w=0.01;m=10;n=1000;"
				 "save_weights=false;seed=0;steps=20000;warmup=2000");
	assert_true(s->jobs[0].key == UINT64_C(0x69707d7885dc11a7));
	spec_destroy(&s);
}

/* ---- errors ---- */

static void test_error_empty(void **state)
{
	(void)state;
	load_err("", "1:1", "empty spec", NULL);
	load_err("# only a comment\n", "1:1", "empty spec", NULL);
	load_err("---\n...\n", "1:1", "empty spec", NULL);
}

static void test_error_syntax(void **state)
{
	(void)state;
	load_err("model: [n: 10\n", "2:1", "YAML syntax error", NULL);
	load_err("model:\n  n: 1\n   m: 2\n", "3:5", "YAML syntax error", NULL);
}

static void test_error_unknown_key(void **state)
{
	(void)state;
	load_err("model: {n: 10, m: 5, gamma: 1, alpah: 1}\n", "1:32", "'alpah'",
		 "did you mean 'alpha'", NULL);
	load_err("modle: {n: 10}\n", "1:1", "'modle'", "did you mean 'model'", NULL);
	load_err("n: 10\n", "1:1", "job parameter", NULL);
	load_err(BASE "grid: {m: {linspace: [1, 2, 2], rnd: floor}}\n", "2:33", "'rnd'",
		 "did you mean 'round'", NULL);
	load_err(BASE "train: {xyzzy: 1}\n", "2:9", "unknown key 'xyzzy' in train", NULL);
}

static void test_error_duplicate_key(void **state)
{
	(void)state;
	load_err("model: {n: 10, m: 5, gamma: 1, alpha: 1, n: 3}\n", "1:42", "n is set twice",
		 "1:9", NULL);
	load_err("model: {n: 10}\nmodel: {m: 5}\n", "2:1", "duplicate key 'model'", "1:1", NULL);
	load_err(BASE "train: {m: 3}\ngrid: {m: [1, 2], gamma: [1]}\n", "3:8", "m is set twice",
		 "2:9", NULL);
}

static void test_error_type(void **state)
{
	(void)state;
	load_err(BASE "train: {m: 2.5, gamma: 1}\n", "2:12", "m must be an integer", "'2.5'", NULL);
	load_err(BASE "train: {m: \"5\", gamma: 1}\n", "2:12", "must be a number", "quoted", NULL);
	load_err(BASE "train: {m: 5, gamma: abc}\n", "2:22", "gamma must be a number", "'abc'",
		 NULL);
	load_err(BASE "train: {m: 5, gamma: .inf}\n", "2:22", "finite", NULL);
	load_err(BASE "train: {m: 5, gamma: 1, save_weights: 1}\n", "2:39", "true or false", NULL);
	load_err(BASE "train: {m: 5, gamma: 1, dist: powr}\n", "2:31", "did you mean 'power'",
		 NULL);
	load_err(BASE "train: {m: [1, 2], gamma: 1}\n", "2:12", "put a list under grid", NULL);
	load_err("model: [1, 2]\n", "1:8", "model must be a mapping", NULL);
	load_err("- a\n- b\n", "1:1", "a spec is a mapping", NULL);
}

static void test_error_range(void **state)
{
	(void)state;
	load_err(BASE "train: {m: 0, gamma: 1}\n", "2:12", "m must be >= 1, got 0", NULL);
	load_err("model: {n: 0, m: 1, gamma: 1, alpha: 1}\n", "1:12", "n must be >= 1", NULL);
	load_err(BASE "train: {m: 1, gamma: 1, batch: 0}\n", "2:32", "batch must be >= 1", NULL);
	load_err(BASE "train: {m: 1, gamma: 1, steps: 0}\n", "2:32", "steps must be >= 1", NULL);
	load_err(BASE "train: {m: 1, gamma: 1, E: 0}\n", "2:28", "E must be > 0, got 0", NULL);
	load_err(BASE "train: {m: 1, gamma: 1, lr: -0.1}\n", "2:29", "lr must be > 0", NULL);
	load_err(BASE "train: {m: 1, gamma: 1, eval_samples: -1}\n", "2:39",
		 "eval_samples must be >= 0", NULL);
	load_err(BASE "train: {m: 1, gamma: 1, threads: 0}\n", "2:34", "threads must be >= 1",
		 NULL);
	load_err(BASE "train: {m: 1, gamma: 1, density_s: 1.5}\n", "2:36", "density_s must be <= 1",
		 NULL);
	load_err(BASE "train: {m: 1, gamma: 1, lr_min_ratio: 2}\n", "2:39",
		 "lr_min_ratio must be <= 1", NULL);
	load_err(BASE "train: {m: 1, gamma: 1, warmup_frac: 1}\n", "2:38",
		 "warmup_frac must be < 1", NULL);
	load_err("seed: -1\n" BASE, "1:7", "campaign seed", NULL);
	load_err("seed: 18446744073709551616\n" BASE, "1:7", "campaign seed", NULL);
}

static void test_error_cross(void **state)
{
	(void)state;
	load_err(BASE "train: {m: 1, gamma: 1, steps: 10, warmup: 10}\n", "2:44",
		 "warmup (10 steps) must be less than steps (10)", NULL);
	load_err(BASE "train: {m: 1, gamma: 1, warmup: 100}\ngrid: {steps: [1000, 50]}\n", "2:33",
		 "warmup (100 steps)", "steps=50", NULL);
	load_err(BASE "train: {m: 1, gamma: 1, steps: 10, log_every: 20}\n", "2:47",
		 "log_every (20)", NULL);
	load_err(BASE "train: {m: 1, gamma: 1, warmup: 5, warmup_frac: 0.1}\n", "2:36",
		 "warmup or warmup_frac", NULL);
	load_err("model: {n: 10, m: 5, gamma: 1}\n", "1:1", "alpha is required", NULL);
	load_err("model: {n: 10, gamma: 1, alpha: 1}\n", "1:1", "missing required parameter m",
		 NULL);
	/* p_1 = E / H_{10,0} = 20/10 = 2 > 1 */
	load_err("model: {n: 10, m: 5, gamma: 1, alpha: 0, E: 20}\n", "1:45", "p = 2 > 1", NULL);
}

static void test_error_grid(void **state)
{
	(void)state;
	load_err(BASE "grid: {}\n", "2:7", "empty grid", NULL);
	load_err(BASE "train: {gamma: 1}\ngrid: {m: []}\n", "3:11", "axis of m is empty", NULL);
	load_err(BASE "train: {gamma: 1}\ngrid: {m: [1, 2, 1]}\n", "3:18", "duplicate job point",
		 "3:12", NULL);
	load_err(BASE "train: {gamma: 1}\ngrid: {m: [3]}\nfilter: [\"m > 3\"]\n", "4:1",
		 "keeps none of the 1 grid points", NULL);
	load_err(BASE "train: {gamma: 1}\ngrid: {m: {logspace: [10, 100, 6]}}\n", "3:12",
		 "15.8489319246111", "round", NULL);
	load_err(BASE "train: {gamma: 1}\ngrid: {m: {range: [1, 100000]}, seed: {range: [0, "
		      "1000]}}\n",
		 "3:1", "more than 10000000 points", NULL);
}

static void test_error_alias(void **state)
{
	(void)state;
	/* a recursive alias must not loop */
	load_err(BASE "train: {gamma: 1}\ngrid: {m: &a [*a]}\n", "3:11", "must be a single value",
		 NULL);
	load_err(BASE "train: {gamma: 1, m: *x}\n", "2:22", "undefined alias", NULL);
}

/* ---- axes ---- */

static void collect_m(const struct spec *s, int64_t *out)
{
	for (size_t i = 0; i < s->njobs; i++)
		out[i] = s->jobs[i].m;
}

static void test_logspace_floor(void **state)
{
	struct spec *s = load(BASE "train: {gamma: 1, steps: 100}\n"
				   "grid: {m: {logspace: [10, 100, 6], round: floor}}\n");
	int64_t m[6];

	(void)state;
	assert_int_equal(s->njobs, 6);
	collect_m(s, m);
	/* dispatch order: largest first */
	assert_int_equal(m[0], 100);
	assert_int_equal(m[1], 63);
	assert_int_equal(m[2], 39);
	assert_int_equal(m[3], 25);
	assert_int_equal(m[4], 15);
	assert_int_equal(m[5], 10);
	spec_destroy(&s);
	/* 10^k exactly, not 9.999999999999998 */
	s = load(BASE "train: {gamma: 1, steps: 100}\n"
		      "grid: {m: {logspace: [1, 1000, 4], round: floor}}\n");
	collect_m(s, m);
	assert_int_equal(m[0], 1000);
	assert_int_equal(m[1], 100);
	assert_int_equal(m[2], 10);
	assert_int_equal(m[3], 1);
	spec_destroy(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_short_run_defaults),
		cmocka_unit_test(test_all_settings),
		cmocka_unit_test(test_canonical_form),
		cmocka_unit_test(test_canonical_names_sorted),
		cmocka_unit_test(test_key_stability),
		cmocka_unit_test(test_key_golden),
		cmocka_unit_test(test_error_empty),
		cmocka_unit_test(test_error_syntax),
		cmocka_unit_test(test_error_unknown_key),
		cmocka_unit_test(test_error_duplicate_key),
		cmocka_unit_test(test_error_type),
		cmocka_unit_test(test_error_range),
		cmocka_unit_test(test_error_cross),
		cmocka_unit_test(test_error_grid),
		cmocka_unit_test(test_error_alias),
		cmocka_unit_test(test_logspace_floor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
