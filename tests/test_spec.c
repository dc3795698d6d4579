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
#include <unistd.h>

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
	load_err(BASE "train: {M: 1}\n", "2:9", "did you mean 'm'", NULL);
	load_err(BASE "train: {e: 1}\n", "2:9", "did you mean 'E'", NULL);
	load_err(BASE "train: {Steps: 1}\n", "2:9", "did you mean 'steps'", NULL);
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
	load_err(BASE "train: {m: 010, gamma: 1}\n", "2:12", "m: '010' has a leading zero", NULL);
	load_err(BASE "train: {m: 1, gamma: -01.5}\n", "2:22", "leading zero", NULL);
	load_err(BASE "train: {m: 5, gamma: 1, save_weights: 1}\n", "2:39", "true or false", NULL);
	load_err(BASE "train: {m: 5, gamma: 1, dist: powr}\n", "2:31", "did you mean 'power'",
		 NULL);
	load_err(BASE "train: {m: [1, 2], gamma: 1}\n", "2:12",
		 "m under train takes a single value, not a list", NULL);
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
	/* threads is not part of the key: an axis over it alone repeats points */
	load_err(BASE "train: {gamma: 1, m: 2}\ngrid: {threads: [1, 2]}\n", "3:21",
		 "duplicate job point", "3:18", "threads=2", NULL);
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

static void test_linspace(void **state)
{
	struct spec *s = load(BASE "train: {m: 4, steps: 100}\n"
				   "grid: {gamma: {linspace: [-1, 1, 5]}}\n");

	(void)state;
	assert_int_equal(s->njobs, 5);
	/* equal cost: expansion order */
	assert_true(s->jobs[0].gamma == -1);
	assert_true(s->jobs[1].gamma == -0.5);
	assert_true(s->jobs[2].gamma == 0);
	assert_true(s->jobs[3].gamma == 0.5);
	assert_true(s->jobs[4].gamma == 1);
	spec_destroy(&s);
	/* the paper's gamma grid: values rounded to 15 significant digits */
	s = load(BASE "train: {m: 4, steps: 100}\ngrid: {gamma: {linspace: [-1, 1, 10]}}\n");
	assert_int_equal(s->njobs, 10);
	assert_true(s->jobs[1].gamma == -0.777777777777778);
	assert_true(s->jobs[4].gamma == -0.111111111111111);
	assert_true(s->jobs[9].gamma == 1);
	spec_destroy(&s);
	/* k = 1 gives a */
	s = load(BASE "train: {m: 4, steps: 100}\ngrid: {gamma: {linspace: [0.3, 7, 1]}}\n");
	assert_int_equal(s->njobs, 1);
	assert_true(s->jobs[0].gamma == 0.3);
	spec_destroy(&s);
	/* an integer parameter from linspace with integral values */
	s = load(BASE "train: {gamma: 1, steps: 100}\ngrid: {m: {linspace: [2, 10, 5]}}\n");
	assert_int_equal(s->njobs, 5);
	assert_int_equal(s->jobs[0].m, 10);
	assert_int_equal(s->jobs[4].m, 2);
	spec_destroy(&s);
	load_err(BASE "train: {gamma: 1}\ngrid: {m: {linspace: [1, 2, 3]}}\n", "3:12",
		 "linspace gives 1.5 for the integer parameter m", NULL);
	load_err(BASE "train: {m: 1}\ngrid: {gamma: {linspace: [1, 2, 0]}}\n", "3:33",
		 "count must be >= 1", NULL);
	load_err(BASE "train: {m: 1}\ngrid: {gamma: {linspace: [1, 2]}}\n", "3:26", "[a, b, k]",
		 "got 2 values", NULL);
	load_err(BASE "train: {m: 1}\ngrid: {gamma: {linspace: 3}}\n", "3:26", "takes a list",
		 NULL);
	load_err(BASE "train: {m: 1}\ngrid: {gamma: {linspace: [0, 1, 2], range: [0, 1]}}\n",
		 "3:37", "one generator", NULL);
	load_err(BASE "train: {m: 1}\ngrid: {gamma: {round: floor}}\n", "3:15", "needs linspace",
		 NULL);
	load_err(BASE "train: {m: 1}\ngrid: {E: {linspace: [0, 1, 3]}, gamma: [1]}\n", "3:12",
		 "E must be > 0, got 0", NULL);
}

static void test_logspace_real(void **state)
{
	struct spec *s = load(BASE "train: {m: 4, gamma: 1, steps: 100}\n"
				   "grid: {lr: {logspace: [0.001, 0.1, 3]}}\n");

	(void)state;
	assert_int_equal(s->njobs, 3);
	assert_true(s->jobs[0].lr_w == 0.001);
	assert_true(s->jobs[1].lr_w == 0.01);
	assert_true(s->jobs[2].lr_w == 0.1);
	spec_destroy(&s);
	load_err(BASE "train: {m: 1}\ngrid: {gamma: {logspace: [0, 1, 3]}}\n", "3:26",
		 "logspace needs a > 0", NULL);
}

