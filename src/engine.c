/* engine.c - a job's state and its threaded optimiser step.
 *
 * Threads: the caller is thread 0; threads 1..T-1 are pthreads created once
 * per engine and parked on a barrier between phases (spinning for a moment,
 * then sleeping).  A block-path step has
 * two phases separated by a barrier: (1) the batch is cut into C fixed chunks of rows
 * (C = 1 for one thread, 2T otherwise); threads claim chunks from an atomic
 * counter and process each in blocks into the chunk's own accumulators
 * dW_c, db_c; (2) threads claim fixed ranges of rows of W and b and update
 * them from Σ_c dW_c, summed in chunk order.  Which thread did a chunk does
 * not change a bit, so for a fixed T the result is deterministic, and a
 * thread that the OS preempts does not hold the others back (shared nodes).
 * Hot path: model_block_grad inside phase 1.  A Gram-path step (gram.h) has
 * five phases, listed at phase_sample; when the Gram buffers exist, every
 * step starts with its first (sample the batch), after which the last thread
 * to finish numbers the active features and chooses the path.  Its
 * per-sample phases cut the batch into GC chunks (8T), its product phases
 * cut their items into fixed pieces of decreasing size (piece_cut); threads
 * claim both dynamically, so a core that the host slows for a moment hands
 * the rest of the phase to the others instead of holding them back.  The
 * Gram path's sparse step (most of a trained run) has three phases instead:
 * the batch, then each thread's part of the features (its columns of M_S,
 * every sample over them, and the g terms of its rows of dW), then the x
 * terms of those rows and their update (phase_part_rows).
 */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "supersweep/engine.h"
#include "supersweep/err.h"
#include "supersweep/gram.h"
#include "supersweep/model.h"

/* AddressSanitizer builds (CI's SAN=address,undefined) put a poisoned guard
 * after each buffer carved from the engine's one block (see carve). */
#if defined(__SANITIZE_ADDRESS__)
#define ENGINE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ENGINE_ASAN 1
#endif
#endif
#ifdef ENGINE_ASAN
#include <sanitizer/asan_interface.h>
#define GUARD_BYTES 64
#define GUARD_MAX   256
#else
#define GUARD_BYTES 0
#endif

/* Samples per block: 128, or 256 when W is over 4 MiB (n·m > 2^20 floats).
 * Each block's products repack W and add into all of dW; once W is out of
 * the per-core cache that costs memory traffic, which bigger blocks share
 * (n = 10240, m = 256, one thread: 392 ms per step with 128, 349 with 256,
 * 346 with 512; 6 MiB more per thread for 256). */
#define DEFAULT_BLOCK_ROWS 128
#define LARGE_BLOCK_ROWS   256
#define LARGE_W_FLOATS	   (1 << 20)
#define DEFAULT_SPARSE_MAX 0.1 /* density of g up to which the sparse products run */
#define ALIGN		   64
/* The Gram path (gram.h) runs a step when its batch has few enough distinct
 * active features D that it costs less than the block path.  The block
 * path's cost depends on the density ρ of g: dense (ρ above sparse_max, as at
 * initialisation) it is its three products, 6·B·n·m; sparse, its one dense
 * product z = h Wᵀ, 2·B·n·m, plus the products over g's non-zeros, which run
 * ≈ 5x slower per FLOP than sgemm: ≈ 2·B·n·m·(1 + 10ρ).  The Gram path's is
 * its three products, 6·D·n·m, plus per-sample passes and small-K products
 * worth ≈ 40·E·B·n, a constant fitted to the steps below.  So it pays for
 *     D ≤ D_max(ρ) = B·(c(ρ)·m - 40E)/(6m),  c = 6 (dense), 2·(1 + 10ρ) (sparse).
 * Measured (n = 1000, B = 2048, α = 1, D ≈ 506, one thread, after 5000
 * steps, ms block/Gram): m = 39 4.07/4.72, m = 63 5.15/5.45, m = 100
 * 7.25/6.68; while g thins out (m = 63, warm-up 100: ρ = 0.08 at step 500,
 * 0.02 at step 1000) 16.1/7.7 and 5.8/5.1, and at initialisation 1.5x.
 * A step does not know its ρ before it runs; z = b + W Wᵀx is b away from a
 * sample's few active features, so the fraction of b above zero stands for
 * it (0.48 at initialisation, 0.10 and 0.01 at the steps above; a pure
 * function of the parameters, so the choice is the same after a resume).
 * Its buffers (≈ (T + 1)·rows·n floats, rows ≥ D_max(0)) are set up only when
 * the path pays once g is sparse, as it is for most of a run, and they take
 * at most GRAM_MAX_BYTES; they have room for the batches' D (mean + 6 sd)
 * so that the path can run at initialisation. */
#define GRAM_MAX_BYTES (256.0 * 1024 * 1024)
/* Once g is sparse, the Gram path's sparse step (gram_part_*) skips dM_S:
 * dW = Σ_r g_r h_rᵀ + x_r q_rᵀ costs ≈ 4·m FLOP per non-zero of g in axpys
 * over rows of W, against the 4·D·n·m of dM_S's two products.  Measured
 * (n = 1000, m = 100, B = 2048, one thread, ms for h, q and the sums): 0.75
 * at a density of 0.005 (≈ 10^4 non-zeros, most of a run), 1.77 at 0.02,
 * 4.7 at 0.05, against ≈ 3.3 for dM_S's products and sums at D = 506.  A
 * Gram step is the sparse step when at most SPARSE_TRY_B of b is positive
 * (density ≈ 0.02 or less, see above).  Its backward then costs about what
 * the block path's sparse products do, so the Gram path pays as long as its
 * forward, 2·D·n·m,
 * and its per-sample passes, ≈ 10·E·B·n more than the block path's, cost
 * less than z = h Wᵀ: D ≤ B·(2m - 10E)/(2m).  Fitted to steps after 3000
 * (n = 1000, B = 2048, α = 1, D ≈ 506, one thread, ms block/Gram): m = 25
 * 4.1/3.6, m = 39 5.2/4.0, m = 63 6.4/4.9.  The buffers are still set up
 * only where the Gram path pays with dM_S's products (from m ≈ 50 on here). */
#define SPARSE_TRY_B 0.02
/* The work of a row of W in the sparse step's last phase (clearing dW's row
 * and the update), in units of one g or x term, an axpy over the row:
 * n = 1000, m = 100, one thread, ≈ 470 ns against ≈ 23. */
#define ROW_COST 20.0

enum phase { PHASE_QUIT, PHASE_STEP, PHASE_GRAD, PHASE_EVAL };

/* A reusable barrier whose size can shrink (failed thread start).  A
 * waiter spins for up to spin_ns before it sleeps: a step crosses about
 * six barriers a millisecond or less apart, and waking a sleeping thread
 * costs 5-45 µs on a virtual machine (measured: median 8, 99th percentile
 * 44).  SPIN_OWN_NS when the job's threads fit the CPUs the process may
 * run on (as under Slurm with cpus-per-task = threads); SPIN_SHARED_NS when
 * they do not, so that a spinning thread cannot keep the one it waits for
 * off an oversubscribed core for long.  (n = 1000, m = 100, two threads:
 * 200 µs instead of 20 µs gave a 3-5 % faster step.) */
