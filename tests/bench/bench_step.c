/* bench_step.c - per-step time of the trainer against its three sgemm
 * products, measured side by side in one run.
 *
 * For each shape: the engine's whole step (sampling, forward, backward,
 * decay, Adam) in ms and GFLOP/s (6·B·n·m FLOP per step), the time of
 * OpenBLAS sgemm doing the step's three dense products at full size
 * (z = H Wᵀ (B, n), gW = G W (B, m), dW = Gᵀ H (n, m)) with the same number
 * of threads, their ratio, and the job's working memory.
 * Also prints one "RESULT key=value ..." line per shape for scripts.
 * usage: bench_step [quick]   (BENCH_BLOCK_ROWS overrides the block size)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <cblas.h>

#include "supersweep/engine.h"
#include "supersweep/spec.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Median of REPS timings of FN-like blocks is overkill here: take the best
 * of 3 means over K repetitions, which filters the other tenants' noise. */
static double time_sgemm3(int64_t n, int64_t m, int64_t B, int threads, int K)
{
	float *H = malloc((size_t)(B * m) * 4), *W = malloc((size_t)(n * m) * 4);
	float *Z = malloc((size_t)(B * n) * 4), *GW = malloc((size_t)(B * m) * 4);
	float *dW = malloc((size_t)(n * m) * 4);
	double best = INFINITY;

	for (int64_t i = 0; i < B * m; i++)
		H[i] = (float)((i % 7) - 3) * 0.1f;
	for (int64_t i = 0; i < n * m; i++)
		W[i] = (float)((i % 5) - 2) * 0.1f;
	for (int64_t i = 0; i < B * n; i++)
		Z[i] = (float)((i % 3) - 1) * 0.01f;
	openblas_set_num_threads(threads);
	for (int rep = 0; rep < 3; rep++) {
		double t0 = now_s();

		for (int k = 0; k < K; k++) {
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)n, (int)m,
				    1.0f, H, (int)m, W, (int)m, 0.0f, Z, (int)n);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)m,
				    (int)n, 1.0f, Z, (int)n, W, (int)m, 0.0f, GW, (int)m);
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)m, (int)B,
				    1.0f, Z, (int)n, H, (int)m, 0.0f, dW, (int)m);
		}
		double t = (now_s() - t0) / K;

		if (t < best)
			best = t;
	}
	openblas_set_num_threads(1);
	free(H), free(W), free(Z), free(GW), free(dW);
	return best;
}

static double time_steps(int64_t n, int64_t m, int64_t B, int threads, int K, size_t *bytes)
{
	struct job_point job = {
		.n = n,
		.m = m,
		.dist = SPEC_DIST_POWER,
		.alpha = 1.0,
		.E = 1.0,
		.gamma = -1.0,
		.batch = B,
		.steps = 20000,
		.lr_w = 1e-2,
		.lr_b = 1e-2,
		.warmup = 2000,
		.lr_min_ratio = 0.05,
		.log_every = 100,
		.threads = threads,
		.key = 0xbe5c4ULL,
	};
	struct engine_opts opts = {0};
	struct engine *e = NULL;
	char err[SPEC_ERR_LEN];
	const char *br = getenv("BENCH_BLOCK_ROWS");
	double best = INFINITY, L;
	int64_t step = 0;

	if (br)
		opts.block_rows = atoll(br);
	if (engine_create(&job, 1, &opts, &e, err) != 0) {
		fprintf(stderr, "bench_step: %s\n", err);
		exit(1);
	}
	*bytes = engine_bytes(e);
	for (int k = 0; k < 2; k++)
		engine_step(e, step++, &L);
	for (int rep = 0; rep < 3; rep++) {
		double t0 = now_s();

		for (int k = 0; k < K; k++)
			engine_step(e, step++, &L);
		double t = (now_s() - t0) / K;

		if (t < best)
			best = t;
	}
	engine_destroy(&e);
	return best;
}

int main(int argc, char **argv)
{
	static const struct {
		int64_t n, m, B;
		int threads;
	} cases[] = {
		{1000, 10, 2048, 1},  {1000, 15, 2048, 1},   {1000, 25, 2048, 1},
		{1000, 39, 2048, 1},  {1000, 63, 2048, 1},   {1000, 100, 2048, 1},
		{1000, 100, 2048, 2}, {10240, 256, 2048, 1},
	};
	const int quick = argc > 1 && !strcmp(argv[1], "quick");
	double t1_m100 = NAN;
	struct rusage ru;

	printf("bench_step: trainer step vs its three sgemm products (best of 3 means)\n");
	printf("%6s %5s %5s %3s | %9s %8s | %9s %8s | %6s | %8s\n", "n", "m", "B", "thr", "step ms",
	       "GFLOP/s", "sgemm ms", "GFLOP/s", "ratio", "job MiB");
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		const int64_t n = cases[c].n, m = cases[c].m, B = cases[c].B;
		const double flop = 6.0 * (double)B * (double)n * (double)m;
		int K = (int)fmax(2, fmin(50, 0.3e9 / flop * 10));
		size_t bytes;

		if (quick)
			K = 2;
		double ts = time_steps(n, m, B, cases[c].threads, K, &bytes);
		double tg = time_sgemm3(n, m, B, cases[c].threads, K);

		printf("%6lld %5lld %5lld %3d | %9.3f %8.1f | %9.3f %8.1f | %6.2f | %8.1f\n",
		       (long long)n, (long long)m, (long long)B, cases[c].threads, 1e3 * ts,
		       flop / ts * 1e-9, 1e3 * tg, flop / tg * 1e-9, ts / tg,
		       (double)bytes / (1 << 20));
		printf("RESULT n=%lld m=%lld B=%lld threads=%d step_ms=%.3f sgemm_ms=%.3f "
		       "job_mib=%.1f\n",
		       (long long)n, (long long)m, (long long)B, cases[c].threads, 1e3 * ts,
		       1e3 * tg, (double)bytes / (1 << 20));
		if (n == 1000 && m == 100 && cases[c].threads == 1)
			t1_m100 = ts;
		if (n == 1000 && m == 100 && cases[c].threads == 2)
			printf("  2-thread speed-up at m = 100: %.2fx\n", t1_m100 / ts);
		fflush(stdout);
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("peak RSS of the benchmark process: %.1f MiB\n", ru.ru_maxrss / 1024.0);
	return 0;
}