static void test_round_modes(void **state)
{
	struct spec *s;

	(void)state;
	s = load(BASE "train: {gamma: 1, steps: 100}\n"
		      "grid: {m: {logspace: [10, 100, 6], round: ceil}}\n");
	assert_int_equal(s->jobs[1].m, 64);
	assert_int_equal(s->jobs[4].m, 16);
	spec_destroy(&s);
	s = load(BASE "train: {gamma: 1, steps: 100}\n"
		      "grid: {m: {logspace: [10, 100, 6], round: nearest}}\n");
	assert_int_equal(s->jobs[1].m, 63);
	assert_int_equal(s->jobs[2].m, 40);
	assert_int_equal(s->jobs[4].m, 16);
	spec_destroy(&s);
	load_err(BASE "train: {gamma: 1}\ngrid: {m: {logspace: [10, 100, 6], round: up}}\n", "3:43",
		 "round must be floor, ceil or nearest", NULL);
	/* rounding may collapse values: a duplicate, named */
	load_err(BASE "train: {gamma: 1, steps: 100}\n"
		      "grid: {m: {logspace: [1, 2, 5], round: floor}}\n",
		 "3:12", "this generator gives the same point twice", "m=1)", NULL);
}

static void test_range(void **state)
{
	struct spec *s;

	(void)state;
	/* inclusive end */
	s = load(BASE "train: {m: 4, gamma: 1, steps: 100}\ngrid: {seed: {range: [0, 3]}}\n");
	assert_int_equal(s->njobs, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(s->jobs[i].seed, i);
	spec_destroy(&s);
	s = load(BASE "train: {gamma: 1, steps: 100}\ngrid: {m: {range: [10, 1, -4]}}\n");
	assert_int_equal(s->njobs, 3);
	assert_int_equal(s->jobs[0].m, 10);
	assert_int_equal(s->jobs[1].m, 6);
	assert_int_equal(s->jobs[2].m, 2);
	spec_destroy(&s);
	/* a real parameter takes integer steps */
	s = load(BASE "train: {m: 4, steps: 100}\ngrid: {gamma: {range: [-2, 2, 2]}}\n");
	assert_int_equal(s->njobs, 3);
	assert_true(s->jobs[0].gamma == -2 && s->jobs[2].gamma == 2);
	spec_destroy(&s);
	load_err(BASE "train: {gamma: 1}\ngrid: {m: {range: [5, 1]}}\n", "3:19", "empty range",
		 NULL);
	load_err(BASE "train: {gamma: 1}\ngrid: {m: {range: [1, 5, 0]}}\n", "3:26",
		 "step must not be 0", NULL);
	load_err(BASE "train: {gamma: 1}\ngrid: {m: {range: [1.5, 5]}}\n", "3:20",
		 "range start of m must be an integer", NULL);
	load_err(BASE "train: {gamma: 1}\ngrid: {m: {range: [0, 5]}}\n", "3:12",
		 "m must be >= 1, got 0", NULL);
	load_err(BASE "train: {m: 1}\ngrid: {dist: {range: [0, 5]}, gamma: [1]}\n", "3:14",
		 "dist takes a list", NULL);
}

static void test_grid_forms(void **state)
{
	struct spec *s;

	(void)state;
	/* a scalar under grid is a fixed value; lr_w is a synonym of lr */
	s = load(BASE "grid: {m: 3, gamma: [1, -1], lr_w: 0.5}\n");
	assert_int_equal(s->njobs, 2);
	assert_int_equal(s->jobs[0].m, 3);
	assert_true(s->jobs[0].lr_w == 0.5);
	assert_true(s->jobs[0].gamma == 1 && s->jobs[1].gamma == -1);
	spec_destroy(&s);
	/* every kind as an axis */
	s = load("model: {n: 100, m: 2, gamma: 1}\n"
		 "grid: {dist: [power, exponential, linear], save_weights: [false, true],"
		 " alpha: [1]}\n");
	assert_int_equal(s->njobs, 6);
	spec_destroy(&s);
	load_err(BASE "grid: {m: [[1]], gamma: [1]}\n", "2:12", "single value", NULL);
	load_err(BASE "grid: {m: [{a: 1}], gamma: [1]}\n", "2:12", "single value", NULL);
	load_err(BASE "grid: [m, gamma]\n", "2:7", "grid must be a mapping", NULL);
	load_err(BASE "grid:\n", "2:6", "grid must be a mapping", NULL);
	load_err(BASE "grid: {m: [1], gama: [1]}\n", "2:16", "'gama'", "did you mean 'gamma'",
		 NULL);
}

static void test_zip(void **state)
{
	struct spec *s;

	(void)state;
	s = load(BASE "train: {gamma: 1, steps: 100}\n"
		      "zip: {m: [10, 20, 40], lr: [0.04, 0.02, 0.01]}\n");
	assert_int_equal(s->njobs, 3);
	for (size_t i = 0; i < 3; i++)
		assert_true(s->jobs[i].lr_w * (double)s->jobs[i].m == 0.4);
	spec_destroy(&s);
	/* a list of groups; and zip under grid; with a generator */
	s = load(BASE "train: {steps: 100}\n"
		      "zip:\n"
		      "  - {m: {range: [1, 3]}, seed: [7, 8, 9]}\n"
		      "  - {gamma: [-1, 1], E: [1, 2]}\n"
		      "grid: {zip: {batch: [8, 16], eval_samples: [0, 10]}}\n");
	assert_int_equal(s->njobs, 12);
	for (size_t i = 0; i < s->njobs; i++) {
		const struct job_point *j = &s->jobs[i];
		assert_int_equal(j->seed, j->m + 6);
		assert_true(j->E == (j->gamma < 0 ? 1 : 2));
		assert_int_equal(j->eval_samples, j->batch == 8 ? 0 : 10);
	}
	spec_destroy(&s);
	load_err(BASE "train: {gamma: 1}\nzip: {m: [1, 2, 3], lr: [0.1, 0.2]}\n", "3:25",
		 "zip lists must have equal lengths: lr has 2 values, m (at 3:10) has 3", NULL);
	load_err(BASE "train: {gamma: 1}\nzip: {m: 3, lr: [0.1]}\n", "3:10",
		 "must be a list or a generator", NULL);
	load_err(BASE "train: {gamma: 1}\nzip: [{m: [1]}, 3]\n", "3:17",
		 "zip group must be a mapping", NULL);
	load_err(BASE "train: {gamma: 1}\nzip: []\n", "3:6", "zip is empty", NULL);
	load_err(BASE "train: {gamma: 1}\nzip: [{}]\n", "3:7", "empty zip group", NULL);
	load_err(BASE "train: {gamma: 1}\nzip: {m: [1], mm: [2]}\n", "3:15", "'mm'",
		 "did you mean 'm'", NULL);
	load_err(BASE "train: {gamma: 1}\nzip: {m: [1, 2]}\ngrid: {m: [3]}\n", "4:8",
		 "m is set twice", "3:7", NULL);
	load_err(BASE "train: {gamma: 1}\nzip: {m: [1, 2], lr: [0.1, 0.1]}\n"
		      "grid: {zip: {seed: [1]}, zip: {batch: [1]}}\n",
		 "4:26", "duplicate key 'zip'", NULL);
	/* duplicate rows of a zip group */
	load_err(BASE "train: {gamma: 1}\nzip: {m: [1, 2, 1], lr: [0.1, 0.2, 0.1]}\n", "3:17",
		 "duplicate job point", "3:11", NULL);
}

static void test_filter(void **state)
{
	struct spec *s;

	(void)state;
	s = load("model: {n: 40, alpha: 1, gamma: 1}\ntrain: {steps: 100}\n"
		 "grid: {m: [10, 30, 50, 70], seed: [0, 1]}\nfilter: [\"m <= n\", \"2 > seed\"]\n");
	assert_int_equal(s->njobs, 4);
	assert_int_equal(s->ngrid, 8);
	for (size_t i = 0; i < s->njobs; i++)
		assert_true(s->jobs[i].m <= 40);
	spec_destroy(&s);
	s = load("model: {n: 40, m: 5, alpha: 1, gamma: 1}\ntrain: {steps: 100}\n"
		 "grid: {dist: [power, linear, exponential], lr: [0.1, 0.2]}\n"
		 "filter: [dist != linear, 'lr < 0.15', lr_b == 0.1]\n");
	assert_int_equal(s->njobs, 2);
	for (size_t i = 0; i < s->njobs; i++) {
		assert_int_not_equal(s->jobs[i].dist, SPEC_DIST_LINEAR);
		assert_true(s->jobs[i].lr_w == 0.1);
	}
	spec_destroy(&s);
	/* a single string; filtering on a resolved default (warmup) */
	s = load(BASE "train: {gamma: 1}\ngrid: {m: [1], steps: [10, 100, 1000]}\n"
		      "filter: warmup >= 10\n");
	assert_int_equal(s->njobs, 2);
	spec_destroy(&s);
	/* an invalid point the filter removes is not an error */
	s = load(BASE "train: {gamma: 1, m: 1, warmup: 50}\ngrid: {steps: [10, 100]}\n"
		      "filter: steps > warmup\n");
	assert_int_equal(s->njobs, 1);
	spec_destroy(&s);
	/* numbers on either side, signs, exponents, no spaces */
	s = load(BASE "train: {gamma: -1, steps: 100}\ngrid: {m: {range: [1, 20]}}\n"
		      "filter: [m<=1.2e1, '-5 < gamma', 3.5 <= m, gamma < +1e-3]\n");
	assert_int_equal(s->njobs, 9);
	spec_destroy(&s);
	load_err(BASE "train: {gamma: 1, m: 1}\nfilter: [m < 1e]\n", "3:14",
		 "expected a parameter name or a number", NULL);
	load_err(BASE "train: {gamma: 1, m: 1}\nfilter: [m < 1e999]\n", "3:14",
		 "number out of range", NULL);
	load_err(BASE "train: {gamma: 1, m: 1}\nfilter: [\"m <= q\"]\n", "3:16",
		 "unknown parameter 'q'", NULL);
	load_err(BASE "train: {gamma: 1, m: 1}\nfilter: [\"mm <= n\"]\n", "3:11",
		 "unknown parameter 'mm'", "did you mean 'm'", NULL);
	load_err(BASE "train: {gamma: 1, m: 1}\nfilter: [m = n]\n", "3:12", "expected a comparison",
		 NULL);
	load_err(BASE "train: {gamma: 1, m: 1}\nfilter: [m < n x]\n", "3:16", "unexpected text",
		 NULL);
	load_err(BASE "train: {gamma: 1, m: 1}\nfilter: [1 < 2]\n", "3:10", "no parameter", NULL);
	load_err(BASE "train: {gamma: 1, m: 1}\nfilter: [dist < power]\n", "3:10",
		 "dist compares only", NULL);
	load_err(BASE "train: {gamma: 1, m: 1}\nfilter: [m == power]\n", "3:10",
		 "dist compares only", NULL);
	load_err(BASE "train: {gamma: 1, m: 1}\nfilter: [m < ]\n", "3:13",
		 "expected a parameter name or a number", NULL);
	load_err(BASE "train: {gamma: 1, m: 1}\nfilter: [[m]]\n", "3:10", "must be a string", NULL);
	load_err(BASE "train: {gamma: 1, m: 1}\nfilter: {m: 1}\n", "3:9", "filter must be a list",
		 NULL);
}

static void test_lr_rules(void **state)
{
	struct spec *s;

	(void)state;
	/* the paper's large models: W 0.02·(8/m)^0.25, b 2/m */
	s = load("model: {n: 1000, alpha: 1, gamma: -1}\ntrain: {steps: 100, "
		 "lr: {c: 0.02, m0: 8, k: 0.25}, lr_b: {c: 2}}\ngrid: {m: [8, 16, 128]}\n");
	assert_int_equal(s->njobs, 3);
	assert_int_equal(s->jobs[0].m, 128);
	assert_true(s->jobs[0].lr_w == 0.01); /* 0.02·(1/16)^0.25 */
	assert_true(s->jobs[0].lr_b == 0.015625);
	assert_int_equal(s->jobs[1].m, 16);
	assert_true(s->jobs[1].lr_w == 0.0168179283050743); /* 15 significant digits */
	assert_true(s->jobs[1].lr_b == 0.125);
	assert_true(s->jobs[2].lr_w == 0.02);
	assert_true(s->jobs[2].lr_b == 0.25);
	spec_destroy(&s);
	/* lr_b defaults to the resolved lr */
	s = load("model: {n: 100, alpha: 1, gamma: -1}\ntrain: {steps: 100, lr: {c: 1}}\n"
		 "grid: {m: [4]}\n");
	assert_true(s->jobs[0].lr_w == 0.25 && s->jobs[0].lr_b == 0.25);
	spec_destroy(&s);
	/* rules as axis values, and in a grid */
	s = load("model: {n: 100, alpha: 1, gamma: -1, m: 4}\ntrain: {steps: 100}\n"
		 "grid: {lr: [0.1, {c: 0.8, k: 1}], lr_b: {c: 4}}\n");
	assert_int_equal(s->njobs, 2);
	assert_true(s->jobs[0].lr_w == 0.1 && s->jobs[1].lr_w == 0.2);
	assert_true(s->jobs[0].lr_b == 1 && s->jobs[1].lr_b == 1);
	spec_destroy(&s);
	load_err(BASE "train: {m: 1, gamma: 1, lr: {m0: 8}}\n", "2:29", "needs c", NULL);
	load_err(BASE "train: {m: 1, gamma: 1, lr: {c: 0}}\n", "2:33", "lr rule c must be > 0",
		 NULL);
	load_err(BASE "train: {m: 1, gamma: 1, lr: {c: 1, m0: -8}}\n", "2:40",
		 "lr rule m0 must be > 0", NULL);
	load_err(BASE "train: {m: 1, gamma: 1, lr_b: {c: 1, kk: 1}}\n", "2:38", "'kk'",
		 "did you mean 'k'", NULL);
	load_err(BASE "train: {m: 1, gamma: 1, lr: {c: 1, c: 2}}\n", "2:36", "duplicate key 'c'",
		 "2:30", NULL);
	/* a rule that overflows */
	load_err(BASE "train: {m: 1, gamma: 1, lr: {c: 1, m0: 1e300, k: 10}}\n", "2:29",
		 "the lr rule gives inf", NULL);
	load_err(BASE "train: {gamma: 1, lr_b: {c: 1e-300, k: 10}}\ngrid: {m: [1e6]}\n", "2:25",
		 "the lr_b rule gives 0 at m = 1000000", NULL);
}

static void test_warmup_frac(void **state)
{
	struct spec *s = load(BASE "train: {m: 1, gamma: 1, warmup_frac: 0.05}\n"
				   "grid: {steps: [20000, 100, 7]}\n");

	(void)state;
	assert_int_equal(s->njobs, 3);
	assert_int_equal(s->jobs[0].warmup, 1000);
	assert_int_equal(s->jobs[1].warmup, 5);
	assert_int_equal(s->jobs[2].warmup, 0); /* floor(0.35) */
	spec_destroy(&s);
}

static void test_frequencies(void **state)
{
	struct spec *s = load("model: {n: 10240, m: 8, gamma: 1, E: 1}\ntrain: {steps: 10}\n"
			      "grid: {zip: {dist: [power, exponential, linear, power, power],"
			      " alpha: [1.2, 0, 0, 0, 1], density_s: [0, 0, 0, 0.5, 1]}}\n");
	double *p = malloc(10240 * sizeof *p);

	(void)state;
	assert_non_null(p);
	assert_int_equal(s->njobs, 5);
	for (size_t i = 0; i < s->njobs; i++) {
		const struct job_point *j = &s->jobs[i];
		double sum = 0, pmax = spec_job_pmax(j);
		spec_job_freqs(j, p);
		for (int64_t k = 0; k < j->n; k++)
			sum += p[k];
		/* the closed forms (Euler-Maclaurin for the power tail) agree with
		 * the exact frequencies */
		assert_true(fabs(pmax - p[0]) <= 1e-12 * p[0]);
		for (int64_t k = 1; k < j->n; k++)
			assert_true(p[k] <= p[k - 1]);
		if (j->density_s == 0)
			assert_true(fabs(sum - 1) < 1e-12);
		if (j->density_s == 1)
			assert_true(p[0] == 1);
	}
	free(p);
	spec_destroy(&s);
	/* linear p_0 = 2E/(n+1); density s = 1 puts p_1 at exactly 1 */
	s = load("model: {n: 9, m: 2, gamma: 1, dist: linear, E: 4.9}\ntrain: {steps: 10}\n");
	assert_true(fabs(spec_job_pmax(&s->jobs[0]) - 0.98) < 1e-15);
	spec_destroy(&s);
	load_err("model: {n: 9, m: 2, gamma: 1, dist: linear, E: 5.1}\n", "1:48", "p = 1.02 > 1",
		 NULL);
	/* p_0 = 1 exactly is allowed, just above is not */
	s = load("model: {n: 9, m: 2, gamma: 1, dist: linear, E: 5}\ntrain: {steps: 10}\n");
	assert_true(spec_job_pmax(&s->jobs[0]) == 1);
	spec_destroy(&s);
	load_err("model: {n: 9, m: 2, gamma: 1, dist: linear, E: 5.00000001}\n", "1:48",
		 "p = 1.000000002 > 1", NULL);
	/* the paper's density sweep reaches E = H_1000 at s = 1 */
	s = load("model: {n: 1000, m: 2, gamma: 1, alpha: 1, density_s: 1}\ntrain: {steps: 10}\n");
	{
		double *q = malloc(1000 * sizeof *q), sum = 0;
		assert_non_null(q);
		spec_job_freqs(&s->jobs[0], q);
		for (int k = 0; k < 1000; k++)
			sum += q[k];
		assert_true(fabs(sum - 7.485470860550345) < 1e-9);
		free(q);
	}
	spec_destroy(&s);
	load_err("model: {n: 100, m: 2, gamma: 1, dist: exponential, dist_scale: 1, E: 2}\n",
		 "1:70", "p = 1.26424111765712 > 1", NULL);
}

static void test_pmax_accuracy(void **state)
{
	/* the closed form (Euler-Maclaurin) against the exact frequencies */
	static const double alphas[] = {0, 0.1, 0.5, 0.999999999999, 1, 1.000001, 1.2, 2, 3, 10};
	static const int64_t ns[] = {1, 2, 200, 201, 1000, 10240, 100000};
	double *p = malloc(100000 * sizeof *p);

	(void)state;
	assert_non_null(p);
	for (size_t a = 0; a < sizeof alphas / sizeof alphas[0]; a++)
		for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
			struct job_point j;
			double pm;
			memset(&j, 0, sizeof j);
			j.n = ns[k];
			j.alpha = alphas[a];
			j.E = 1;
			j.dist = SPEC_DIST_POWER;
			pm = spec_job_pmax(&j);
			spec_job_freqs(&j, p);
			if (!(fabs(pm - p[0]) <= 1e-12 * p[0]))
				fail_msg("alpha %.17g n %lld: pmax %.17g, p[0] %.17g", alphas[a],
					 (long long)ns[k], pm, p[0]);
		}
	free(p);
}

