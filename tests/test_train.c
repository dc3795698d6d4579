/* test_train.c - whole jobs: physics smoke checks (strong vs weak
 * superposition, loss falling with m), determinism, thread counts,
 * checkpoint and resume (bit-identical), damaged checkpoints, stop, NaN
 * detection, invalid jobs and injected allocation failures. */
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
#include "supersweep/engine.h"
#include "supersweep/err.h"
#include "supersweep/train.h"

static struct job_point job_of(int64_t n, int64_t m, double gamma, int64_t steps)
{
	struct job_point j = {
		.n = n,
		.m = m,
		.dist = SPEC_DIST_POWER,
		.alpha = 1.0,
		.E = 1.0,
		.gamma = gamma,
		.batch = 256,
		.steps = steps,
		.lr_w = 1e-2,
		.lr_b = 1e-2,
		.warmup = steps / 10,
		.lr_min_ratio = 0.05,
		.log_every = 10,
		.eval_samples = 1000,
		.save_weights = true,
		.threads = 1,
		.key = 0xfeed0000ULL + (uint64_t)m,
	};
	return j;
}

static void run_ok(const struct job_point *job, const char *ckpt, const struct train_opts *o,
		   struct train_result *r)
{
	assert_int_equal(train_run_opts(job, 3, ckpt, NULL, o, r), 0);
	if (r->status != 0 && r->status != ERR_STOPPED)
		fail_msg("status %d: %s", r->status, r->error);
}

/* Same bytes: W, b, curve and every metric except the wall time. */
static void assert_same_result(const struct job_point *job, const struct train_result *a,
			       const struct train_result *b)
{
	struct train_metrics ma = a->metrics, mb = b->metrics;

	ma.wall_s = mb.wall_s = 0;
	assert_memory_equal(&ma, &mb, sizeof ma);
	assert_int_equal(a->ncurve, b->ncurve);
	assert_memory_equal(a->curve, b->curve, (size_t)a->ncurve * sizeof *a->curve);
	assert_memory_equal(a->W, b->W, (size_t)(job->n * job->m) * sizeof *a->W);
	assert_memory_equal(a->b, b->b, (size_t)job->n * sizeof *a->b);
}

/* γ = -1 (strong): nearly every row ends with norm near 1; γ = +1 (weak,
 * α = 1): rows collapse, about m keep norm > 1/2; loss falls with m. */
static void test_physics(void **state)
{
	const int64_t n = 100;
	struct train_result r;
	double loss_strong[2];
	const int64_t ms[2] = {5, 20};

	(void)state;
	for (int k = 0; k < 2; k++) {
		struct job_point j = job_of(n, ms[k], -1.0, 3000);

		run_ok(&j, NULL, NULL, &r);
		print_message("strong m=%lld: final %.4f eval %.4f phi_half %.3f phi_one %.3f "
			      "overlap_strong %.4f (1/m = %.4f) norm median %.3f\n",
			      (long long)ms[k], r.metrics.final_loss, r.metrics.eval_loss,
			      r.metrics.phi_half, r.metrics.phi_one, r.metrics.overlap_strong,
			      1.0 / ms[k], r.metrics.norm_median);
		assert_true(r.metrics.phi_half >= 0.95);
		assert_true(fabs(r.metrics.norm_median - 1.0) < 0.25);
		assert_true(fabs(r.metrics.eval_loss - r.metrics.final_loss) <
			    0.2 * r.metrics.final_loss);
		loss_strong[k] = r.metrics.final_loss;
		train_result_free(&r);

		j.gamma = 1.0;
		run_ok(&j, NULL, NULL, &r);
		print_message("weak   m=%lld: final %.4f phi_half %.3f weak_pred %.4f\n",
			      (long long)ms[k], r.metrics.final_loss, r.metrics.phi_half,
			      r.metrics.weak_pred);
		assert_true(r.metrics.phi_half <= 2.0 * (double)ms[k] / (double)n);
		train_result_free(&r);
	}
	assert_true(loss_strong[1] < 0.7 * loss_strong[0]);
}