#define SPIN_OWN_NS    200000
#define SPIN_SHARED_NS 20000
struct barrier {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int count, waiting;
	int64_t spin_ns;
	atomic_uint gen;
};

struct worker {
	struct engine *e;
	int t; /* thread index */
	pthread_t thread;
	struct model_work wk; /* block scratch */
	int64_t *start;	      /* (block_rows + 1) CSR offsets */
	int32_t *idx;	      /* (cap) active features of the block */
	float *val;	      /* (cap) their values */
	float *dW, *db;	      /* accumulators of the chunk being processed */
	double psum;	      /* Σ of the parameters this thread updated in the step */
};

/* One chunk of the batch (block path: C chunks, phase 1; Gram path: GC;
 * the sparse step: the loss of part c). */
struct chunk {
	float *dW, *db;	 /* (n, m), (n) gradient accumulators of the chunk's rows;
			    dW only in the first C chunks */
	double loss;	 /* the chunk's Σ (y - x)² */
	bool overflow;	 /* the Gram path's batch did not fit the chunk's room */
	int64_t entries; /* the Gram path: entries of the chunk's g kept (gram_rows) */
};

/* Counters of the phases: threads claim items (chunks, ranges, pieces)
 * from them; each phase of a step has its own (they are reset per step). */
enum counter { CNT_CHUNK, CNT_UPDATE, CNT_SAMPLE, CNT_FORWARD, CNT_REDUCE, CNT_GRAM_GRAD, CNT_N };

/* The Gram path's product phases cut their items into T·NLEVELS pieces
 * (one with one thread): per level, T equal pieces sharing the level's
 * fraction.  Big pieces first (OpenBLAS runs small calls slower), small
 * ones last, to balance the threads (n = 1000, m = 100, two threads: one
 * fixed half per thread lost 20-30 % of a phase to the slower thread). */
#define NLEVELS 3
static const double piece_level[NLEVELS] = {0.85, 0.10, 0.05};

struct engine {
	const struct job_point *job;
	int64_t n, m, B, T, block_rows, cap, gcap;
	int64_t C;	/* chunks of the block path's batch and update ranges */
	int64_t GC;	/* chunks of the Gram path's batch */
	int64_t nch;	/* max(C, GC, P): chunk structs */
	int64_t pieces; /* pieces of the Gram path's product phases */
	int64_t P;	/* parts of the sparse step (engine_opts.parts; default T) */
	struct sampler *smp;
	void *block;  /* the one allocation */
	size_t bytes; /* its size */
	struct engine_params par;
	const float **gW;	 /* (C) accumulators of W, in chunk order */
	const float **gb;	 /* (nch) accumulators of b */
	struct worker *w;	 /* (T) */
	struct chunk *ch;	 /* (nch) */
	atomic_long next[CNT_N]; /* next item to claim, per counter */
	/* the Gram path (gram_on: its buffers exist; gram_step: this step uses it) */
	struct gram gr;
	bool gram_on, gram_step;
	bool sparse_step;	  /* this Gram step is the sparse step, by parts */
	struct gram_part *part;	  /* (P) the sparse step's parts: thread t runs t, t + T, ... */
	int gram_mode;		  /* engine_opts.gram */
	int64_t batch_step;	  /* the step whose batch bidx/bval hold whole, or -1 */
	int64_t *bstart;	  /* (B + GC) CSR offsets of the batch, per chunk */
	int32_t *bidx;		  /* the batch's active features, chunk c at bbase[c] */
	float *bval;		  /* their values */
	int64_t *bbase;		  /* (GC + 1) start of each chunk's room in bidx/bval */
	int64_t *lbase;		  /* (GC + 1) start of each chunk's room in gr.lcol/lval */
	double sparse_f;	  /* engine_opts.sparse_max, in [0, 1] */
	struct model_rows *brows; /* (GC) the batch's chunks */
	/* the next step's batch, sampled by chunks while threads wait at the
	 * barriers within a step (Gram path, T > 1; see presample) */
	int64_t *nbstart; /* as bstart, bidx, bval, brows */
	int32_t *nbidx;
	float *nbval;
	struct model_rows *nbrows;
	bool *noverflow;      /* (GC) chunk c did not fit its room */
	int64_t pre_step;     /* the step it is for, or -1 */
	atomic_long pre_next; /* its next chunk to claim */
	int64_t sample_from;  /* this step's first chunk to sample (those before: sampled) */
	int nthreads;	      /* pthreads started */
#if GUARD_BYTES > 0
	size_t guard_at[GUARD_MAX], guard_len[GUARD_MAX]; /* the guards of carve */
	int nguard;
	bool guards_done; /* the layout is sized: carve records no more */
#endif
	bool sync_ready;
	struct barrier bar;
	/* the current command (written by thread 0 before the start barrier) */
	enum phase phase;
	int64_t step;
	struct model_adam aW, ab;
	int64_t eval_n;
};

static int barrier_init(struct barrier *b, int count, int64_t spin_ns)
{
	if (pthread_mutex_init(&b->mu, NULL) != 0)
		return -1;
	if (pthread_cond_init(&b->cv, NULL) != 0) {
		pthread_mutex_destroy(&b->mu);
		return -1;
	}
	b->count = count;
	b->waiting = 0;
	b->spin_ns = spin_ns;
	atomic_init(&b->gen, 0);
	return 0;
}

/* A hint to the core that this thread spins. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

static int64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Waits until every thread has arrived; the last to arrive runs LAST(ARG)
 * (when not NULL) before it releases the others, who meanwhile run
 * WORK(ARG) (when not NULL) until it returns false, then spin. */
static void barrier_wait_work(struct barrier *b, void (*last)(void *), void *arg,
			      bool (*work)(void *))
{
	pthread_mutex_lock(&b->mu);
	const unsigned gen = atomic_load(&b->gen);

	if (++b->waiting >= b->count) {
		if (last)
			last(arg);
		b->waiting = 0;
		atomic_store(&b->gen, gen + 1);
		pthread_cond_broadcast(&b->cv);
		pthread_mutex_unlock(&b->mu);
		return;
	}
	pthread_mutex_unlock(&b->mu);
	while (work && atomic_load_explicit(&b->gen, memory_order_acquire) == gen && work(arg))
		;
	/* spin (the last arrival changes gen), checking the clock now and then */
	for (int64_t t0 = clock_ns(), i = 1;; i++) {
		if (atomic_load_explicit(&b->gen, memory_order_acquire) != gen)
			return;
		if (i % 64 == 0 && clock_ns() - t0 > b->spin_ns)
			break;
		cpu_relax();
	}
	/* then sleep; gen is read under the mutex the last arrival holds */
	pthread_mutex_lock(&b->mu);
	while (atomic_load(&b->gen) == gen)
		pthread_cond_wait(&b->cv, &b->mu);
	pthread_mutex_unlock(&b->mu);
}

static void barrier_wait(struct barrier *b)
{
	barrier_wait_work(b, NULL, NULL, NULL);
}

static void barrier_destroy(struct barrier *b)
{
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
}

/* The block of rows [R, min(R + block_rows, R1)) of the batch the Gram
 * path sampled, when it lies within one of the batch's chunks (as it does
 * when the chunks are multiples of a block, e.g. B = 2048 with up to 8
 * threads).  Sampling is a pure function of (step, row), so these are the
 * rows run_rows would sample. */
