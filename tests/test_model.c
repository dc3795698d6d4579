/* test_model.c - the step kernels against plain references: the reference
 * gradient against finite differences (double), the fast threaded gradient
 * against the reference, the optimiser against hand-computed steps, and the
 * learning-rate schedule. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "supersweep/engine.h"
#include "supersweep/model.h"
#include "supersweep/sampler.h"

static uint64_t lcg_state = 12345;

static double urand(void)
{
	lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(lcg_state >> 11) * 0x1p-53;
}

static struct job_point small_job(int64_t n, int64_t m, int64_t B, int threads)
{
	struct job_point j = {
		.n = n,
		.m = m,
		.dist = SPEC_DIST_POWER,
		.alpha = 1.0,
		.E = 3.0,
		.gamma = -1.0,
		.batch = B,
		.steps = 100,
		.lr_w = 1e-2,
		.lr_b = 1e-2,
		.warmup = 10,
		.lr_min_ratio = 0.05,
		.log_every = 10,
		.threads = threads,
		.key = 0x1234abcdULL,
	};
	return j;
}

/* The reference gradient is the derivative of the reference objective. */
static void test_ref_gradient_fd(void **state)
{
	enum { B = 6, n = 9, m = 4 };
	double W[n * m], b[n], X[B * n], dW[n * m], db[n], h[m], L;
	const double eps = 1e-6;

	(void)state;
	for (int i = 0; i < n * m; i++)
		W[i] = (urand() - 0.5) * 1.2;
	for (int i = 0; i < n; i++)
		b[i] = urand() - 0.3;
	for (int i = 0; i < B * n; i++)
		X[i] = urand() < 0.4 ? 2 * urand() : 0;
	model_ref_loss_grad(B, n, m, W, b, X, h, dW, db, &L);
	/* no pre-activation may sit near the ReLU kink */
	for (int r = 0; r < B; r++)
		for (int i = 0; i < n; i++) {
			double z = b[i];

			for (int j = 0; j < m; j++) {
				double hj = 0;

				for (int k = 0; k < n; k++)
					hj += X[r * n + k] * W[k * m + j];
				z += W[i * m + j] * hj;
			}
			assert_true(fabs(z) > 1e-4);
		}
	for (int i = 0; i < n * m + n; i++) {
		double *p = i < n * m ? &W[i] : &b[i - n * m];
		double g = i < n * m ? dW[i] : db[i - n * m];
		double save = *p, jp, jm, fd;

		*p = save + eps;
		jp = model_ref_loss_grad(B, n, m, W, b, X, h, NULL, NULL, NULL);
		*p = save - eps;
		jm = model_ref_loss_grad(B, n, m, W, b, X, h, NULL, NULL, NULL);
		*p = save;
		fd = (jp - jm) / (2 * eps);
		if (fabs(fd - g) > 1e-8 + 1e-6 * fabs(g))
			fail_msg("parameter %d: analytic %.12g, finite difference %.12g", i, g, fd);
	}
	/* L = n·J */
	assert_true(fabs(L - n * model_ref_loss_grad(B, n, m, W, b, X, h, NULL, NULL, NULL)) <
		    1e-12);
}