/* Same job, same bytes: one to three threads, block and Gram paths (the
 * latter with its sparse step too).  Three threads on a batch of 256 make
 * the Gram path's last phase cut 9 pieces for 8 chunks of the batch. */
static void test_determinism(void **state)
{
	static const int paths[] = {-1, 1, 2};
	struct job_point j = job_of(50, 6, -0.5, 300);
	struct train_result a, b;

	(void)state;
	for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
		struct train_opts o = {.gram = paths[p]};

		for (j.threads = 1; j.threads <= 3; j.threads++) {
			run_ok(&j, NULL, &o, &a);
			run_ok(&j, NULL, &o, &b);
			assert_same_result(&j, &a, &b);
			train_result_free(&a);
			train_result_free(&b);
			assert_null(a.curve);
		}
	}
}

/* The sparse step's bits depend on its parts of the features, not on the
 * threads that run them or on where the threads cut the rows of dW: 2 and
 * 3 parts (n = 70: [0, 32) [32, 70) and [0, 16) [16, 48) [48, 70)), each run
 * by 1, 2 and 3 threads, give the same W, b and loss curve (the eval loss
 * runs on the block path, whose bits follow the threads). */
static void test_parts_not_threads(void **state)
{
	struct job_point j = job_of(70, 9, -1.0, 200);
	struct train_result a, b;

	(void)state;
	for (int64_t parts = 2; parts <= 3; parts++) {
		struct train_opts o = {.gram = 2, .parts = parts};

		j.threads = 1;
		run_ok(&j, NULL, &o, &a);
		for (j.threads = 2; j.threads <= 3; j.threads++) {
			run_ok(&j, NULL, &o, &b);
			assert_int_equal(a.ncurve, b.ncurve);
			assert_memory_equal(a.curve, b.curve, (size_t)a.ncurve * sizeof *a.curve);
			assert_memory_equal(a.W, b.W, (size_t)(j.n * j.m) * sizeof *a.W);
			assert_memory_equal(a.b, b.b, (size_t)j.n * sizeof *a.b);
			assert_true(a.metrics.final_loss == b.metrics.final_loss);
			train_result_free(&b);
		}
		train_result_free(&a);
	}
}

/* One step's gradient with 1, 2 and 3 threads agrees within rounding
 * (GRAM: engine_opts.gram). */
static void check_threads_gradient(int gram)
{
	struct job_point j = job_of(70, 9, -1.0, 10);
	float *g[3], *gb[3];
	double L[3], gmax = 0;

	for (int t = 0; t < 3; t++) {
		struct engine *e = NULL;
		char err[SPEC_ERR_LEN];
		struct engine_opts o = {.block_rows = 32, .gram = gram};

		j.threads = t + 1;
		g[t] = malloc((size_t)(j.n * j.m) * 4);
		gb[t] = malloc((size_t)j.n * 4);
		assert_int_equal(engine_create(&j, 11, &o, &e, err), 0);
		L[t] = engine_gradient(e, 4, g[t], gb[t]);
		engine_destroy(&e);
	}
	for (int64_t i = 0; i < j.n * j.m; i++)
		gmax = fmax(gmax, fabs(g[0][i]));
	for (int t = 1; t < 3; t++) {
		assert_true(fabs(L[t] - L[0]) < 1e-6 * L[0]);
		for (int64_t i = 0; i < j.n * j.m; i++)
			assert_true(fabs(g[t][i] - g[0][i]) < 1e-5 * gmax);
		for (int64_t i = 0; i < j.n; i++)
			assert_true(fabs(gb[t][i] - gb[0][i]) < 1e-5 * gmax);
	}
	for (int t = 0; t < 3; t++)
		free(g[t]), free(gb[t]);
}

/* ... on the block path and on the Gram path. */
static void test_threads_gradient(void **state)
{
	(void)state;
	check_threads_gradient(-1);
	check_threads_gradient(1);
	check_threads_gradient(2);
}