static bool sampled_block(const struct engine *e, int64_t r, int64_t r1, struct model_rows *x)
{
	const int64_t end = r + e->block_rows < r1 ? r + e->block_rows : r1;
	int64_t g = r * e->GC / e->B;

	while (g > 0 && e->B * g / e->GC > r)
		g--;
	while (e->B * (g + 1) / e->GC <= r)
		g++;
	if (end > e->B * (g + 1) / e->GC)
		return false;
	x->nrows = end - r;
	x->start = e->brows[g].start + (r - e->B * g / e->GC);
	x->idx = e->brows[g].idx;
	x->val = e->brows[g].val;
	return true;
}

/* The next block of rows [*R, ...) of a batch (PURPOSE, STEP) or of the
 * global eval rows, up to R1, sampled into the worker's scratch. */
static struct model_rows sample_block(struct worker *w, enum sampler_purpose purpose, int64_t step,
				      int64_t *r, int64_t r1)
{
	struct engine *e = w->e;
	int64_t nr = 0, k = 0;

	w->start[0] = 0;
	while (*r < r1 && nr < e->block_rows && e->cap - k >= e->n) {
		uint64_t s = (uint64_t)step, row = (uint64_t)*r;

		if (purpose == SAMPLER_EVAL) {
			s = (uint64_t)(*r / e->B);
			row = (uint64_t)(*r % e->B);
		}
		k += sampler_row(e->smp, purpose, s, row, w->idx + k, w->val + k);
		w->start[++nr] = k;
		(*r)++;
	}
	return (struct model_rows){nr, w->start, w->idx, w->val};
}

/* Rows [r0, r1) of a batch (purpose, step) or of the global eval rows, in
 * blocks: each sampled, or taken from the batch the Gram path sampled for
 * this step (a step that then took the block path: its batch had too many
 * distinct features). */
static double run_rows(struct worker *w, enum sampler_purpose purpose, int64_t step, int64_t r0,
		       int64_t r1, bool grad)
{
	struct engine *e = w->e;
	const float scale = (float)(2.0 / ((double)e->B * (double)e->n));
	const bool sampled = purpose == SAMPLER_DATA && e->batch_step == step;
	double loss = 0;
	int64_t r = r0;

	while (r < r1) {
		struct model_rows x;

		if (sampled && sampled_block(e, r, r1, &x))
			r += x.nrows;
		else
			x = sample_block(w, purpose, step, &r, r1);
		if (grad)
			loss += model_block_grad(e->n, e->m, e->par.W, e->par.b, &x, scale, &w->wk,
						 w->dW, w->db);
		else
			loss += model_block_loss(e->n, e->m, e->par.W, e->par.b, &x, &w->wk);
	}
	return loss;
}

static void phase_grad(struct worker *w)
{
	struct engine *e = w->e;
	long c;

	while ((c = atomic_fetch_add(&e->next[CNT_CHUNK], 1)) < e->C) {
		struct chunk *ch = &e->ch[c];

		memset(ch->dW, 0, (size_t)(e->n * e->m) * sizeof *ch->dW);
		memset(ch->db, 0, (size_t)e->n * sizeof *ch->db);
		w->dW = ch->dW;
		w->db = ch->db;
		ch->loss = run_rows(w, SAMPLER_DATA, e->step, e->B * c / e->C,
				    e->B * (c + 1) / e->C, true);
	}
}

static void phase_update(struct worker *w)
{
	struct engine *e = w->e;
	long u;

	while ((u = atomic_fetch_add(&e->next[CNT_UPDATE], 1)) < e->C) {
		int64_t i0 = e->n * u / e->C, i1 = e->n * (u + 1) / e->C;

		w->psum += model_update_rows(e->par.W, e->par.mW, e->par.vW, e->gW, (int)e->C, i0,
					     i1, e->m, e->job->gamma, &e->aW);
		w->psum += model_update_rows(e->par.b, e->par.mb, e->par.vb, e->gb, (int)e->C, i0,
					     i1, 1, 0.0, &e->ab);
	}
}

static void phase_eval(struct worker *w)
{
	struct engine *e = w->e;
	long c;

	while ((c = atomic_fetch_add(&e->next[CNT_CHUNK], 1)) < e->C)
		e->ch[c].loss = run_rows(w, SAMPLER_EVAL, 0, e->eval_n * c / e->C,
					 e->eval_n * (c + 1) / e->C, false);
}

/* Chunk C of the batch of STEP into BSTART, BIDX, BVAL and BROWS (the
 * current batch's or the next's); false when it does not fit its room. */
static bool sample_chunk(const struct engine *e, int64_t step, int64_t c, int64_t *bstart,
			 int32_t *bidx, float *bval, struct model_rows *brows)
{
	const int64_t r0 = e->B * c / e->GC, r1 = e->B * (c + 1) / e->GC;
	const int64_t room = e->bbase[c + 1] - e->bbase[c];
	int64_t *start = bstart + r0 + c;
	int32_t *idx = bidx + e->bbase[c];
	float *val = bval + e->bbase[c];
	int64_t k = 0, r = r0;

	start[0] = 0;
	for (; r < r1 && room - k >= e->n; r++) {
		k += sampler_row(e->smp, SAMPLER_DATA, (uint64_t)step, (uint64_t)r, idx + k,
				 val + k);
		start[r - r0 + 1] = k;
	}
	brows[c] = (struct model_rows){r - r0, start, idx, val};
	return r == r1;
}

/* The Gram path's phases (gram.h): sample the batch by chunks (then the
 * last thread to finish numbers its active features and chooses the path:
 * choose_path); M_S by pieces of the slots; z and g of each sample by
 * chunks; dM_S and dM_S W by pieces of the slots; dW and the update by
 * pieces of the rows of W.  The sparse step's are at phase_part_rows. */
static void phase_sample(struct worker *w)
{
	struct engine *e = w->e;
	long c;

	while ((c = atomic_fetch_add(&e->next[CNT_SAMPLE], 1)) < e->GC)
		e->ch[c].overflow =
			!sample_chunk(e, e->step, c, e->bstart, e->bidx, e->bval, e->brows);
}

/* One chunk of the next step's batch, for a thread waiting at a barrier
 * within a step: sampling is a pure function of (step, row), so the batch
 * is the same whoever samples it and when.  False when none is left. */
static bool presample(void *arg)
{
	struct engine *e = arg;
	long c;

	if (e->pre_step < 0)
		return false;
	c = atomic_fetch_add(&e->pre_next, 1);
	if (c >= e->GC)
		return false;
	e->noverflow[c] =
		!sample_chunk(e, e->pre_step, c, e->nbstart, e->nbidx, e->nbval, e->nbrows);
	return true;
}

/* Before STEP, no thread working: take the chunks of its batch that were
 * sampled ahead, if any, and open the next step's. */
static void take_presampled(struct engine *e, int64_t step)
{
	e->sample_from = 0;
	if (!e->gram_on || e->T < 2)
		return;
	if (e->pre_step == step) {
		const long k = atomic_load(&e->pre_next);
		int64_t *bstart = e->bstart;
		int32_t *bidx = e->bidx;
		float *bval = e->bval;
		struct model_rows *brows = e->brows;

		e->sample_from = k < e->GC ? k : e->GC;
		e->bstart = e->nbstart, e->nbstart = bstart;
		e->bidx = e->nbidx, e->nbidx = bidx;
		e->bval = e->nbval, e->nbval = bval;
		e->brows = e->nbrows, e->nbrows = brows;
		for (int64_t c = 0; c < e->sample_from; c++)
			e->ch[c].overflow = e->noverflow[c];
		e->batch_step = -1;
	}
	e->pre_step = step + 1;
	atomic_store(&e->pre_next, 0);
}