static void test_dispatch_order(void **state)
{
	struct spec *s = load("model: {n: 100, alpha: 1}\ntrain: {steps: 100}\n"
			      "grid: {gamma: [0.5, -1, 0.25], m: [2, 8, 4], batch: [10, 40]}\n");

	(void)state;
	assert_int_equal(s->njobs, 18);
	for (size_t i = 1; i < s->njobs; i++) {
		const struct job_point *a = &s->jobs[i - 1], *b = &s->jobs[i];
		assert_true(spec_job_flop(a) >= spec_job_flop(b));
	}
	/* ties (same m and batch) in expansion order: gamma as listed */
	assert_int_equal(s->jobs[0].m, 8);
	assert_int_equal(s->jobs[0].batch, 40);
	assert_true(s->jobs[0].gamma == 0.5);
	assert_true(s->jobs[1].gamma == -1);
	assert_true(s->jobs[2].gamma == 0.25);
	/* flop = 6·B·n·m·steps + 2·eval·n·m */
	assert_true(spec_job_flop(&s->jobs[0]) == 6.0 * 40 * 100 * 8 * 100 + 2.0 * 4000 * 100 * 8);
	spec_destroy(&s);
}

static void test_misc_errors(void **state)
{
	struct spec *s = NULL;
	int rc;

	(void)state;
	load_err(BASE "train: {m: 1, gamma: 1}\n---\nmodel: {}\n", "4:1", "second YAML document",
		 NULL);
	load_err("name: \"\"\n" BASE, "1:7", "name must be a non-empty string", NULL);
	load_err("name: [a]\n" BASE, "1:7", "name must be", NULL);
	load_err("seed: 1.5\n" BASE, "1:7", "campaign seed", "'1.5'", NULL);
	load_err("{[a]: 1}\n", "1:2", "mapping key must be a word", NULL);
	load_err(BASE "train: {m: 1, gamma: 1, steps: 1e99}\n", "2:32", "too large", NULL);
	load_err(BASE "train: {m: 1, gamma: 1, steps: 1e999}\n", "2:32", "out of range", NULL);
	load_err("model: {n: 4294967296, m: 1, gamma: 1, alpha: 1}\n", "1:12",
		 "n must be <= 2147483647, got 4294967296", NULL);
	/* a bound on grid points */
	{
		const char *t = BASE "train: {gamma: 1, steps: 100}\ngrid: {m: {range: [1, 11]}}\n";
		rc = spec_load_string_max(t, strlen(t), "t.yaml", 10, &s, err);
		assert_int_equal(rc, ERR_INVAL);
		assert_null(s);
		assert_non_null(strstr(err, "more than the limit of 10 points"));
		rc = spec_load_string_max(t, strlen(t), "t.yaml", 11, &s, err);
		assert_int_equal(rc, 0);
		assert_int_equal(s->njobs, 11);
		spec_destroy(&s);
	}
	load_err(BASE "train: {gamma: 1}\ngrid: {m: {linspace: [1, 2e7, 20000001]}}\n", "3:31",
		 "more than the limit", NULL);
	/* ERR may be NULL */
	assert_int_equal(spec_load_string("model: [", 8, "t.yaml", &s, NULL), ERR_INVAL);
	assert_int_equal(spec_load_string("model: {n: 1, m: 1, gamma: 1}", 29, "t.yaml", &s, NULL),
			 ERR_INVAL);
	assert_null(s);
	/* NUL bytes inside a key */
	rc = spec_load_string("model: {\"n\\0x\": 1}\n", 19, "t.yaml", &s, err);
	assert_int_equal(rc, ERR_INVAL);
	assert_non_null(strstr(err, "NUL"));
}