static void tmp_path(char *buf, size_t len, const char *name)
{
	const char *dir = getenv("TMPDIR");

	snprintf(buf, len, "%s/supersweep-test-%ld-%s", dir ? dir : "/tmp", (long)getpid(), name);
}

/* 1000 steps straight == 400 + stop + checkpoint + 600, byte for byte
 * (GRAM: engine_opts.gram). */
static void check_checkpoint_resume(int gram)
{
	struct job_point j = job_of(40, 5, -1.0, 1000);
	struct train_opts stop400 = {.stop_at_step = 400, .gram = gram};
	struct train_opts plain = {.gram = gram};
	struct train_result a, b;
	char path[512];

	tmp_path(path, sizeof path, "ckpt");
	unlink(path);
	run_ok(&j, NULL, &plain, &a);
	run_ok(&j, path, &stop400, &b);
	assert_int_equal(b.status, ERR_STOPPED);
	assert_true(b.metrics.steps_done == 400);
	assert_true(isnan(b.curve[40]) && !isnan(b.curve[39]));
	assert_memory_equal(b.curve, a.curve, 40 * sizeof *a.curve);
	assert_null(b.W);
	assert_int_equal(access(path, R_OK), 0);
	train_result_free(&b);
	run_ok(&j, path, &plain, &b);
	assert_int_equal(b.status, 0);
	assert_string_equal(b.warning, "");
	assert_true(b.metrics.steps_done == 1000);
	assert_same_result(&j, &a, &b);
	train_result_free(&b);
	/* two stops in a row, the second at 700 */
	{
		/* the temporary file of a save killed mid-write goes too */
		char tmp[520];
		FILE *f;

		snprintf(tmp, sizeof tmp, "%s.tmp", path);
		f = fopen(tmp, "w");
		assert_non_null(f);
		fclose(f);
		assert_int_equal(train_checkpoint_remove(path), 0);
		assert_int_equal(access(path, F_OK), -1);
		assert_int_equal(access(tmp, F_OK), -1);
	}
	assert_int_equal(train_checkpoint_remove(path), 0); /* missing is fine */
	run_ok(&j, path, &stop400, &b);
	train_result_free(&b);
	stop400.stop_at_step = 700;
	run_ok(&j, path, &stop400, &b);
	assert_true(b.metrics.steps_done == 700);
	train_result_free(&b);
	run_ok(&j, path, &plain, &b);
	assert_same_result(&j, &a, &b);
	train_result_free(&b);
	train_result_free(&a);
	unlink(path);
}

static void test_checkpoint_resume(void **state)
{
	(void)state;
	check_checkpoint_resume(-1);
	check_checkpoint_resume(1);
	check_checkpoint_resume(2);
}

/* A damaged checkpoint, or one of another job, is reported and ignored. */
static void test_checkpoint_damaged(void **state)
{
	struct job_point j = job_of(30, 4, -1.0, 200);
	struct train_opts stop = {.stop_at_step = 100};
	struct train_result a, b;
	char path[512];
	FILE *f;

	(void)state;
	tmp_path(path, sizeof path, "damaged");
	unlink(path);
	run_ok(&j, NULL, NULL, &a);
	run_ok(&j, path, &stop, &b);
	train_result_free(&b);
	/* flip one byte in the middle */
	f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, 200, SEEK_SET);
	int c = fgetc(f);
	fseek(f, 200, SEEK_SET);
	fputc(c ^ 0x40, f);
	fclose(f);
	run_ok(&j, path, NULL, &b);
	assert_int_equal(b.status, 0);
	assert_non_null(strstr(b.warning, "checksum"));
	assert_non_null(strstr(b.warning, "restarted from step 0"));
	assert_same_result(&j, &a, &b);
	train_result_free(&b);
	/* another job's checkpoint */
	run_ok(&j, path, &stop, &b);
	train_result_free(&b);
	j.key ^= 1;
	run_ok(&j, path, NULL, &b);
	assert_non_null(strstr(b.warning, "another job"));
	train_result_free(&b);
	/* a truncated file */
	f = fopen(path, "wb");
	fputs("SSW", f);
	fclose(f);
	run_ok(&j, path, NULL, &b);
	assert_non_null(strstr(b.warning, "truncated"));
	train_result_free(&b);
	train_result_free(&a);
	unlink(path);
}