/* The fast threaded block kernel equals the reference on the same batch. */
static void check_fast_vs_ref(int64_t n, int64_t m, int64_t B, int threads, int64_t block_rows,
			      double sparse_max, int gram)
{
	struct job_point job = small_job(n, m, B, threads);
	struct engine_opts opts = {
		.block_rows = block_rows, .sparse_max = sparse_max, .gram = gram};
	struct engine *e = NULL;
	char err[SPEC_ERR_LEN];
	float *dW = malloc((size_t)(n * m) * 4), *db = malloc((size_t)n * 4);
	double *Wd = malloc((size_t)(n * m) * 8), *bd = malloc((size_t)n * 8);
	double *X = calloc((size_t)(B * n), 8), *rdW = malloc((size_t)(n * m) * 8);
	double *rdb = malloc((size_t)n * 8), *h = malloc((size_t)m * 8);
	int32_t *idx = malloc((size_t)n * 4);
	float *val = malloc((size_t)n * 4);
	double L, Lref, gmax = 0;
	int64_t nnz = 0;

	if (n < 20 || m >= 60) /* m >= 60: a density at which the Gram path pays */
		job.E = 1.0;
	if (engine_create(&job, 7, &opts, &e, err) != 0)
		fail_msg("engine_create: %s", err);
	struct engine_params par = engine_params(e);

	/* a bias with positive entries, as in training: then a sample without
	 * active features (z = b) has a loss and a g of its own */
	for (int64_t i = 0; i < n; i++)
		par.b[i] = i % 4 == 1 ? 0.25f : -0.05f;
	for (int64_t i = 0; i < n * m; i++)
		Wd[i] = par.W[i];
	for (int64_t i = 0; i < n; i++)
		bd[i] = par.b[i];
	for (int64_t r = 0; r < B; r++) {
		int64_t k = sampler_row(engine_sampler(e), SAMPLER_DATA, 3, (uint64_t)r, idx, val);

		nnz += k;
		for (int64_t q = 0; q < k; q++)
			X[r * n + idx[q]] = val[q];
	}
	assert_true(nnz >= B / 2); /* the batch is not trivial */
	L = engine_gradient(e, 3, dW, db);
	if (gram != 0)
		assert_string_equal(engine_last_path(e), gram > 1   ? "gram-sparse"
							 : gram > 0 ? "gram"
								    : "block");
	else if (n == 100 && B == 800) /* D ≤ n = 100 ≤ B(2m - 40E)/(6m) = 177: it pays */
		assert_string_equal(engine_last_path(e), "gram");
	model_ref_loss_grad(B, n, m, Wd, bd, X, h, rdW, rdb, &Lref);
	assert_true(fabs(L - Lref) <= 1e-5 * fabs(Lref));
	for (int64_t i = 0; i < n * m; i++)
		gmax = fmax(gmax, fabs(rdW[i]));
	for (int64_t i = 0; i < n * m; i++)
		if (fabs(dW[i] - rdW[i]) > 1e-5 * gmax + 1e-4 * fabs(rdW[i]))
			fail_msg("dW[%lld]: fast %.9g, reference %.9g", (long long)i, dW[i],
				 rdW[i]);
	for (int64_t i = 0; i < n; i++)
		if (fabs(db[i] - rdb[i]) > 1e-5 * gmax + 1e-4 * fabs(rdb[i]))
			fail_msg("db[%lld]: fast %.9g, reference %.9g", (long long)i, db[i],
				 rdb[i]);
	engine_destroy(&e);
	assert_null(e);
	free(dW), free(db), free(Wd), free(bd), free(X), free(rdW), free(rdb), free(h);
	free(idx), free(val);
}

static void test_fast_vs_ref(void **state)
{
	(void)state;
	/* the block path (gram < 0) with g through the dense products
	 * (sparse_max < 0), through the sparse ones (1: always) and with the
	 * default switch (about half of z > 0 at init: dense); then the Gram
	 * path (gram > 0: every batch), with its sparse step (2: always;
	 * g dense here, so its rows of G as well as its lists) and the default
	 * choice between them */
	for (int k = 0; k < 6; k++) {
		const double sp = k == 0 ? -1 : k == 1 ? 1 : 0;
		const int gram = k < 3 ? -1 : k == 3 ? 1 : k == 4 ? 2 : 0;

		check_fast_vs_ref(37, 5, 50, 1, 16, sp,
				  gram);		      /* tails: n % 8 != 0, partial block */
		check_fast_vs_ref(37, 5, 50, 2, 7, sp, gram); /* two threads, odd blocks */
		check_fast_vs_ref(64, 12, 40, 1, 128, sp, gram);  /* one block */
		check_fast_vs_ref(5, 9, 9, 3, 2, sp, gram);	  /* m > n, three threads */
		check_fast_vs_ref(200, 3, 64, 1, 32, sp, gram);	  /* many columns */
		check_fast_vs_ref(100, 60, 800, 4, 64, sp, gram); /* D ≪ B: four threads */
	}
	/* a block whose g outgrows the sparse buffer part-way falls back */
	check_fast_vs_ref(64, 12, 40, 1, 16, 0.3, -1);
}

/* One Adam step from zero moments moves every weight by lr·g/(|g| + eps):
 * rows (3, 4, 0), gradient (1, -2, 0), lr 0.1, by hand. */