/* D_max(ρ) (see GRAM_MAX_BYTES): the largest D at which the Gram path pays
 * when g has density RHO, with dM_S's products or, when SPARSE, with its
 * sparse step (see SPARSE_TRY_B). */
static double gram_pays_up_to(const struct engine *e, double rho, bool sparse)
{
	const double m = (double)e->m, B = (double)e->B, E = e->job->E;
	const double c = rho > e->sparse_f ? 6.0 : 2.0 * (1.0 + 10.0 * rho);

	if (sparse)
		return B * (2.0 * m - 10.0 * E) / (2.0 * m);
	return B * (c * m - 40.0 * E) / (6.0 * m);
}

/* The fraction of b above zero: the density of g the block path would see,
 * but for the samples' own features (see GRAM_MAX_BYTES). */
static double positive_fraction(const float *b, int64_t n)
{
	int64_t k = 0;

	for (int64_t i = 0; i < n; i++)
		k += b[i] > 0;
	return (double)k / (double)n;
}

static void choose_path(void *arg)
{
	struct engine *e = arg;
	bool fits = true, sparse;
	double rho;

	for (int64_t c = 0; c < e->GC; c++)
		fits = fits && !e->ch[c].overflow;
	e->gram_step = e->sparse_step = false;
	e->batch_step = fits ? e->step : -1;
	if (!fits)
		return; /* ≈ never: the block path samples again */
	gram_slots(&e->gr, e->brows, e->GC);
	rho = positive_fraction(e->par.b, e->n);
	sparse = rho <= SPARSE_TRY_B;
	e->gram_step = e->gr.D <= e->gr.dmax &&
		       (e->gram_mode > 0 || (double)e->gr.D <= gram_pays_up_to(e, rho, sparse));
	e->sparse_step = e->gram_step && (e->gram_mode > 1 || sparse);
}

/* Where piece J of a product phase starts, as a fraction of its items:
 * a pure function of J and T, so the pieces, and the bits, do not depend
 * on which thread claims which. */
static double piece_cut(const struct engine *e, int64_t j)
{
	const int64_t level = j / e->T;
	double at = 0;

	if (j >= e->pieces)
		return 1.0;
	for (int64_t l = 0; l < level; l++)
		at += piece_level[l];
	return at + piece_level[level] * (double)(j % e->T) / (double)e->T;
}

/* Claims the next piece of the phase counted by CNT: its index, or -1
 * when none is left. */
static long next_piece(struct engine *e, enum counter cnt)
{
	const long p = atomic_fetch_add(&e->next[cnt], 1);

	return p < e->pieces ? p : -1;
}

/* next_piece, with its items [*I0, *I1) of N. */
static long claim_piece(struct engine *e, enum counter cnt, int64_t N, int64_t *i0, int64_t *i1)
{
	const long p = next_piece(e, cnt);

	if (p < 0)
		return -1;
	*i0 = (int64_t)(piece_cut(e, p) * (double)N);
	*i1 = p + 1 == e->pieces ? N : (int64_t)(piece_cut(e, p + 1) * (double)N);
	return p;
}

static void phase_forward(struct worker *w)
{
	struct engine *e = w->e;
	int64_t s0, s1;

	while (claim_piece(e, CNT_FORWARD, e->gr.D, &s0, &s1) >= 0)
		gram_forward_slots(&e->gr, e->par.W, s0, s1);
}

/* z, g and the list of g's non-zeros of each sample, by chunks claimed
 * dynamically (each chunk writes only its own rows, list room and db). */
static void phase_rows(struct worker *w)
{
	struct engine *e = w->e;
	const float scale = (float)(2.0 / ((double)e->B * (double)e->n));

	long c;

	while ((c = atomic_fetch_add(&e->next[CNT_CHUNK], 1)) < e->GC) {
		struct chunk *ch = &e->ch[c];

		memset(ch->db, 0, (size_t)e->n * sizeof *ch->db);
		ch->loss = gram_rows(&e->gr, e->par.b, &e->brows[c], e->B * c / e->GC, scale,
				     ch->db, w->wk.z, w->wk.xrow, e->lbase[c],
				     e->lbase[c + 1] - e->lbase[c], &ch->entries);
	}
}

/* dM_S and dM_S W by pieces of the slots, cut by their cost. */
static void phase_reduce(struct worker *w)
{
	struct engine *e = w->e;
	int64_t s0, s1, entries = 0;
	long p;

	for (int64_t c = 0; c < e->GC; c++)
		entries += e->ch[c].entries;
	while ((p = next_piece(e, CNT_REDUCE)) >= 0) {
		gram_slot_share(&e->gr, entries, e->B, piece_cut(e, p), piece_cut(e, p + 1), &s0,
				&s1);
		gram_reduce_slots(&e->gr, e->brows, e->GC, e->par.W, s0, s1);
	}
}

/* dW by pieces of rows (into chunk 0's accumulator), then, when UPDATE,
 * the decay and Adam update of those rows. */
static void phase_gram_grad(struct worker *w, bool update)
{
	struct engine *e = w->e;
	int64_t i0, i1;
	long p;

	while ((p = claim_piece(e, CNT_GRAM_GRAD, e->n, &i0, &i1)) >= 0) {
		gram_grad_rows(&e->gr, i0, i1, e->ch[0].dW);
		if (!update)
			continue;
		w->psum += model_update_rows(e->par.W, e->par.mW, e->par.vW, e->gW, 1, i0, i1, e->m,
					     e->job->gamma, &e->aW);
		w->psum += model_update_rows(e->par.b, e->par.mb, e->par.vb, e->gb, (int)e->GC, i0,
					     i1, 1, 0.0, &e->ab);
	}
}

/* The barriers within a step: a thread that waits samples the next
 * step's batch meanwhile. */
static void sync_threads(struct engine *e)
{
	if (e->T > 1)
		barrier_wait_work(&e->bar, NULL, e, presample);
}

/* sync_threads, then LAST(E) on one thread: the last to arrive. */
static void sync_threads_then(struct engine *e, void (*last)(void *))
{
	if (e->T > 1)
		barrier_wait_work(&e->bar, last, e, presample);
	else
		last(e);
}

/* The sparse step (gram.h) after the batch: each thread runs its parts of
 * the features (parts t, t + T, ...: one each when there are as many as
 * threads, the default), their columns of M_S and every sample over them
 * (part p's loss into chunk p, its columns of db into chunk 0's); with one
 * part each, a thread then sums the g terms of its part's rows of dW, which
 * need no other part.  After a barrier, phase_part_grad.  What a part
 * writes in its first phase stays with its thread, but for its x terms
 * (XQ), which the rows' owners read once.  A thread that the host stops
 * holds the other at the barrier: fixed parts trade that for data that
 * stays in one core's cache. */