static void test_stop_flag(void **state)
{
	struct job_point j = job_of(20, 3, -1.0, 50);
	volatile sig_atomic_t stop = 1;
	struct train_result r;

	(void)state;
	assert_int_equal(train_run(&j, 1, NULL, &stop, &r), 0);
	assert_int_equal(r.status, ERR_STOPPED);
	assert_true(r.metrics.steps_done == 0);
	assert_non_null(strstr(r.error, "stopped at step 0"));
	train_result_free(&r);
	/* a checkpoint that cannot be written is an I/O failure, not a stop */
	assert_int_equal(train_run(&j, 1, "/nonexistent-dir/x/ckpt", &stop, &r), 0);
	assert_int_equal(r.status, ERR_IO);
	assert_non_null(strstr(r.error, "cannot write checkpoint"));
	train_result_free(&r);
}

static void test_divergence(void **state)
{
	struct job_point j = job_of(30, 4, -1.0, 100);
	struct train_result r;

	(void)state;
	j.lr_w = 1e30;
	j.lr_b = 1e30;
	j.warmup = 0;
	assert_int_equal(train_run(&j, 1, NULL, NULL, &r), 0);
	assert_int_equal(r.status, ERR_DIVERGED);
	assert_non_null(strstr(r.error, "diverged at step "));
	print_message("%s after %g steps\n", r.error, r.metrics.steps_done);
	assert_true(r.metrics.steps_done >= 1 && r.metrics.steps_done < 100);
	assert_true(isnan(r.metrics.final_loss));
	assert_null(r.W);
	train_result_free(&r);
}

static void test_invalid(void **state)
{
	struct job_point j = job_of(30, 4, -1.0, 100);
	struct train_result r;

	(void)state;
	j.log_every = 0;
	assert_int_equal(train_run(&j, 1, NULL, NULL, &r), ERR_INVAL);
	assert_int_equal(r.status, ERR_INVAL);
	assert_non_null(strstr(r.error, "log_every"));
	j = job_of(30, 4, -1.0, 100);
	j.E = 40; /* p_1 > 1 */
	assert_int_equal(train_run(&j, 1, NULL, NULL, &r), ERR_INVAL);
	assert_non_null(strstr(r.error, "p_1"));
	assert_null(r.curve);
}

/* train_peak_bytes (what `supersweep plan` reports) against what a job
 * allocates: engine_job_bytes is the block engine_create carves, exactly,
 * and the peak of the live bytes of a whole train_run (allocation wrappers)
 * is at most the prediction and not far below it: with one to three
 * threads, the block path and the Gram path's buffers (m = 100), with and
 * without the weights' copies.  A job train_run refuses is refused. */
static void test_peak_bytes(void **state)
{
	static const struct {
		int64_t n, m, batch, threads;
		bool save;
	} jobs[] = {{300, 20, 256, 1, true},	{300, 20, 256, 3, false},
		    {1000, 100, 2048, 1, true}, {1000, 100, 2048, 2, false},
		    {1000, 100, 512, 3, true},	{64, 200, 100, 2, true}};
	char err[SPEC_ERR_LEN];
	double predicted;

	(void)state;
	for (size_t c = 0; c < sizeof jobs / sizeof jobs[0]; c++) {
		struct job_point j = job_of(jobs[c].n, jobs[c].m, -1.0, 30);
		struct engine *e = NULL;
		struct train_result r;
		size_t bytes;
		long long measured;

		j.batch = jobs[c].batch;
		j.threads = jobs[c].threads;
		j.save_weights = jobs[c].save;
		assert_int_equal(engine_job_bytes(&j, NULL, &bytes, err), 0);
		assert_int_equal(engine_create(&j, 1, NULL, &e, err), 0);
		assert_true(bytes == engine_bytes(e));
		if (c == 2 || c == 3) /* the Gram path's buffers are there */
			assert_true(bytes > (size_t)(j.n * j.n) * 4);
		engine_destroy(&e);
		assert_int_equal(train_peak_bytes(&j, &predicted, err), 0);
		alloc_track_start();
		run_ok(&j, NULL, NULL, &r);
		measured = alloc_track_peak();
		train_result_free(&r);
		if (!((double)measured <= predicted && (double)measured >= 0.9 * predicted))
			fail_msg("job %zu: %lld bytes allocated at most, %.0f predicted", c,
				 measured, predicted);
	}
	{ /* jobs train_run refuses */
		struct job_point j = job_of(30, 4, -1.0, 100);

		j.log_every = 0;
		assert_int_equal(train_peak_bytes(&j, &predicted, err), ERR_INVAL);
		assert_non_null(strstr(err, "log_every"));
		j = job_of(30, 4, -1.0, 100);
		j.E = 40; /* p_1 > 1 */
		assert_int_equal(train_peak_bytes(&j, &predicted, err), ERR_INVAL);
		assert_non_null(strstr(err, "p_1"));
	}
}

