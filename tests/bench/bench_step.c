/* bench_step.c - per-step time of the trainer against its three sgemm
 * products, measured side by side in one run.
 *
 * The step takes the Gram path (gram.h: ≈ 6·D·n·m FLOP for the D distinct
 * features active in the batch) when it pays, else the block path (the
 * three products below, 6·B·n·m); the "path" columns say which.  GFLOP/s
 * counts 6·B·n·m either way, so above sgemm's rate means less work done.
 *
 * For each shape: the engine's whole step (sampling, forward, backward,
 * decay, Adam) in ms and GFLOP/s (6·B·n·m FLOP per step), the time of
 * OpenBLAS sgemm doing the step's three dense products at full size
 * (z = H Wᵀ (B, n), gW = G W (B, m), dW = Gᵀ H (n, m)) with the same number
 * of threads, their ratio, and the job's working memory.
 * "step ms" is a step at initialisation (g = (y - x)·1[z > 0] is dense:
 * the three sgemm products); "trained ms" a step after 800 steps (n = 1000
 * shapes), when ReLU has made g sparse (≈ 5 % of entries) and the kernel
 * takes gW and gᵀh over its non-zeros, as for most of a real run.
 * Also prints one "RESULT key=value ..." line per shape for scripts.
 * Shapes are timed interleaved (steps, then sgemm, repeated) so that the
 * other tenants of a shared machine slow both alike.  The two-thread rounds
 * also print the share of CPU time the host gave to other guests meanwhile
 * (steal, from /proc/stat), which holds a multi-thread step at its barriers,
 * and how much slower one of two CPUs ran the same one-thread job.
 * usage: bench_step [quick | pair | width M]   (pair: only the two-thread
 *        figures; width M: only the one-thread row of n = 1000, m = M, for
 *        the PyTorch rounds of run.sh; BENCH_BLOCK_ROWS overrides the block
 *        size)
 */
#include <math.h>
#include <pthread.h>
#include <sched.h>
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

struct sgemm3 {
	int64_t n, m, B;
	float *H, *W, *Z, *GW, *dW;
};

static void sgemm3_init(struct sgemm3 *g, int64_t n, int64_t m, int64_t B)
{
	g->n = n, g->m = m, g->B = B;
	g->H = malloc((size_t)(B * m) * 4);
	g->W = malloc((size_t)(n * m) * 4);
	g->Z = malloc((size_t)(B * n) * 4);
	g->GW = malloc((size_t)(B * m) * 4);
	g->dW = malloc((size_t)(n * m) * 4);
	if (!g->H || !g->W || !g->Z || !g->GW || !g->dW) {
		fprintf(stderr, "bench_step: out of memory\n");
		exit(1);
	}
	for (int64_t i = 0; i < B * m; i++)
		g->H[i] = (float)((i % 7) - 3) * 0.1f;
	for (int64_t i = 0; i < n * m; i++)
		g->W[i] = (float)((i % 5) - 2) * 0.1f;
	for (int64_t i = 0; i < B * n; i++)
		g->Z[i] = (float)((i % 3) - 1) * 0.01f;
}

static void sgemm3_free(struct sgemm3 *g)
{
	free(g->H), free(g->W), free(g->Z), free(g->GW), free(g->dW);
}

/* Mean time of K rounds of the step's three products at full size. */
static double sgemm3_time(struct sgemm3 *g, int threads, int K)
{
	const int n = (int)g->n, m = (int)g->m, B = (int)g->B;
	double t0;

	openblas_set_num_threads(threads);
	t0 = now_s();
	for (int k = 0; k < K; k++) {
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, n, m, 1.0f, g->H, m, g->W,
			    m, 0.0f, g->Z, n);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, m, n, 1.0f, g->Z, n, g->W,
			    m, 0.0f, g->GW, m);
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, m, B, 1.0f, g->Z, n, g->H,
			    m, 0.0f, g->dW, m);
	}
	t0 = (now_s() - t0) / K;
	openblas_set_num_threads(1);
	if (threads > 1) {
		/* OpenBLAS's own threads spin for a while after a call before
		 * they sleep: wait, or they take the cores from the engine's
		 * threads timed next (the engine never uses them) */
		struct timespec idle = {0, 300 * 1000 * 1000};

		nanosleep(&idle, NULL);
	}
	return t0;
}

/* FN(A) on this thread and FN(B) on another, at once; returns when both
 * are done. */
static void run_two(void *(*fn)(void *), void *a, void *b)
{
	pthread_t th;

	if (pthread_create(&th, NULL, fn, b) != 0) {
		fprintf(stderr, "bench_step: cannot start a thread\n");
		exit(1);
	}
	fn(a);
	pthread_join(th, NULL);
}