static void test_billion_laughs(void **state)
{
	/* Aliases are node references: nothing is copied, and the reader
	 * rejects the first misplaced reference. */
	const char *text = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
	char big[4096];
	int n;

	(void)state;
	n = snprintf(big, sizeof big,
		     BASE "train: {m: 1, gamma: 1}\nfilter: &b [&c [&d [%s], *d, *d], *c, *c]\n",
		     "m > 0, m > 0, m > 0");
	assert_true(n > 0 && (size_t)n < sizeof big);
	load_err(big, "3:13", "must be a string", NULL);
	load_err(text, "1:1", "unknown key 'a'", NULL);
	/* many references to one condition are read once each */
	{
		char spec[8192];
		size_t pos = (size_t)snprintf(spec, sizeof spec,
					      BASE "train: {m: 1, gamma: 1}\nfilter: [&c m > 0");
		for (int i = 0; i < 1000; i++)
			pos += (size_t)snprintf(spec + pos, sizeof spec - pos, ", *c");
		snprintf(spec + pos, sizeof spec - pos, "]\n");
		spec_destroy(&(struct spec *){load(spec)});
	}
}

static void test_aliases(void **state)
{
	struct spec *s;

	(void)state;
	/* an alias is the anchored node itself, usable wherever a value is */
	s = load("model: {n: &N 100, alpha: 1, gamma: 1}\ntrain: {steps: 100}\n"
		 "grid: {m: [10, *N]}\n");
	assert_int_equal(s->njobs, 2);
	assert_int_equal(s->jobs[0].m, 100);
	assert_int_equal(s->jobs[1].m, 10);
	spec_destroy(&s);
	s = load(BASE "train: {gamma: 1, steps: 100}\nzip: {m: &ms [1, 2, 3], seed: *ms}\n");
	assert_int_equal(s->njobs, 3);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(s->jobs[i].seed, s->jobs[i].m);
	spec_destroy(&s);
	/* billion laughs through the grid: three references to one list of
	 * 1000 values would be 10^9 points, refused before anything is built */
	{
		char spec[16384];
		size_t pos = (size_t)snprintf(spec, sizeof spec,
					      BASE "train: {m: 1}\ngrid:\n  gamma: &g [0");
		for (int i = 1; i < 1000; i++)
			pos += (size_t)snprintf(spec + pos, sizeof spec - pos, ", %d", i);
		snprintf(spec + pos, sizeof spec - pos,
			 "]\n  seed: *g\n  E: {linspace: [1, 2, 1000]}\n");
		load_err(spec, "3:1", "more than 10000000 points", NULL);
	}
}