static void test_optimizer_hand(void **state)
{
	const double gammas[] = {-1.0, 1.0};
	/* decay γ = -1: W + 0.1·(-1)·W·(1 - 1/5) = 0.92·W; γ = +1: 0.9·W */
	const double want[2][3] = {{2.76 - 0.1, 3.68 + 0.1, 0}, {2.7 - 0.1, 3.6 + 0.1, 0}};

	(void)state;
	for (int c = 0; c < 2; c++) {
		float W[3] = {3, 4, 0}, mW[3] = {0}, vW[3] = {0}, g[3] = {1, -2, 0};
		const float *gs[1] = {g};
		struct model_adam a = model_adam_prepare(0, 0.1);

		model_update_rows(W, mW, vW, gs, 1, 0, 1, 3, gammas[c], &a);
		for (int j = 0; j < 3; j++)
			if (fabs(W[j] - want[c][j]) > 2e-6)
				fail_msg("gamma %g, W[%d] = %.9g, want %.9g", gammas[c], j, W[j],
					 want[c][j]);
		/* second step: moments m = 0.9 m + 0.1 g2, v = 0.999 v + 0.001 g2² */
		float g2[3] = {-0.5f, 0.25f, 3.0f};
		const float *gs2[1] = {g2};
		double Wd[3], m1[3], v1[3], nrm = 0;
		struct model_adam a2 = model_adam_prepare(1, 0.05);

		for (int j = 0; j < 3; j++) {
			Wd[j] = W[j];
			m1[j] = 0.1 * (double)g[j] * 0.9 + 0.1 * g2[j];
			v1[j] = 0.001 * (double)g[j] * g[j] * 0.999 + 0.001 * (double)g2[j] * g2[j];
			nrm += Wd[j] * Wd[j];
		}
		for (int j = 0; j < 3; j++) {
			if (gammas[c] >= 0)
				Wd[j] *= 1 - 0.05 * gammas[c];
			else
				Wd[j] += 0.05 * gammas[c] * Wd[j] * (1 - 1 / (sqrt(nrm) + 1e-8));
			double mh = m1[j] / (1 - 0.9 * 0.9), vh = v1[j] / (1 - 0.999 * 0.999);

			Wd[j] -= 0.05 * mh / (sqrt(vh) + 1e-8);
		}
		model_update_rows(W, mW, vW, gs2, 1, 0, 1, 3, gammas[c], &a2);
		for (int j = 0; j < 3; j++)
			if (fabs(W[j] - Wd[j]) > 1e-5 * fabs(Wd[j]) + 1e-6)
				fail_msg("gamma %g step 2, W[%d] = %.9g, want %.9g", gammas[c], j,
					 W[j], Wd[j]);
	}
}

/* Several accumulators are summed before the update; b uses cols = 1. */
static void test_optimizer_sum_grads(void **state)
{
	float W1[4] = {1, 2, 3, 4}, W2[4] = {1, 2, 3, 4};
	float m1[4] = {0}, v1[4] = {0}, m2[4] = {0}, v2[4] = {0};
	float ga[4] = {0.5f, -1, 2, 0.25f}, gb[4] = {0.25f, 1, -1, 0.5f}, gsum[4];
	const float *two[2] = {ga, gb}, *one[1] = {gsum};
	struct model_adam a = model_adam_prepare(5, 0.01);

	(void)state;
	for (int j = 0; j < 4; j++)
		gsum[j] = ga[j] + gb[j];
	model_update_rows(W1, m1, v1, two, 2, 0, 4, 1, 0.0, &a);
	model_update_rows(W2, m2, v2, one, 1, 0, 4, 1, 0.0, &a);
	assert_memory_equal(W1, W2, sizeof W1);
}

/* The decay's norms of several rows run side by side (decay_factors): one
 * call over 11 rows (groups of 4 and a remainder) gives the bytes of one
 * call per row, for each sign of γ and both kernels; its return value is
 * the sum of the updated parameters, non-finite once a gradient is NaN. */