/* Two threads of one process each doing K rounds of the three products,
 * single-threaded, on their own data: the throughput a 2-thread step could
 * reach at best (OpenBLAS's own locks and the memory system included). */
struct sgemm3_job {
	struct sgemm3 g;
	int K;
	double t;
};

static void *sgemm3_thread(void *arg)
{
	struct sgemm3_job *j = arg;

	j->t = sgemm3_time(&j->g, 1, j->K);
	return NULL;
}

static double sgemm3_pair_time(int64_t n, int64_t m, int64_t B, int K)
{
	struct sgemm3_job j[2];

	for (int k = 0; k < 2; k++) {
		sgemm3_init(&j[k].g, n, m, B);
		j[k].K = K;
	}
	run_two(sgemm3_thread, &j[0], &j[1]);
	for (int k = 0; k < 2; k++)
		sgemm3_free(&j[k].g);
	return fmax(j[0].t, j[1].t);
}

/* The Q-quantile of the N values X (sorted in place), interpolated. */
static int cmp_double(const void *a, const void *b)
{
	const double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double quantile(double *x, int n, double q)
{
	double at, f;
	int i;

	qsort(x, (size_t)n, sizeof *x, cmp_double);
	at = q * (n - 1);
	i = (int)at;
	f = at - i;
	return i + 1 < n ? x[i] * (1 - f) + x[i + 1] * f : x[i];
}

static double median(double *x, int n)
{
	return quantile(x, n, 0.5);
}

/* The CPU time the hypervisor gave to others ("steal", /proc/stat) and the
 * total, in ticks summed over the CPUs; 0 and 0 where /proc/stat is not. */
static void cpu_ticks(double *steal, double *total)
{
	FILE *f = fopen("/proc/stat", "r");
	unsigned long long v[8] = {0};

	*steal = *total = 0;
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (int k = 0; k < 8; k++)
			*total += (double)v[k];
		*steal = (double)v[7];
	}
	fclose(f);
}

static struct job_point job_of(int64_t n, int64_t m, int64_t B, int threads)
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
	return job;
}

static struct engine *engine_of(const struct job_point *job)
{
	struct engine_opts opts = {0};
	struct engine *e = NULL;
	char err[SPEC_ERR_LEN];
	const char *br = getenv("BENCH_BLOCK_ROWS");
	double L;

	const char *gr = getenv("BENCH_GRAM");

	if (br)
		opts.block_rows = atoll(br);
	if (gr)
		opts.gram = atoi(gr);
	if (engine_create(job, 1, &opts, &e, err) != 0) {
		fprintf(stderr, "bench_step: %s\n", err);
		exit(1);
	}
	for (int64_t s = 0; s < 2; s++)
		engine_step(e, s, &L);
	return e;
}

/* An engine trained for PRE steps (warm-up 100, so that ReLU has made g
 * sparse, as it is for most of a real run). */
static struct engine *trained_engine_of(struct job_point *job, int64_t pre)
{
	struct engine *e;
	double L;

	job->warmup = 100;
	e = engine_of(job);
	for (int64_t s = 2; s < pre; s++)
		engine_step(e, s, &L);
	return e;
}

/* Mean time of K steps of E, continuing at *STEP. */
static double steps_time(struct engine *e, int64_t *step, int K)
{
	double t0 = now_s(), L;

	for (int k = 0; k < K; k++)
		engine_step(e, (*step)++, &L);
	return (now_s() - t0) / K;
}

/* K steps of an engine on a thread of its own (two one-thread jobs at once). */
struct steps_job {
	struct engine *e;
	int64_t step;
	int K;
	double t;
};

static void *steps_thread(void *arg)
{
	struct steps_job *j = arg;

	j->t = steps_time(j->e, &j->step, j->K);
	return NULL;
}

/* Seconds until both of two one-thread jobs have made their K steps,
 * running at once on two threads. */
static double steps_pair_time(struct steps_job *a, struct steps_job *b)
{
	run_two(steps_thread, a, b);
	return fmax(a->t, b->t);
}

/* The same one-thread job on each of the first two CPUs this process may
 * use, K steps on each in turn (the order alternating with ROUND): the
 * slower CPU's time over the faster's, or 0 with fewer than two CPUs.  On a
 * shared host two CPUs need not be equally fast at a given moment; a step
 * cut into fixed parts for two threads waits for the slower. */