static void test_file_io(void **state)
{
	char path[] = "/tmp/test_spec_XXXXXX";
	int fd = mkstemp(path);
	struct spec *s = NULL;
	const char *text = "name: from-file\n" BASE "train: {m: 1, gamma: 1}\n";
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(spec_load_file(path, &s, err), 0);
	assert_string_equal(s->path, path);
	assert_string_equal(s->text, text);
	assert_int_equal(s->text_len, strlen(text));
	assert_string_equal(s->name, "from-file");
	spec_destroy(&s);
	unlink(path);
	assert_int_equal(spec_load_file(path, &s, err), ERR_IO);
	assert_null(s);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file"));
	/* the default name is the file name without .yaml */
	text = BASE "train: {m: 1, gamma: 1}\n";
	assert_int_equal(spec_load_string(text, strlen(text), "dir/x.y.yaml", &s, err), 0);
	assert_string_equal(s->name, "x.y");
	spec_destroy(&s);
}

static void test_dist_names(void **state)
{
	enum spec_dist d = SPEC_DIST_LINEAR;

	(void)state;
	assert_int_equal(spec_dist_parse("power", &d), 0);
	assert_int_equal(d, SPEC_DIST_POWER);
	assert_int_equal(spec_dist_parse("exponential", &d), 0);
	assert_int_equal(d, SPEC_DIST_EXPONENTIAL);
	assert_int_equal(spec_dist_parse("Power", &d), ERR_INVAL);
	assert_int_equal(d, SPEC_DIST_EXPONENTIAL);
	assert_string_equal(spec_dist_name(SPEC_DIST_LINEAR), "linear");
	assert_string_equal(spec_dist_name((enum spec_dist)7), "unknown");
}