static void phase_part_rows(struct worker *w)
{
	struct engine *e = w->e;
	const float scale = (float)(2.0 / ((double)e->B * (double)e->n));

	for (int64_t t = w->t; t < e->P; t += e->T) {
		struct gram_part *p = &e->part[t];

		gram_part_forward(&e->gr, p, e->par.W);
		e->ch[t].loss = gram_part_rows(&e->gr, p, e->par.b, e->par.W, e->brows, e->GC,
					       scale, e->ch[0].db, w->wk.z, w->wk.xrow, w->wk.gw);
	}
	if (e->P == e->T)
		gram_part_gterms(&e->gr, e->part, e->P, e->part[w->t].j0, e->part[w->t].j1,
				 e->part[w->t].WS, e->brows, e->GC, w->idx, w->wk.h, e->ch[0].dW);
}

/* Thread W's rows of dW (into chunk 0's accumulator): with one part each,
 * its part's rows, to which it adds the x terms; else a share of the rows
 * cut by their work, whose g terms and x terms it sums.  Then, when UPDATE,
 * the decay and Adam update of those rows of W and b. */
static void phase_part_grad(struct worker *w, bool update)
{
	struct engine *e = w->e;
	int64_t i0, i1;

	if (e->P == e->T) {
		i0 = e->part[w->t].j0;
		i1 = e->part[w->t].j1;
	} else {
		i0 = gram_part_cut(&e->gr, e->part, e->P, ROW_COST, w->t, e->T);
		i1 = gram_part_cut(&e->gr, e->part, e->P, ROW_COST, w->t + 1, e->T);
		gram_part_gterms(&e->gr, e->part, e->P, i0, i1,
				 e->part[w->t < e->P ? w->t : 0].WS /* any copy of W_S */, e->brows,
				 e->GC, w->idx, w->wk.h, e->ch[0].dW);
	}
	gram_part_xterms(&e->gr, e->part, e->P, i0, i1, e->ch[0].dW);
	if (!update || i1 <= i0)
		return;
	w->psum += model_update_rows(e->par.W, e->par.mW, e->par.vW, e->gW, 1, i0, i1, e->m,
				     e->job->gamma, &e->aW);
	w->psum +=
		model_update_rows(e->par.b, e->par.mb, e->par.vb, e->gb, 1, i0, i1, 1, 0.0, &e->ab);
}

/* A step's gradient (and, when UPDATE, its update) on every thread. */
static void run_step(struct worker *w, bool update)
{
	struct engine *e = w->e;

	w->psum = 0;
	if (e->gram_on) {
		phase_sample(w);
		sync_threads_then(e, choose_path);
		if (e->sparse_step) {
			phase_part_rows(w);
			sync_threads(e);
			phase_part_grad(w, update);
			return;
		}
		if (e->gram_step) {
			phase_forward(w);
			sync_threads(e);
			phase_rows(w);
			sync_threads(e);
			phase_reduce(w);
			sync_threads(e);
			phase_gram_grad(w, update);
			return;
		}
	}
	phase_grad(w);
	if (update) {
		sync_threads(e);
		phase_update(w);
	}
}