static double core_gap(struct engine *e, int64_t *step, int K, int round)
{
	cpu_set_t all, one;
	int cpu[2], found = 0;
	double t[2];

	if (sched_getaffinity(0, sizeof all, &all) != 0)
		return 0;
	for (int c = 0; c < CPU_SETSIZE && found < 2; c++)
		if (CPU_ISSET(c, &all))
			cpu[found++] = c;
	if (found < 2)
		return 0;
	for (int q = 0; q < 2; q++) {
		const int k = (q + round) % 2;

		CPU_ZERO(&one);
		CPU_SET(cpu[k], &one);
		if (sched_setaffinity(0, sizeof one, &one) != 0)
			break;
		t[k] = steps_time(e, step, K);
		found--;
	}
	sched_setaffinity(0, sizeof all, &all);
	return found == 0 ? fmax(t[0], t[1]) / fmin(t[0], t[1]) : 0;
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
	const int pair_only = argc > 1 && !strcmp(argv[1], "pair");
	/* "width M": the table's row for n = 1000, m = M, one thread, alone */
	const int64_t width = argc > 2 && !strcmp(argv[1], "width") ? atoll(argv[2]) : 0;
	const int reps = quick ? 1 : 5;
	struct rusage ru;
	int rows = 0;

	if (argc > 1 && !strcmp(argv[1], "width") && width <= 0) {
		fprintf(stderr, "bench_step: width needs a width M > 0, as in 'width 39'\n");
		return 2;
	}

	printf("bench_step: trainer step vs its three sgemm products, interleaved, best of %d\n",
	       reps);
	if (!pair_only)
		printf("%6s %5s %5s %3s | %9s %8s %11s | %9s %8s | %6s | %8s | %10s %6s %11s\n",
		       "n", "m", "B", "thr", "step ms", "GFLOP/s", "path", "sgemm ms", "GFLOP/s",
		       "ratio", "job MiB", "trained ms", "ratio", "path");
	for (size_t c = 0; c < (pair_only ? 0 : sizeof cases / sizeof cases[0]); c++) {
		if (width > 0 &&
		    (cases[c].n != 1000 || cases[c].m != width || cases[c].threads != 1))
			continue;
		rows++;
		const int64_t n = cases[c].n, m = cases[c].m, B = cases[c].B;
		const double flop = 6.0 * (double)B * (double)n * (double)m;
		const int K = quick ? 1 : (int)fmax(2, fmin(40, 1.2e10 / flop));
		struct job_point job = job_of(n, m, B, cases[c].threads);
		struct engine *e = engine_of(&job), *et = NULL;
		struct sgemm3 g;
		double ts = INFINITY, tg = INFINITY, tt = INFINITY;
		const char *path, *tpath = "-";
		int64_t step = 2, pre = n == 1000 && !quick ? 800 : 0, tstep = pre;
		size_t bytes = engine_bytes(e);

		if (pre > 0) {
			struct job_point jt = job;

			et = trained_engine_of(&jt, pre);
		}
		sgemm3_init(&g, n, m, B);
		for (int r = 0; r < reps; r++) {
			ts = fmin(ts, steps_time(e, &step, K));
			tg = fmin(tg, sgemm3_time(&g, cases[c].threads, K));
			if (et)
				tt = fmin(tt, steps_time(et, &tstep, K));
		}
		path = engine_last_path(e);
		if (et)
			tpath = engine_last_path(et);
		engine_destroy(&e);
		engine_destroy(&et);
		sgemm3_free(&g);
		/* the job's memory: engine block + loss history + sampler tables */
		bytes += (size_t)job.steps * 8 + (size_t)n * 48;
		printf("%6lld %5lld %5lld %3d | %9.3f %8.1f %11s | %9.3f %8.1f | %6.2f | %8.1f | "
		       "%10.3f "
		       "%6.2f %11s\n",
		       (long long)n, (long long)m, (long long)B, cases[c].threads, 1e3 * ts,
		       flop / ts * 1e-9, path, 1e3 * tg, flop / tg * 1e-9, ts / tg,
		       (double)bytes / (1 << 20), 1e3 * tt, tt / tg, tpath);
		printf("RESULT n=%lld m=%lld B=%lld threads=%d step_ms=%.3f sgemm_ms=%.3f "
		       "job_mib=%.1f trained_ms=%.3f\n",
		       (long long)n, (long long)m, (long long)B, cases[c].threads, 1e3 * ts,
		       1e3 * tg, (double)bytes / (1 << 20), 1e3 * tt);
		fflush(stdout);
	}
	if (width > 0 && rows == 0) {
		fprintf(stderr, "bench_step: no one-thread shape of n = 1000 has m = %lld\n",
			(long long)width);
		return 2;
	}
	if (width > 0)
		return 0;
	{
		/* 2 threads against 1 at m = 100: REPS2 rounds of K2 steps each,
		 * side by side: one job on 1 thread, the same job on 2 threads,
		 * and two 1-thread jobs at once (what two cores of this machine
		 * give this workload when nothing is shared but the hardware);
		 * the medians of the rounds' ratios (a noisy neighbour slows one
		 * round, not the median).  The jobs compared run the same steps
		 * in each round (a step's cost falls as g thins out: at step 2800
		 * it has less than half the non-zeros of step 1300), so each role
		 * has an engine of its own: E1 and E2 for the ratio, E1B and E1C
		 * for the two jobs at once, E1D for the two CPUs (it runs twice
		 * the steps; only the ratio of its halves counts) */
		enum { REPS2 = 25, K2 = 20 };
		struct job_point j1 = job_of(1000, 100, 2048, 1), j2 = job_of(1000, 100, 2048, 2);
		const int64_t pre = quick ? 2 : 800;
		struct engine *e1 = trained_engine_of(&j1, pre);
		struct engine *e2 = trained_engine_of(&j2, pre);
		struct engine *e1b = trained_engine_of(&j1, pre);
		struct engine *e1c = trained_engine_of(&j1, pre);
		struct engine *e1d = trained_engine_of(&j1, pre);
		double t1[REPS2], t2[REPS2], ratio[REPS2], jobs[REPS2], gap[REPS2];
		double steal0, total0, steal1, total1;
		int64_t step = pre, s, sd = pre;
		const int R = quick ? 1 : REPS2, K = quick ? 1 : K2;
		struct steps_job ja = {e1b, pre, K, 0}, jb = {e1c, pre, K, 0};

		cpu_ticks(&steal0, &total0);
		for (int r = 0; r < R; r++, step += K) {
			s = step;
			t1[r] = steps_time(e1, &s, K);
			s = step;
			t2[r] = steps_time(e2, &s, K);
			ratio[r] = t1[r] / t2[r];
			ja.step = jb.step = step;
			jobs[r] = 2 * t1[r] / steps_pair_time(&ja, &jb);
			gap[r] = core_gap(e1d, &sd, K, r);
		}
		cpu_ticks(&steal1, &total1);
		engine_destroy(&e1);
		engine_destroy(&e2);
		engine_destroy(&e1b);
		engine_destroy(&e1c);
		engine_destroy(&e1d);
		printf("2 threads vs 1 at n = 1000, m = 100, trained, %d rounds of %d steps side "
		       "by "
		       "side: median %.3f ms vs %.3f ms, median ratio %.2fx (quartiles "
		       "%.2f-%.2f)\n",
		       R, K, 1e3 * median(t2, R), 1e3 * median(t1, R), median(ratio, R),
		       quantile(ratio, R, 0.25), quantile(ratio, R, 0.75));
		printf("the same rounds, two 1-thread jobs at once vs one alone (throughput): "
		       "median %.2fx (quartiles %.2f-%.2f)\n",
		       median(jobs, R), quantile(jobs, R, 0.25), quantile(jobs, R, 0.75));
		if (median(gap, R) > 0)
			printf("the same rounds, the 1-thread job on one CPU and then on the "
			       "other: "
			       "the slower CPU took a median %.0f%% longer (quartiles "
			       "%.0f-%.0f%%)\n",
			       100 * (median(gap, R) - 1), 100 * (quantile(gap, R, 0.25) - 1),
			       100 * (quantile(gap, R, 0.75) - 1));
		if (total1 > total0)
			printf("CPU time the host gave to others during these rounds (steal): "
			       "%.1f%%\n",
			       100.0 * (steal1 - steal0) / (total1 - total0));
	}
	{
		/* the ceiling: two threads each running the three products */
		struct sgemm3 g;
		double t1 = INFINITY, t2 = INFINITY;
		const int K = quick ? 1 : 20;

		sgemm3_init(&g, 1000, 100, 2048);
		for (int r = 0; r < reps; r++) {
			t1 = fmin(t1, sgemm3_time(&g, 1, K));
			t2 = fmin(t2, sgemm3_pair_time(1000, 100, 2048, K));
		}
		sgemm3_free(&g);
		printf("sgemm throughput of 2 threads in one process vs 1 (n = 1000, m = 100): "
		       "%.3f ms per product set alone, %.3f ms each side by side: %.2fx\n",
		       1e3 * t1, 1e3 * t2, 2 * t1 / t2);
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("peak RSS of the benchmark process: %.1f MiB\n", ru.ru_maxrss / 1024.0);
	return 0;
}