static void test_param_table(void **state)
{
	(void)state;
	assert_int_equal(spec_nparams, 19);
	for (size_t p = 0; p < spec_nparams; p++) {
		const struct spec_param *sp = &spec_params[p];
		assert_non_null(sp->name);
		assert_non_null(sp->unit);
		assert_non_null(sp->doc);
		assert_true(sp->offset < sizeof(struct job_point));
		assert_int_equal(sp->key_part, strcmp(sp->name, "threads") != 0);
	}
	assert_int_equal(spec_params[0].offset, offsetof(struct job_point, n));
	assert_string_equal(spec_params[18].name, "threads");
	assert_int_equal(spec_params[18].type, SPEC_INT);
}

static void test_format_real(void **state)
{
	char buf[32];

	(void)state;
	spec_format_real(0.1, buf, sizeof buf);
	assert_string_equal(buf, "0.1");
	spec_format_real(-0.0, buf, sizeof buf);
	assert_string_equal(buf, "0");
	spec_format_real(1.0 / 3, buf, sizeof buf);
	assert_string_equal(buf, "0.3333333333333333");
	spec_format_real(0.1 + 0.2, buf, sizeof buf);
	assert_string_equal(buf, "0.30000000000000004");
}

/* ---- diff ---- */

static void test_diff(void **state)
{
	struct spec *a = load("seed: 1\n" BASE "train: {gamma: 1, steps: 100}\n"
			      "grid: {m: [1, 2, 3, 4, 5]}\n");
	struct spec *b;

	(void)state;
	b = load("seed: 1\n" BASE "train: {steps: 100, gamma: 1.0}\ngrid: {m: [1, 2, 3, 4, 5]}\n");
	assert_int_equal(spec_diff(a, b, err), 0);
	assert_string_equal(err, "");
	spec_destroy(&b);
	b = load("seed: 2\n" BASE "train: {gamma: 1, steps: 100}\ngrid: {m: [1, 2, 3, 4, 5]}\n");
	assert_int_equal(spec_diff(a, b, err), ERR_MISMATCH);
	assert_non_null(strstr(err, "campaign seed changed: 1 -> 2"));
	spec_destroy(&b);
	b = load("seed: 1\n" BASE "train: {gamma: 1, steps: 100}\n"
		 "grid: {m: [1, 2, 3, 4, 6, 7, 8, 9, 10]}\n");
	assert_int_equal(spec_diff(a, b, err), ERR_MISMATCH);
	assert_non_null(strstr(err, "added: key"));
	assert_non_null(strstr(err, "m=10"));
	assert_non_null(strstr(err, "... and 2 more added"));
	assert_non_null(strstr(err, "removed: key"));
	assert_non_null(strstr(err, "m=5 "));
	assert_non_null(strstr(err, "5 points added, 1 removed (campaign has 5, spec has 9)"));
	spec_destroy(&b);
	b = load("seed: 1\n" BASE "train: {gamma: 1, steps: 100, threads: 2}\n"
		 "grid: {m: [1, 2, 3, 4, 5]}\n");
	assert_int_equal(spec_diff(a, b, err), ERR_MISMATCH);
	assert_non_null(strstr(err, "threads changed 1 -> 2"));
	assert_non_null(strstr(err, "... and 2 more with threads changed"));
	spec_destroy(&b);
	spec_destroy(&a);
	/* a reordered YAML keeps the keys but may reorder points of equal cost */
	a = load(BASE "train: {m: 1, steps: 100}\ngrid: {gamma: [1, 2]}\n");
	b = load(BASE "train: {m: 1, steps: 100}\ngrid: {gamma: [2, 1]}\n");
	assert_int_equal(spec_diff(a, b, err), ERR_MISMATCH);
	assert_non_null(strstr(err, "different dispatch order (from row 0"));
	spec_destroy(&a);
	spec_destroy(&b);
}