/* The work of thread W in the current phase (barriers included). */
static void run_phase(struct worker *w)
{
	struct engine *e = w->e;

	switch (e->phase) {
	case PHASE_STEP: run_step(w, true); break;
	case PHASE_GRAD: run_step(w, false); break;
	case PHASE_EVAL: phase_eval(w); break;
	case PHASE_QUIT: break;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct engine *e = w->e;

	for (;;) {
		barrier_wait(&e->bar); /* start of a phase */
		if (e->phase == PHASE_QUIT)
			return NULL;
		run_phase(w);
		barrier_wait(&e->bar); /* end of the phase */
	}
}

/* Run the current phase on all threads; returns when every thread is done. */
static void dispatch(struct engine *e, enum phase phase)
{
	e->phase = phase;
	for (int c = 0; c < CNT_N; c++)
		atomic_store(&e->next[c], 0);
	atomic_store(&e->next[CNT_SAMPLE], e->sample_from);
	if (e->T > 1)
		barrier_wait(&e->bar);
	run_phase(&e->w[0]);
	if (e->T > 1)
		barrier_wait(&e->bar);
}

/* The distinct active features of a batch of B samples,
 * D = Σ_i Bernoulli(1 - (1 - p_i)^B): its mean and standard deviation. */
static void batch_features(const struct sampler *smp, int64_t B, double *mean, double *sd)
{
	double mu = 0, var = 0;

	for (int64_t i = 0; i < smp->n; i++) {
		double q = smp->p[i] >= 1 ? 1 : -expm1((double)B * log1p(-smp->p[i]));

		mu += q;
		var += q * (1 - q);
	}
	*mean = mu;
	*sd = sqrt(var);
}

/* Room (entries) for the samples of ROWS rows: their count is a Σ of
 * Bernoulli draws, mean μ = rows·E, variance <= μ; the room is μ + 12σ + 64
 * + n, at most rows·n, at least n.  A block or chunk that finds less than n
 * left ends early (≈ never: more than μ + 12σ + 64 entries), and there is
 * always room for one row. */
static int64_t sample_room(const struct engine *e, int64_t rows)
{
	const double mu = (double)rows * e->smp->density;
	const double cap = fmin(mu + 12.0 * sqrt(mu) + 64.0 + (double)e->n, (double)(rows * e->n));

	return (int64_t)fmax(cap, (double)e->n);
}

/* Rows of the Gram path's batch in chunk C: [B·c/GC, B·(c + 1)/GC). */
static int64_t chunk_rows(const struct engine *e, int64_t c)
{
	return e->B * (c + 1) / e->GC - e->B * c / e->GC;
}

/* Room of chunk C of the batch sampled for the Gram path. */
static int64_t chunk_room(const struct engine *e, int64_t c)
{
	return sample_room(e, chunk_rows(e, c));
}

/* Room of chunk C in the Gram path's lists of the non-zeros of g (a row that
 * does not fit is read from G instead): the block path's share, sparse_max
 * of the chunk's entries. */
static int64_t list_room(const struct engine *e, int64_t c)
{
	return (int64_t)(e->sparse_f * (double)(chunk_rows(e, c) * e->n)) + 8;
}

/* BYTES of the engine's block at *OFF (64-byte aligned), then *OFF past
 * them.  In AddressSanitizer builds a guard follows each buffer, recorded
 * until the layout is done (guards_done; the first GUARD_MAX, enough for 8
 * threads) and poisoned once the block exists, so that a write past a
 * buffer stops the tests. */
static size_t carve(struct engine *e, size_t *off, size_t bytes)
{
	size_t at = *off;

	*off += (bytes + ALIGN - 1) / ALIGN * ALIGN;
#if GUARD_BYTES > 0
	if (!e->guards_done && e->nguard < GUARD_MAX) {
		e->guard_at[e->nguard] = at + bytes;
		e->guard_len[e->nguard++] = *off + GUARD_BYTES - (at + bytes);
	}
	*off += GUARD_BYTES;
#else
	(void)e;
#endif
	return at;
}

/* CARVE's bytes at BASE, or NULL when BASE is NULL (sizes only). */
static void *place(struct engine *e, char *base, size_t *off, size_t bytes)
{
	const size_t at = carve(e, off, bytes);

	return base ? base + at : NULL;
}

/* The first feature of the sparse step's part T (of e->P; T = e->P: n):
 * equal shares, cut at multiples of 16 (64-byte lines of W's rows). */
static int64_t part_start(const struct engine *e, int64_t t)
{
	const int64_t j = (int64_t)llround((double)e->n * (double)t / (double)e->P / 16.0) * 16;

	return t >= e->P ? e->n : j < e->n ? j : e->n;
}

/* The Gram path's buffers, carved from OFF on (gr.dmax set): each chunk's
 * sample room (sized like a block's); M_S and dM_S (dmax, n), W_S and
 * dM_S W (dmax, m), the slot tables, and the samples' g: lists of non-zeros
 * (a room per chunk) or rows of G (B, n).  The sparse step's P parts share
 * M_S (each its columns, in rows padded to 64 bytes), the lists (each a room
 * in proportion to its columns) and G, and have their own list offsets (B),
 * x terms XQ (dmax, m), work counts, g of a sample without active features
 * and, but for part 0, a copy of W_S.  With more than one thread, room for
 * the next step's batch as well (presample).  With
 * BASE NULL only the size; else also the pointers and tables.  Returns the
 * offset after them. */
static size_t gram_layout(struct engine *e, char *base, size_t off)
{
	const int64_t n = e->n, m = e->m, B = e->B, C = e->GC, dmax = e->gr.dmax, P = e->P;
	const int64_t ahead = e->T > 1; /* the next step's batch (presample) */
	struct gram *g = &e->gr;
	int64_t room = 0, lroom = 0;
	const int64_t nwork = ((n + 15) / 16 + 15) / 16 * 16; /* 64-byte lines */
	float *parts_WS, *parts_XQ, *parts_g0;
	int32_t *parts_work, *parts_g0col;

	for (int64_t c = 0; c < C; c++) {
		room += chunk_room(e, c);
		lroom += list_room(e, c);
	}
	e->bbase = place(e, base, &off, (size_t)(C + 1) * 8);
	e->bstart = place(e, base, &off, (size_t)(B + C) * 8);
	e->bidx = place(e, base, &off, (size_t)room * 4);
	e->bval = place(e, base, &off, (size_t)room * 4);
	e->brows = place(e, base, &off, (size_t)C * sizeof *e->brows);
	e->nbstart = place(e, base, &off, (size_t)(ahead * (B + C)) * 8);
	e->nbidx = place(e, base, &off, (size_t)(ahead * room) * 4);
	e->nbval = place(e, base, &off, (size_t)(ahead * room) * 4);
	e->nbrows = place(e, base, &off, (size_t)(ahead * C) * sizeof *e->nbrows);
	e->noverflow = place(e, base, &off, (size_t)(ahead * C) * sizeof *e->noverflow);
	e->lbase = place(e, base, &off, (size_t)(C + 1) * 8);
	g->slot = place(e, base, &off, (size_t)n * 4);
	g->feat = place(e, base, &off, (size_t)n * 4);
	g->uses = place(e, base, &off, (size_t)n * 4);
	g->WS = place(e, base, &off, (size_t)(dmax * m) * 4);
	g->dWS = place(e, base, &off, (size_t)(dmax * m) * 4);
	g->MS = place(e, base, &off, (size_t)(dmax * (n + 16 * P)) * 4);
	g->dMS = place(e, base, &off, (size_t)(dmax * n) * 4);
	g->G = place(e, base, &off, (size_t)(B * n) * 4);
	g->lcol = place(e, base, &off, (size_t)lroom * 4);
	g->lval = place(e, base, &off, (size_t)lroom * 4);
	parts_work = place(e, base, &off, (size_t)(P * nwork) * 4);
	g->lat = place(e, base, &off, (size_t)(P * B) * 8);
	g->lnnz = place(e, base, &off, (size_t)(P * B) * 8);
	e->part = place(e, base, &off, (size_t)P * sizeof *e->part);
	parts_WS = place(e, base, &off, (size_t)((P - 1) * dmax * m) * 4);
	parts_XQ = place(e, base, &off, (size_t)(P * dmax * m) * 4);
	parts_g0 = place(e, base, &off, (size_t)(n + 16 * P) * 4);
	parts_g0col = place(e, base, &off, (size_t)(n + 16 * P) * 4);
	if (base) {
		e->bbase[0] = e->lbase[0] = 0;
		for (int64_t c = 0; c < C; c++) {
			e->bbase[c + 1] = e->bbase[c] + chunk_room(e, c);
			e->lbase[c + 1] = e->lbase[c] + list_room(e, c);
		}
		g->n = n;
		g->m = m;
		g->D = 0;
		for (int64_t i = 0; i < n; i++)
			g->slot[i] = -1;
		for (int64_t t = 0; t < P; t++) { /* part t's share of each buffer */
			struct gram_part *p = &e->part[t];
			const int64_t l0 = lroom * part_start(e, t) / n;

			p->j0 = part_start(e, t);
			p->j1 = part_start(e, t + 1);
			p->WS = t == 0 ? g->WS : parts_WS + (t - 1) * dmax * m;
			p->ld = (p->j1 - p->j0 + 15) / 16 * 16;
			p->MS = g->MS + dmax * (p->j0 + 16 * t);
			p->lcol = g->lcol + l0;
			p->lval = g->lval + l0;
			p->room = lroom * p->j1 / n - l0;
			p->lat = g->lat + t * B;
			p->lnnz = g->lnnz + t * B;
			p->XQ = parts_XQ + t * dmax * m;
			p->work = parts_work + t * nwork;
			p->g0 = parts_g0 + p->j0 + 16 * t;
			p->g0col = parts_g0col + p->j0 + 16 * t;
		}
	}
	return off;
}

/* The bytes of the Gram path's buffers with the current gr.dmax. */
static size_t gram_size(struct engine *e)
{
#if GUARD_BYTES > 0
	const int nguard = e->nguard; /* a size query: its guards are not the layout's */
	const size_t bytes = gram_layout(e, NULL, 0);

	e->nguard = nguard;
	return bytes;
#else
	return gram_layout(e, NULL, 0);
#endif
}

/* CPUs this process may run on (its affinity mask), at least 1. */
static int64_t usable_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	return 1;
}

/* engine_create, or with SIZE_ONLY not NULL only the size of the block it
 * would allocate, into *SIZE_ONLY (no block, no threads). */
static int engine_make(const struct job_point *job, uint64_t seed, const struct engine_opts *opts,
		       struct engine **out, size_t *size_only, char *err)
{
	struct engine *e = NULL;
	size_t off = 0, o_W, o_b, o_mW, o_vW, o_mb, o_vb, o_gW, o_gb, o_w, o_ch, o_acc, o_gram = 0;
	size_t *o_t = NULL;
	int64_t n = job->n, m = job->m, T = job->threads;
	int rc;