static void test_optimizer_rows_together(void **state)
{
	enum { R = 11, COLS = 37 };
	static float w[2][R * COLS], mo[2][R * COLS], ve[2][R * COLS], gr[R * COLS];
	const float *grads[1] = {gr};
	const struct model_adam ad = model_adam_prepare(3, 0.02);

	(void)state;
	for (int kern = 0; kern < 2; kern++)
		for (int sg = -1; sg <= 1; sg++) {
			double sum, want = 0;

			model_kernels(kern ? MODEL_KERNELS_AVX2 : MODEL_KERNELS_SSE);
			for (int j = 0; j < R * COLS; j++) {
				w[0][j] = w[1][j] =
					(float)(2.0 * urand() - 1.0) * (float)(1 + j / COLS);
				mo[0][j] = mo[1][j] = (float)(0.01 * (urand() - 0.5));
				ve[0][j] = ve[1][j] = (float)(0.001 * urand());
				gr[j] = (float)(0.1 * (urand() - 0.5));
			}
			sum = model_update_rows(w[0], mo[0], ve[0], grads, 1, 0, R, COLS, sg * 0.7,
						&ad);
			for (int i = 0; i < R; i++)
				model_update_rows(w[1], mo[1], ve[1], grads, 1, i, i + 1, COLS,
						  sg * 0.7, &ad);
			assert_memory_equal(w[0], w[1], sizeof w[0]);
			assert_memory_equal(mo[0], mo[1], sizeof mo[0]);
			assert_memory_equal(ve[0], ve[1], sizeof ve[0]);
			for (int j = 0; j < R * COLS; j++)
				want += w[0][j];
			if (!(fabs(sum - want) <= 1e-4 * (1 + fabs(want))))
				fail_msg("kernel %d, gamma %g: sum %.9g, want %.9g", kern, sg * 0.7,
					 sum, want);
		}
	gr[5 * COLS + 17] = NAN;
	assert_false(
		isfinite(model_update_rows(w[0], mo[0], ve[0], grads, 1, 0, R, COLS, -1.0, &ad)));
	model_kernels(MODEL_KERNELS_BEST);
}

static void test_schedule(void **state)
{
	const double peak = 1e-2, lo = 0.05 * peak;

	(void)state;
	/* warm-up: s = step + 1 */
	assert_true(fabs(model_lr(peak, 0, 20000, 2000, 0.05) - peak / 2000) < 1e-15);
	assert_true(fabs(model_lr(peak, 998, 20000, 2000, 0.05) - peak * 999 / 2000) < 1e-15);
	/* s = warmup: the cosine starts at the peak */
	assert_true(fabs(model_lr(peak, 1999, 20000, 2000, 0.05) - peak) < 1e-15);
	/* half way through the cosine: the mean of peak and floor */
	assert_true(fabs(model_lr(peak, 10999, 20000, 2000, 0.05) - (peak + lo) / 2) < 1e-15);
	/* last step: s = steps, the floor */
	assert_true(fabs(model_lr(peak, 19999, 20000, 2000, 0.05) - lo) < 1e-15);
	/* no warm-up */
	assert_true(fabs(model_lr(peak, 0, 100, 0, 0.05) -
			 ((peak - lo) * 0.5 * (1 + cos(M_PI / 100)) + lo)) < 1e-15);
	/* warm-up as long as the run: cosine over all steps, finite everywhere */
	for (int64_t s = 0; s < 10; s++) {
		double lr = model_lr(peak, s, 10, 10, 0.05);

		assert_true(isfinite(lr) && lr >= lo - 1e-18 && lr <= peak);
	}
	assert_true(fabs(model_lr(peak, 9, 10, 10, 0.05) - lo) < 1e-15);
}

/* One row pass with kernels K on copies of Z0 (n), X and DB0: the outputs'
 * bytes go to OUT (z, db, loss, nnz, list). */
struct pass_out {
	float z[1040], db[1040], val[1040];
	int32_t col[1040];
	double loss;
	int64_t nnz;
};

static void pass_with(int k, int64_t n, const float *z0, const float *x, const float *db0,
		      int64_t cap, struct pass_out *o)
{
	memset(o, 0, sizeof *o);
	memcpy(o->z, z0, (size_t)n * sizeof *z0);
	memcpy(o->db, db0, (size_t)n * sizeof *db0);
	assert_int_equal(model_kernels(k), k);
	o->loss = model_row_grad(n, o->z, x, 0.37f, o->db, o->col, o->val, cap, &o->nnz);
}

/* The AVX2 element-wise pass gives the SSE pass's bits: z -> g, db, the
 * loss, and the list of non-zeros, including where the list overflows,
 * for widths with every remainder mod 16 and densities of z > 0 from 0 to 1;
 * and so do the AVX2 model_axpy and Adam update. */