/* ---- injected allocation failures ---- */

static const char *const alloc_specs[] = {
	/* good */
	"name: a\nseed: 3\n" BASE "train: {steps: 100, lr: {c: 1, k: 0.5}, lr_b: {c: 2}}\n"
	"grid: {m: {logspace: [10, 100, 6], round: floor}, gamma: [-1, 1]}\n"
	"zip: [{seed: [1, 2], batch: [8, 16]}]\nfilter: [\"m <= n\", gamma > -2]\n",
	/* bad: every error path that allocates before failing */
	BASE "train: {gamma: 1}\ngrid: {m: [1, 2, 1]}\n",
	BASE "train: {gamma: 1}\ngrid: {m: [3]}\nfilter: [m > 3, m > 4]\n",
	BASE "train: {gamma: 1, warmup: 10}\ngrid: {m: [1, 2], steps: [100, 5]}\n",
	BASE "train: {gamma: 1}\nzip: {m: [1, 2, 3], lr: [0.1, 0.2]}\n",
	BASE "train: {gamma: 1}\ngrid: {m: {linspace: [1, 2, 3]}}\n",
	BASE "train: {gamma: 1}\nfilter: [m < 2, m < q]\n",
	"name: x\nmodel: {n: 3}\nmodel: {}\n",
};