	*out = NULL;
	err[0] = '\0';
	if (n < 1 || m < 1 || job->batch < 1 || T < 1 || T > 1024 ||
	    (opts && (opts->parts < 0 || opts->parts > 1024))) {
		snprintf(
			err, SPEC_ERR_LEN,
			"bad sizes: n = %lld, m = %lld, batch = %lld, threads = %lld, parts = %lld",
			(long long)n, (long long)m, (long long)job->batch, (long long)T,
			(long long)(opts ? opts->parts : 0));
		return ERR_INVAL;
	}
	if (n > INT32_MAX || m > INT32_MAX || n * m > INT32_MAX || (double)n * m > 1e12) {
		snprintf(err, SPEC_ERR_LEN, "n·m = %lld·%lld is beyond what one job can hold",
			 (long long)n, (long long)m);
		return ERR_RANGE;
	}
	e = calloc(1, sizeof *e);
	o_t = calloc((size_t)T, sizeof *o_t);
	if (!e || !o_t) {
		rc = ERR_NOMEM;
		goto nomem;
	}
	e->job = job;
	e->n = n;
	e->m = m;
	e->B = job->batch;
	e->T = T;
	e->C = T == 1 ? 1 : 2 * T;
	/* the Gram path's per-sample phases: 8 chunks per thread (of at least
	 * 32 samples each, unless that leaves fewer than 2T) */
	e->GC = T == 1 ? 1
		       : (int64_t)fmin(8.0 * (double)T, fmax(2.0 * (double)T, (double)(e->B / 32)));
	e->P = opts && opts->parts > 0 ? opts->parts : T;
	e->nch = e->C > e->GC ? e->C : e->GC;
	e->nch = e->nch > e->P ? e->nch : e->P;
	e->pieces = T == 1 ? 1 : T * NLEVELS;
	e->block_rows = opts && opts->block_rows > 0 ? opts->block_rows
			: n * m > LARGE_W_FLOATS     ? LARGE_BLOCK_ROWS
						     : DEFAULT_BLOCK_ROWS;
	{
		/* entries of g kept sparse per block: above this density the
		 * dense sgemm products are faster.  Measured break-even (CPU time
		 * per step, n = 1000, m = 10 and 100): a density of ≈ 0.1. */
		double f = opts && opts->sparse_max != 0 ? opts->sparse_max : DEFAULT_SPARSE_MAX;

		f = f < 0 ? 0 : f > 1 ? 1 : f;
		e->sparse_f = f;
		e->gcap = (int64_t)(f * (double)(e->block_rows * n));
		if (e->gcap > 0)
			e->gcap += 8;
	}
	rc = sampler_create(job, seed, &e->smp, err);
	if (rc != 0)
		goto fail;
	e->cap = sample_room(e, e->block_rows);
	e->gram_mode = opts ? opts->gram : 0;
	e->batch_step = -1;
	e->pre_step = -1;
	atomic_init(&e->pre_next, 0);
	{
		/* the Gram path (gram_layout): set up when it pays once g is
		 * sparse for batches that are not all beyond it (mean - 6 sd) */
		const double dmax = gram_pays_up_to(e, 0.0, false);
		double mean, sd;

		batch_features(e->smp, e->B, &mean, &sd);
		e->gr.dmax = (int64_t)fmin(fmax(dmax, ceil(mean + 6.0 * sd)), (double)n);
		if ((double)gram_size(e) > GRAM_MAX_BYTES) /* no room to spare */
			e->gr.dmax = (int64_t)fmin(fmax(dmax, 0.0), (double)n);
		if (e->gram_mode > 0)
			e->gr.dmax = n; /* every batch (tests) */
		e->gram_on = e->gram_mode > 0 ||
			     (e->gram_mode == 0 && dmax >= 1.0 &&
			      (double)gram_size(e) <= GRAM_MAX_BYTES && mean - 6.0 * sd <= dmax);
		if (e->gram_on) {
			o_gram = off;
			off = gram_layout(e, NULL, off);
		}
	}
	o_W = carve(e, &off, (size_t)(n * m) * 4);
	o_mW = carve(e, &off, (size_t)(n * m) * 4);
	o_vW = carve(e, &off, (size_t)(n * m) * 4);
	o_b = carve(e, &off, (size_t)n * 4);
	o_mb = carve(e, &off, (size_t)n * 4);
	o_vb = carve(e, &off, (size_t)n * 4);
	o_gW = carve(e, &off, (size_t)e->C * sizeof(float *));
	o_gb = carve(e, &off, (size_t)e->nch * sizeof(float *));
	o_w = carve(e, &off, (size_t)T * sizeof(struct worker));
	o_ch = carve(e, &off, (size_t)e->nch * sizeof(struct chunk));
	o_acc = off;
	for (int64_t c = 0; c < e->nch; c++) {
		if (c < e->C)
			carve(e, &off, (size_t)(n * m) * 4); /* dW_c */
		carve(e, &off, (size_t)n * 4);		     /* db_c */
	}
	for (int64_t t = 0; t < T; t++) {
		o_t[t] = off;
		carve(e, &off, (size_t)(e->block_rows * m) * 4); /* h */
		carve(e, &off, (size_t)(e->block_rows * n) * 4); /* z */
		carve(e, &off, (size_t)(e->block_rows * m) * 4); /* gw */
		carve(e, &off, (size_t)n * 4);			 /* xrow */
		carve(e, &off, (size_t)(e->block_rows + 1) * 8); /* start */
		carve(e, &off, (size_t)e->cap * 4);		 /* idx */
		carve(e, &off, (size_t)e->cap * 4);		 /* val */
		carve(e, &off, (size_t)(e->block_rows + 1) * 8); /* gstart */
		carve(e, &off, (size_t)e->gcap * 4);		 /* gcol */
		carve(e, &off, (size_t)e->gcap * 4);		 /* gval */
	}
	e->bytes = off;
	if (size_only) {
		*size_only = off;
		free(o_t);
		engine_destroy(&e);
		return 0;
	}
	e->block = calloc(1, off + ALIGN);
	if (!e->block) {
		rc = ERR_NOMEM;
		goto nomem;
	}
	{
		char *base = (char *)(((uintptr_t)e->block + ALIGN - 1) / ALIGN * ALIGN);

#if GUARD_BYTES > 0
		e->guards_done = true;
		for (int k = 0; k < e->nguard; k++)
			ASAN_POISON_MEMORY_REGION(base + e->guard_at[k], e->guard_len[k]);
#endif
		e->par.W = (float *)(base + o_W);
		e->par.mW = (float *)(base + o_mW);
		e->par.vW = (float *)(base + o_vW);
		e->par.b = (float *)(base + o_b);
		e->par.mb = (float *)(base + o_mb);
		e->par.vb = (float *)(base + o_vb);
		e->gW = (const float **)(void *)(base + o_gW);
		e->gb = (const float **)(void *)(base + o_gb);
		e->w = (struct worker *)(void *)(base + o_w);
		for (int64_t t = 0; t < T; t++) {
			struct worker *w = &e->w[t];
			size_t o = o_t[t];

			w->e = e;
			w->t = (int)t;
			w->wk.h = (float *)(base + carve(e, &o, (size_t)(e->block_rows * m) * 4));
			w->wk.z = (float *)(base + carve(e, &o, (size_t)(e->block_rows * n) * 4));
			w->wk.gw = (float *)(base + carve(e, &o, (size_t)(e->block_rows * m) * 4));
			w->wk.xrow = (float *)(base + carve(e, &o, (size_t)n * 4));
			w->start =
				(int64_t *)(void *)(base +
						    carve(e, &o, (size_t)(e->block_rows + 1) * 8));
			w->idx = (int32_t *)(void *)(base + carve(e, &o, (size_t)e->cap * 4));
			w->val = (float *)(base + carve(e, &o, (size_t)e->cap * 4));
			w->wk.gstart =
				(int64_t *)(void *)(base +
						    carve(e, &o, (size_t)(e->block_rows + 1) * 8));
			w->wk.gcol = (int32_t *)(void *)(base + carve(e, &o, (size_t)e->gcap * 4));
			w->wk.gval = (float *)(base + carve(e, &o, (size_t)e->gcap * 4));
			w->wk.gcap = e->gcap;
		}
		if (e->gram_on)
			gram_layout(e, base, o_gram);
		e->ch = (struct chunk *)(void *)(base + o_ch);
		size_t oc = o_acc;

		for (int64_t c = 0; c < e->nch; c++) {
			if (c < e->C) {
				e->ch[c].dW = (float *)(base + carve(e, &oc, (size_t)(n * m) * 4));
				e->gW[c] = e->ch[c].dW;
			}
			e->ch[c].db = (float *)(base + carve(e, &oc, (size_t)n * 4));
			e->gb[c] = e->ch[c].db;
		}
	}
	free(o_t);
	o_t = NULL;
	for (int c = 0; c < CNT_N; c++)
		atomic_init(&e->next[c], 0);
	openblas_set_num_threads(1);
	engine_init(e);
	if (T > 1) {
		if (barrier_init(&e->bar, (int)T,
				 T <= usable_cpus() ? SPIN_OWN_NS : SPIN_SHARED_NS) != 0) {
			snprintf(err, SPEC_ERR_LEN, "cannot create the thread barrier");
			rc = ERR_NOMEM;
			goto fail;
		}
		e->sync_ready = true;
		e->phase = PHASE_STEP;
		for (int64_t t = 1; t < T; t++) {
			if (pthread_create(&e->w[t].thread, NULL, worker_main, &e->w[t]) != 0) {
				snprintf(err, SPEC_ERR_LEN, "cannot start thread %lld of %lld",
					 (long long)t, (long long)T);
				rc = ERR_NOMEM;
				goto fail;
			}
			e->nthreads++;
		}
	}
	*out = e;
	return 0;
nomem:
	snprintf(err, SPEC_ERR_LEN, "out of memory for a job of n = %lld, m = %lld, batch = %lld",
		 (long long)n, (long long)m, (long long)job->batch);
fail:
	free(o_t);
	engine_destroy(&e);
	return rc;
}