static void test_kernels_same_bits(void **state)
{
	static const int64_t widths[] = {1,  7,	 8,  9,	 15, 16,  17,	23,
					 24, 31, 33, 40, 64, 100, 1000, 1037};
	static float z0[1040], x[1040], db0[1040];
	static struct pass_out a, b;
	int compared = 0, overflowed = 0, listed = 0;

	(void)state;
	if (model_kernels(MODEL_KERNELS_AVX2) != MODEL_KERNELS_AVX2) {
		model_kernels(MODEL_KERNELS_BEST);
		skip(); /* this CPU has no AVX2: only the SSE pass runs */
	}
	for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
		const int64_t n = widths[w];

		for (int q = 0; q <= 10; q++) {
			const double pos = q / 10.0;
			/* no list, an overflowing list, a list that fits */
			const int64_t caps[] = {0, n / 8 + 8, n + 16};

			for (int64_t j = 0; j < n; j++) {
				z0[j] = (float)((urand() < pos ? 1 : -1) * urand() * 3);
				x[j] = urand() < 0.2 ? (float)(2 * urand()) : 0.0f;
				db0[j] = (float)(urand() - 0.5);
			}
			for (int c = 0; c < 3; c++) {
				pass_with(MODEL_KERNELS_SSE, n, z0, x, db0, caps[c], &a);
				pass_with(MODEL_KERNELS_AVX2, n, z0, x, db0, caps[c], &b);
				assert_memory_equal(a.z, b.z, (size_t)n * sizeof(float));
				assert_memory_equal(a.db, b.db, (size_t)n * sizeof(float));
				assert_memory_equal(&a.loss, &b.loss, sizeof a.loss);
				assert_int_equal(a.nnz, b.nnz);
				overflowed += a.nnz < 0;
				listed += a.nnz > 0;
				if (a.nnz > 0) {
					assert_memory_equal(a.col, b.col,
							    (size_t)a.nnz * sizeof(int32_t));
					assert_memory_equal(a.val, b.val,
							    (size_t)a.nnz * sizeof(float));
				}
				compared++;
			}
		}
	}
	/* model_axpy too */
	for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
		const int64_t n = widths[w];
		const float a0 = (float)(urand() - 0.5);

		for (int64_t j = 0; j < n; j++) {
			z0[j] = (float)(urand() - 0.5);
			db0[j] = (float)(urand() * 4 - 2);
		}
		memcpy(a.z, db0, (size_t)n * sizeof(float));
		memcpy(b.z, db0, (size_t)n * sizeof(float));
		model_kernels(MODEL_KERNELS_SSE);
		model_axpy(n, a0, z0, a.z);
		model_kernels(MODEL_KERNELS_AVX2);
		model_axpy(n, a0, z0, b.z);
		assert_memory_equal(a.z, b.z, (size_t)n * sizeof(float));
	}
	/* and model_update_rows: 1-3 gradient accumulators, both signs of
	 * gamma, rows of every remainder mod 8 */
	for (int ng = 1; ng <= 3; ng++)
		for (int sg = -1; sg <= 1; sg += 2) {
			enum { R = 3, COLS = 37 };
			static float w[2][R * COLS], mo[2][R * COLS], ve[2][R * COLS],
				gr[3][R * COLS];
			const float *grads[3] = {gr[0], gr[1], gr[2]};
			const struct model_adam ad = model_adam_prepare(7, 0.01);
			double sum[2];

			for (int j = 0; j < R * COLS; j++) {
				w[0][j] = w[1][j] = (float)(urand() - 0.5);
				mo[0][j] = mo[1][j] = (float)(0.01 * (urand() - 0.5));
				ve[0][j] = ve[1][j] = (float)(0.001 * urand());
				for (int k = 0; k < 3; k++)
					gr[k][j] = (float)(0.1 * (urand() - 0.5));
			}
			for (int c = 0; c < 2; c++) {
				model_kernels(c ? MODEL_KERNELS_AVX2 : MODEL_KERNELS_SSE);
				for (int cols = 1; cols <= COLS; cols += 4)
					sum[c] = model_update_rows(w[c], mo[c], ve[c], grads, ng, 0,
								   R, cols, sg * 0.5, &ad);
			}
			assert_memory_equal(w[0], w[1], sizeof w[0]);
			assert_memory_equal(mo[0], mo[1], sizeof mo[0]);
			assert_memory_equal(ve[0], ve[1], sizeof ve[0]);
			assert_memory_equal(&sum[0], &sum[1], sizeof sum[0]);
		}
	/* every case ran, lists overflowed and lists were compared */
	assert_int_equal(compared, 16 * 11 * 3);
	assert_true(overflowed > 20);
	assert_true(listed > 100);
	model_kernels(MODEL_KERNELS_BEST);
}