/* Every allocation of a job (with checkpoint, two threads) may fail: the
 * run returns ERR_NOMEM with a message and leaks nothing (ASan build). */
static void test_alloc_failures(void **state)
{
	struct job_point j = job_of(30, 4, -1.0, 20);
	struct train_opts stop = {.stop_at_step = 10};
	struct train_result r;
	char path[512];
	long k;

	(void)state;
	j.threads = 2;
	tmp_path(path, sizeof path, "nomem");
	for (k = 0; k < 100; k++) {
		unlink(path);
		alloc_fail_after(k);
		int rc = train_run_opts(&j, 1, path, NULL, &stop, &r);
		int hit = alloc_fail_triggered();

		alloc_fail_reset();
		if (!hit) {
			assert_int_equal(rc, 0);
			assert_int_equal(r.status, ERR_STOPPED);
			train_result_free(&r);
			break;
		}
		if (rc == 0) { /* the checkpoint write failed: reported as status */
			assert_int_equal(r.status, ERR_NOMEM);
			train_result_free(&r);
			continue;
		}
		assert_int_equal(rc, ERR_NOMEM);
		assert_int_equal(r.status, ERR_NOMEM);
		assert_true(strlen(r.error) > 0);
		assert_null(r.curve);
	}
	assert_true(k > 3 && k < 100);
	/* and on the resume path (metrics and weights allocate too) */
	for (k = 0; k < 100; k++) {
		alloc_fail_after(k);
		int rc = train_run_opts(&j, 1, path, NULL, NULL, &r);
		int hit = alloc_fail_triggered();

		alloc_fail_reset();
		if (!hit) {
			assert_int_equal(rc, 0);
			assert_int_equal(r.status, 0);
			train_result_free(&r);
			break;
		}
		assert_int_equal(rc, ERR_NOMEM);
		assert_null(r.curve);
	}
	assert_true(k > 3 && k < 100);
	unlink(path);
}

static void test_metric_table(void **state)
{
	(void)state;
	assert_int_equal(train_nmetrics, sizeof(struct train_metrics) / sizeof(double));
	for (size_t i = 0; i < train_nmetrics; i++) {
		assert_true(train_metric_table[i].offset == i * sizeof(double));
		assert_non_null(train_metric_table[i].doc);
	}
	assert_string_equal(train_metric_table[0].name, "final_loss");
	assert_string_equal(train_metric_table[4].name, "overlap_strong");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metric_table),	   cmocka_unit_test(test_physics),
		cmocka_unit_test(test_determinism),	   cmocka_unit_test(test_threads_gradient),
		cmocka_unit_test(test_parts_not_threads),  cmocka_unit_test(test_checkpoint_resume),
		cmocka_unit_test(test_checkpoint_damaged), cmocka_unit_test(test_stop_flag),
		cmocka_unit_test(test_divergence),	   cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_alloc_failures),	   cmocka_unit_test(test_peak_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