int engine_create(const struct job_point *job, uint64_t seed, const struct engine_opts *opts,
		  struct engine **out, char *err)
{
	return engine_make(job, seed, opts, out, NULL, err);
}

int engine_job_bytes(const struct job_point *job, const struct engine_opts *opts, size_t *bytes,
		     char *err)
{
	struct engine *e = NULL;

	*bytes = 0;
	return engine_make(job, 0, opts, &e, bytes, err);
}

void engine_destroy(struct engine **ep)
{
	struct engine *e;

	if (!ep || !*ep)
		return;
	e = *ep;
	if (e->sync_ready) {
		if (e->nthreads > 0) {
			/* shrink the barrier to the threads that run, then release them */
			pthread_mutex_lock(&e->bar.mu);
			e->bar.count = e->nthreads + 1;
			pthread_mutex_unlock(&e->bar.mu);
			e->phase = PHASE_QUIT;
			barrier_wait(&e->bar);
			for (int t = 1; t <= e->nthreads; t++)
				pthread_join(e->w[t].thread, NULL);
		}
		barrier_destroy(&e->bar);
	}
	sampler_destroy(&e->smp);
#if GUARD_BYTES > 0
	if (e->block)
		ASAN_UNPOISON_MEMORY_REGION(e->block, e->bytes + ALIGN);
#endif
	free(e->block);
	free(e);
	*ep = NULL;
}

void engine_init(struct engine *e)
{
	const double sw = 1.0 / sqrt((double)e->m);

	for (int64_t i = 0; i < e->n; i++)
		sampler_normals(e->smp, SAMPLER_INIT_W, (uint64_t)i, e->m, sw, e->par.W + i * e->m);
	sampler_normals(e->smp, SAMPLER_INIT_B, 0, e->n, 1.0, e->par.b);
	memset(e->par.mW, 0, (size_t)(e->n * e->m) * 4);
	memset(e->par.vW, 0, (size_t)(e->n * e->m) * 4);
	memset(e->par.mb, 0, (size_t)e->n * 4);
	memset(e->par.vb, 0, (size_t)e->n * 4);
}

/* Chunks of the last step that hold a loss: the sparse step's parts, the
 * Gram path's chunks or the block path's. */
static int64_t step_chunks(const struct engine *e)
{
	return e->sparse_step ? e->P : e->gram_step ? e->GC : e->C;
}

/* Chunks of the last step that hold a share of db (the sparse step's parts
 * share chunk 0's). */
static int64_t step_db_chunks(const struct engine *e)
{
	return e->sparse_step ? 1 : step_chunks(e);
}

int engine_step(struct engine *e, int64_t step, double *loss)
{
	const struct job_point *job = e->job;
	double L = 0, psum = 0;

	e->step = step;
	take_presampled(e, step);
	e->aW = model_adam_prepare(
		step, model_lr(job->lr_w, step, job->steps, job->warmup, job->lr_min_ratio));
	e->ab = model_adam_prepare(
		step, model_lr(job->lr_b, step, job->steps, job->warmup, job->lr_min_ratio));
	dispatch(e, PHASE_STEP);
	for (int64_t c = 0; c < step_chunks(e); c++)
		L += e->ch[c].loss;
	for (int64_t t = 0; t < e->T; t++)
		psum += e->w[t].psum;
	L /= (double)e->B;
	*loss = L;
	return isfinite(L) && isfinite(psum) ? 0 : ERR_DIVERGED;
}

double engine_gradient(struct engine *e, int64_t step, float *dW, float *db)
{
	double L = 0;

	e->step = step;
	take_presampled(e, step);
	dispatch(e, PHASE_GRAD);
	for (int64_t i = 0; i < e->n * e->m; i++) {
		float g = e->gW[0][i];

		/* the Gram path leaves the whole gradient in chunk 0's */
		for (int64_t c = 1; c < e->C && !e->gram_step; c++)
			g += e->gW[c][i];
		dW[i] = g;
	}
	for (int64_t i = 0; i < e->n; i++) {
		float g = e->gb[0][i];

		for (int64_t c = 1; c < step_db_chunks(e); c++)
			g += e->gb[c][i];
		db[i] = g;
	}
	for (int64_t c = 0; c < step_chunks(e); c++)
		L += e->ch[c].loss;
	return L / (double)e->B;
}

double engine_eval(struct engine *e, int64_t nsamples)
{
	double L = 0;

	if (nsamples <= 0)
		return NAN;
	e->eval_n = nsamples;
	dispatch(e, PHASE_EVAL);
	for (int64_t c = 0; c < e->C; c++)
		L += e->ch[c].loss;
	return L / (double)nsamples;
}

struct engine_params engine_params(struct engine *e)
{
	return e->par;
}

const struct sampler *engine_sampler(const struct engine *e)
{
	return e->smp;
}

size_t engine_bytes(const struct engine *e)
{
	return e->bytes;
}

const char *engine_last_path(const struct engine *e)
{
	return !e->gram_step ? "block" : e->sparse_step ? "gram-sparse" : "gram";
}