/* Rows without active features (z = b) take the first such row's g again
 * (model_block_grad) and its loss (model_block_loss) instead of a pass of
 * their own: the same bytes as the full pass, which the same block gives
 * when each of those rows holds one feature of value 0 (h_r = ±0, z_r = b,
 * x_r = 0).  With lists of every length up to past the block's total, so
 * that they overflow before, within and after the replayed rows (the last
 * two rows among them), and both kernels.  The block's scratch holds NaN
 * before each call: rows left out of the product z = b + h Wᵀ must get b
 * before any product reads them. */
static void test_rows_without_features(void **state)
{
	enum { N = 61, M = 7, R = 24, CAPMAX = N * R + 8 };
	static float W[N * M], b[N], h[R * M], z[R * N], gw[R * M], xrow[N], gval[CAPMAX];
	static float dW[2][N * M], db[2][N], val[2][3 * R];
	static int32_t idx[2][3 * R], gcol[CAPMAX];
	static int64_t start[2][R + 1], gstart[R + 1];
	struct model_work wk = {h, z, gw, xrow, gstart, gcol, gval, 0};
	int64_t total = 0, empty = 0, compared = 0;

	(void)state;
	for (int64_t i = 0; i < N * M; i++)
		W[i] = (float)(urand() - 0.5);
	for (int64_t i = 0; i < N; i++)
		b[i] = (float)(urand() < 0.3 || i == N - 1 || i == N - 3 ? 0.2 * urand() + 0.01
									 : -0.1 * urand() - 0.01);
	for (int v = 0; v < 2; v++) /* v = 1: a feature of value 0 in the empty rows */
		start[v][0] = 0;
	for (int64_t r = 0; r < R; r++) {
		const int k = r % 3 == 1 || r % 5 == 0 || r >= R - 2 ? 0 : 1 + (int)(urand() * 3);
		int32_t f[3];
		float a[3];

		empty += k == 0;
		for (int q = 0; q < k; q++) {
			f[q] = (int32_t)((r * 7 + q * 13) % N);
			a[q] = (float)(2 * urand());
		}
		for (int v = 0; v < 2; v++) {
			int64_t at = start[v][r];

			for (int q = 0; q < k; q++, at++) {
				idx[v][at] = f[q];
				val[v][at] = a[q];
			}
			if (v == 1 && k == 0) {
				idx[v][at] = (int32_t)(r % N);
				val[v][at++] = 0.0f;
			}
			start[v][r + 1] = at;
		}
	}
	for (int k = 0; k < 2; k++) {
		if (model_kernels(k ? MODEL_KERNELS_AVX2 : MODEL_KERNELS_SSE) !=
		    (k ? MODEL_KERNELS_AVX2 : MODEL_KERNELS_SSE))
			continue;
		for (int64_t cap = 0; cap <= CAPMAX; cap++) {
			double loss[2], floss[2];

			for (int v = 0; v < 2; v++) {
				const struct model_rows x = {R, start[v], idx[v], val[v]};

				for (int64_t i = 0; i < N * M; i++)
					dW[v][i] = i % 3 ? 0.0f : 0.5f;
				memset(db[v], 0, sizeof db[v]);
				for (int64_t i = 0; i < R * N; i++) /* scratch holds anything */
					z[i] = NAN;
				for (int64_t i = 0; i < R * M; i++)
					h[i] = gw[i] = NAN;
				wk.gcap = cap;
				loss[v] =
					model_block_grad(N, M, W, b, &x, 0.37f, &wk, dW[v], db[v]);
				if (v == 1 && cap == CAPMAX) /* no overflow */
					total = gstart[R];
				floss[v] = model_block_loss(N, M, W, b, &x, &wk);
			}
			assert_memory_equal(dW[0], dW[1], sizeof dW[0]);
			assert_memory_equal(db[0], db[1], sizeof db[0]);
			assert_memory_equal(&loss[0], &loss[1], sizeof loss[0]);
			assert_memory_equal(&floss[0], &floss[1], sizeof floss[0]);
			compared++;
		}
	}
	model_kernels(MODEL_KERNELS_BEST);
	/* empty rows, lists that grew past the short caps, and both runs */
	assert_true(empty >= 8);
	assert_true(total > 2 * N && total < CAPMAX - 8);
	assert_true(compared >= CAPMAX); /* one kernel at least */
}

/* The job of test_path_follows_density: n = 1000, m = 63. */
enum { PATH_N = 1000, PATH_M = 63 };