static void test_alloc_failures(void **state)
{
	(void)state;
	for (size_t k = 0; k < sizeof alloc_specs / sizeof alloc_specs[0]; k++) {
		const char *text = alloc_specs[k];
		char want[SPEC_ERR_LEN];
		struct spec *s = NULL;
		int want_rc = spec_load_string(text, strlen(text), "t.yaml", &s, want);
		long n;

		assert_true(want_rc == 0 || want_rc == ERR_INVAL);
		spec_destroy(&s);
		for (n = 0;; n++) {
			int rc;
			alloc_fail_after(n);
			rc = spec_load_string(text, strlen(text), "t.yaml", &s, err);
			if (!alloc_fail_triggered()) {
				alloc_fail_reset();
				assert_int_equal(rc, want_rc);
				if (rc)
					assert_string_equal(err, want);
				spec_destroy(&s);
				break;
			}
			alloc_fail_reset();
			if (rc == ERR_NOMEM) {
				assert_null(s);
				assert_non_null(strstr(err, "out of memory"));
			} else {
				/* a failure after the error was found is fine */
				if (rc != want_rc || rc == 0)
					fail_msg("spec %zu, allocation %ld failed: rc %d (%s)", k,
						 n, rc, err);
				assert_null(s);
			}
		}
		assert_true(n > 3);
	}
}

static void test_diff_alloc_failures(void **state)
{
	struct spec *a =
		load(BASE "train: {gamma: 1, steps: 100}\ngrid: {m: {range: [1, 3000]}}\n");
	struct spec *b =
		load(BASE "train: {gamma: 1, steps: 100}\ngrid: {m: {range: [2, 3001]}}\n");
	long n;

	(void)state;
	for (n = 0;; n++) {
		int rc;
		alloc_fail_after(n);
		rc = spec_diff(a, b, err);
		if (!alloc_fail_triggered()) {
			alloc_fail_reset();
			assert_int_equal(rc, ERR_MISMATCH);
			break;
		}
		alloc_fail_reset();
		assert_int_equal(rc, ERR_NOMEM);
	}
	assert_true(n >= 2);
	spec_destroy(&a);
	spec_destroy(&b);
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
		cmocka_unit_test(test_linspace),
		cmocka_unit_test(test_logspace_real),
		cmocka_unit_test(test_round_modes),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_grid_forms),
		cmocka_unit_test(test_zip),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_lr_rules),
		cmocka_unit_test(test_warmup_frac),
		cmocka_unit_test(test_frequencies),
		cmocka_unit_test(test_pmax_accuracy),
		cmocka_unit_test(test_dispatch_order),
		cmocka_unit_test(test_misc_errors),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_file_io),
		cmocka_unit_test(test_dist_names),
		cmocka_unit_test(test_param_table),
		cmocka_unit_test(test_format_real),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_diff_alloc_failures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