/* One step's gradient on E (default path choice) against the block path's
 * on EB, from the same state with POSITIVE entries of b set to +0.5 and the
 * rest to -0.5: the path taken is PATH and the gradients agree. */
static void check_path_step(struct engine *e, struct engine *eb, int64_t step, int positive,
			    const char *path, float *dW, float *db, float *dWb, float *dbb)
{
	struct engine_params p = engine_params(e), pb = engine_params(eb);
	const int64_t n = PATH_N, m = PATH_M;
	double L, Lb, gmax = 0;

	for (int64_t i = 0; i < n; i++)
		p.b[i] = pb.b[i] = i < positive ? 0.5f : -0.5f;
	memcpy(pb.W, p.W, (size_t)(n * m) * 4);
	L = engine_gradient(e, step, dW, db);
	assert_string_equal(engine_last_path(e), path);
	Lb = engine_gradient(eb, step, dWb, dbb);
	assert_string_equal(engine_last_path(eb), "block");
	assert_true(fabs(L - Lb) <= 1e-5 * fabs(Lb));
	for (int64_t i = 0; i < n * m; i++)
		gmax = fmax(gmax, fabs(dWb[i]));
	assert_true(gmax > 0);
	for (int64_t i = 0; i < n * m; i++)
		if (fabs(dW[i] - dWb[i]) > 1e-4 * gmax)
			fail_msg("step %lld (%s): dW[%lld] = %g, block path %g", (long long)step,
				 path, (long long)i, dW[i], dWb[i]);
}

/* The default choice of path follows g's density, which b stands for: at
 * n = 1000, B = 2048, α = 1, E = 1 a batch has D ≈ 506 (sd ≈ 8) distinct
 * features, and at m = 63 the Gram path is set up (room for D up to mean +
 * 6 sd).  With b negative everywhere (g sparse) or 2 % of it positive the
 * step takes the Gram path with its sparse step (D_max ≈ 1885); with 5 %
 * positive (D_max ≈ 807) or all (g dense, D_max ≈ B) the Gram path with dM_S.
 * Each step's gradient is checked against the block path's on the same
 * state.  Then eight rounds of a step with dM_S and three sparse steps,
 * whose batches have other D: the two layouts share M_S's buffer, and
 * what one step leaves in it must not show in the next. */
static void test_path_follows_density(void **state)
{
	struct job_point job = small_job(PATH_N, PATH_M, 2048, 1);
	struct engine_opts dflt = {0}, block = {.gram = -1};
	struct engine *e = NULL, *eb = NULL;
	char err[SPEC_ERR_LEN];
	const int64_t n = PATH_N, m = PATH_M;
	float *dW = malloc((size_t)(n * m) * 4), *db = malloc((size_t)n * 4);
	float *dWb = malloc((size_t)(n * m) * 4), *dbb = malloc((size_t)n * 4);
	const struct {
		int positive; /* entries of b set to +0.5, the rest -0.5 */
		const char *path;
	} cases[] = {{0, "gram-sparse"}, {1000, "gram"}, {20, "gram-sparse"}, {50, "gram"}};
	int64_t step = 5;

	(void)state;
	job.E = 1.0;
	if (engine_create(&job, 7, &dflt, &e, err) != 0 ||
	    engine_create(&job, 7, &block, &eb, err) != 0)
		fail_msg("engine_create: %s", err);
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
		check_path_step(e, eb, step++, cases[c].positive, cases[c].path, dW, db, dWb, dbb);
	for (int round = 0; round < 8; round++) {
		check_path_step(e, eb, step++, 1000, "gram", dW, db, dWb, dbb);
		for (int k = 0; k < 3; k++)
			check_path_step(e, eb, step++, 0, "gram-sparse", dW, db, dWb, dbb);
	}
	engine_destroy(&e);
	engine_destroy(&eb);
	free(dW);
	free(db);
	free(dWb);
	free(dbb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_gradient_fd),
		cmocka_unit_test(test_fast_vs_ref),
		cmocka_unit_test(test_optimizer_hand),
		cmocka_unit_test(test_optimizer_sum_grads),
		cmocka_unit_test(test_optimizer_rows_together),
		cmocka_unit_test(test_schedule),
		cmocka_unit_test(test_kernels_same_bits),
		cmocka_unit_test(test_rows_without_features),
		cmocka_unit_test(test_path_follows_density),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
