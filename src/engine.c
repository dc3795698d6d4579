/* engine.c - a job's state and its threaded optimiser step.
 *
 * Threads: the caller is thread 0; threads 1..T-1 are pthreads created once
 * per engine and parked on a barrier between phases.  A step has two phases
 * separated by a barrier: (1) the batch is cut into C fixed chunks of rows
 * (C = 1 for one thread, 2T otherwise); threads claim chunks from an atomic
 * counter and process each in blocks into the chunk's own accumulators
 * dW_c, db_c; (2) threads claim fixed ranges of rows of W and b and update
 * them from Σ_c dW_c, summed in chunk order.  Which thread did a chunk does
 * not change a bit, so for a fixed T the result is deterministic, and a
 * thread that the OS preempts does not hold the others back (shared nodes).
 * Hot path: model_block_grad inside phase 1.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "supersweep/engine.h"
#include "supersweep/err.h"
#include "supersweep/model.h"

#define DEFAULT_BLOCK_ROWS 128
#define DEFAULT_SPARSE_MAX 0.1 /* density of g up to which the sparse products run */
#define ALIGN		   64

enum phase { PHASE_QUIT, PHASE_STEP, PHASE_GRAD, PHASE_EVAL };

/* A reusable barrier whose size can shrink (failed thread start). */
struct barrier {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int count, waiting;
	unsigned gen;
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
};

/* One chunk of the batch (phase 1) and one range of rows of W (phase 2). */
struct chunk {
	float *dW, *db; /* (n, m), (n) gradient accumulators of the chunk's rows */
	double loss;	/* the chunk's Σ (y - x)² */
	double psum;	/* Σ of the parameters updated by update range c */
};

struct engine {
	const struct job_point *job;
	int64_t n, m, B, T, C, block_rows, cap, gcap;
	struct sampler *smp;
	void *block;  /* the one allocation */
	size_t bytes; /* its size */
	struct engine_params par;
	const float **gW;   /* (C) accumulators of W, in chunk order */
	const float **gb;   /* (C) accumulators of b */
	struct worker *w;   /* (T) */
	struct chunk *ch;   /* (C) */
	atomic_long next;   /* next chunk to claim in the current phase */
	atomic_long next_u; /* next update range to claim */
	int nthreads;	    /* pthreads started */
	bool sync_ready;
	struct barrier bar;
	/* the current command (written by thread 0 before the start barrier) */
	enum phase phase;
	int64_t step;
	struct model_adam aW, ab;
	int64_t eval_n;
};

static int barrier_init(struct barrier *b, int count)
{
	if (pthread_mutex_init(&b->mu, NULL) != 0)
		return -1;
	if (pthread_cond_init(&b->cv, NULL) != 0) {
		pthread_mutex_destroy(&b->mu);
		return -1;
	}
	b->count = count;
	b->waiting = 0;
	b->gen = 0;
	return 0;
}

static void barrier_wait(struct barrier *b)
{
	pthread_mutex_lock(&b->mu);
	unsigned gen = b->gen;

	if (++b->waiting >= b->count) {
		b->waiting = 0;
		b->gen++;
		pthread_cond_broadcast(&b->cv);
	} else {
		while (gen == b->gen)
			pthread_cond_wait(&b->cv, &b->mu);
	}
	pthread_mutex_unlock(&b->mu);
}

static void barrier_destroy(struct barrier *b)
{
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
}

/* Rows [r0, r1) of a batch (purpose, step) or of the global eval rows. */
static double run_rows(struct worker *w, enum sampler_purpose purpose, int64_t step, int64_t r0,
		       int64_t r1, bool grad)
{
	struct engine *e = w->e;
	const float scale = (float)(2.0 / ((double)e->B * (double)e->n));
	double loss = 0;
	int64_t r = r0;

	while (r < r1) {
		struct model_rows x;
		int64_t nr = 0, k = 0;

		w->start[0] = 0;
		while (r < r1 && nr < e->block_rows && e->cap - k >= e->n) {
			uint64_t s = (uint64_t)step, row = (uint64_t)r;

			if (purpose == SAMPLER_EVAL) {
				s = (uint64_t)(r / e->B);
				row = (uint64_t)(r % e->B);
			}
			k += sampler_row(e->smp, purpose, s, row, w->idx + k, w->val + k);
			w->start[++nr] = k;
			r++;
		}
		x.nrows = nr;
		x.start = w->start;
		x.idx = w->idx;
		x.val = w->val;
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

	while ((c = atomic_fetch_add(&e->next, 1)) < e->C) {
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

	while ((u = atomic_fetch_add(&e->next_u, 1)) < e->C) {
		int64_t i0 = e->n * u / e->C, i1 = e->n * (u + 1) / e->C;

		e->ch[u].psum = model_update_rows(e->par.W, e->par.mW, e->par.vW, e->gW, (int)e->C,
						  i0, i1, e->m, e->job->gamma, &e->aW);
		e->ch[u].psum += model_update_rows(e->par.b, e->par.mb, e->par.vb, e->gb, (int)e->C,
						   i0, i1, 1, 0.0, &e->ab);
	}
}

static void phase_eval(struct worker *w)
{
	struct engine *e = w->e;
	long c;

	while ((c = atomic_fetch_add(&e->next, 1)) < e->C)
		e->ch[c].loss = run_rows(w, SAMPLER_EVAL, 0, e->eval_n * c / e->C,
					 e->eval_n * (c + 1) / e->C, false);
}

/* The work of thread W in the current phase (barriers included). */
static void run_phase(struct worker *w)
{
	struct engine *e = w->e;

	switch (e->phase) {
	case PHASE_STEP:
		phase_grad(w);
		if (e->T > 1)
			barrier_wait(&e->bar);
		phase_update(w);
		break;
	case PHASE_GRAD: phase_grad(w); break;
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
	atomic_store(&e->next, 0);
	atomic_store(&e->next_u, 0);
	if (e->T > 1)
		barrier_wait(&e->bar);
	run_phase(&e->w[0]);
	if (e->T > 1)
		barrier_wait(&e->bar);
}

static size_t carve(size_t *off, size_t bytes)
{
	size_t at = *off;

	*off += (bytes + ALIGN - 1) / ALIGN * ALIGN;
	return at;
}

int engine_create(const struct job_point *job, uint64_t seed, const struct engine_opts *opts,
		  struct engine **out, char *err)
{
	struct engine *e = NULL;
	size_t off = 0, o_W, o_b, o_mW, o_vW, o_mb, o_vb, o_gW, o_gb, o_w, o_ch, o_acc;
	size_t *o_t = NULL;
	int64_t n = job->n, m = job->m, T = job->threads;
	int rc;

	*out = NULL;
	err[0] = '\0';
	if (n < 1 || m < 1 || job->batch < 1 || T < 1 || T > 1024) {
		snprintf(err, SPEC_ERR_LEN,
			 "bad sizes: n = %lld, m = %lld, batch = %lld, threads = %lld",
			 (long long)n, (long long)m, (long long)job->batch, (long long)T);
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
	e->block_rows = opts && opts->block_rows > 0 ? opts->block_rows : DEFAULT_BLOCK_ROWS;
	{
		/* entries of g kept sparse per block: above this density the
		 * dense sgemm products are faster.  Measured break-even (CPU time
		 * per step, n = 1000, m = 10 and 100): a density of ≈ 0.1. */
		double f = opts && opts->sparse_max != 0 ? opts->sparse_max : DEFAULT_SPARSE_MAX;

		f = f < 0 ? 0 : f > 1 ? 1 : f;
		e->gcap = (int64_t)(f * (double)(e->block_rows * n));
		if (e->gcap > 0)
			e->gcap += 8;
	}
	rc = sampler_create(job, seed, &e->smp, err);
	if (rc != 0)
		goto fail;
	{
		/* Σ of block_rows Bernoulli counts: mean μ = rows·E, variance <= μ;
		 * a block ends early (still correct) in the ≈ never case of more
		 * than μ + 12σ + 64 active entries, and always has room for a row. */
		double mu = (double)e->block_rows * e->smp->density;
		double cap = mu + 12.0 * sqrt(mu) + 64.0 + (double)n;

		if (cap > (double)(e->block_rows * n))
			cap = (double)(e->block_rows * n);
		e->cap = (int64_t)cap;
		if (e->cap < n)
			e->cap = n;
	}
	o_W = carve(&off, (size_t)(n * m) * 4);
	o_mW = carve(&off, (size_t)(n * m) * 4);
	o_vW = carve(&off, (size_t)(n * m) * 4);
	o_b = carve(&off, (size_t)n * 4);
	o_mb = carve(&off, (size_t)n * 4);
	o_vb = carve(&off, (size_t)n * 4);
	o_gW = carve(&off, (size_t)e->C * sizeof(float *));
	o_gb = carve(&off, (size_t)e->C * sizeof(float *));
	o_w = carve(&off, (size_t)T * sizeof(struct worker));
	o_ch = carve(&off, (size_t)e->C * sizeof(struct chunk));
	o_acc = off;
	for (int64_t c = 0; c < e->C; c++) {
		carve(&off, (size_t)(n * m) * 4); /* dW_c */
		carve(&off, (size_t)n * 4);	  /* db_c */
	}
	for (int64_t t = 0; t < T; t++) {
		o_t[t] = off;
		carve(&off, (size_t)(e->block_rows * m) * 4); /* h */
		carve(&off, (size_t)(e->block_rows * n) * 4); /* z */
		carve(&off, (size_t)(e->block_rows * m) * 4); /* gw */
		carve(&off, (size_t)n * 4);		      /* xrow */
		carve(&off, (size_t)(e->block_rows + 1) * 8); /* start */
		carve(&off, (size_t)e->cap * 4);	      /* idx */
		carve(&off, (size_t)e->cap * 4);	      /* val */
		carve(&off, (size_t)(e->block_rows + 1) * 8); /* gstart */
		carve(&off, (size_t)e->gcap * 4);	      /* gcol */
		carve(&off, (size_t)e->gcap * 4);	      /* gval */
	}
	e->bytes = off;
	e->block = calloc(1, off + ALIGN);
	if (!e->block) {
		rc = ERR_NOMEM;
		goto nomem;
	}
	{
		char *base = (char *)(((uintptr_t)e->block + ALIGN - 1) / ALIGN * ALIGN);

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
			w->wk.h = (float *)(base + carve(&o, (size_t)(e->block_rows * m) * 4));
			w->wk.z = (float *)(base + carve(&o, (size_t)(e->block_rows * n) * 4));
			w->wk.gw = (float *)(base + carve(&o, (size_t)(e->block_rows * m) * 4));
			w->wk.xrow = (float *)(base + carve(&o, (size_t)n * 4));
			w->start = (int64_t *)(void *)(base +
						       carve(&o, (size_t)(e->block_rows + 1) * 8));
			w->idx = (int32_t *)(void *)(base + carve(&o, (size_t)e->cap * 4));
			w->val = (float *)(base + carve(&o, (size_t)e->cap * 4));
			w->wk.gstart =
				(int64_t *)(void *)(base +
						    carve(&o, (size_t)(e->block_rows + 1) * 8));
			w->wk.gcol = (int32_t *)(void *)(base + carve(&o, (size_t)e->gcap * 4));
			w->wk.gval = (float *)(base + carve(&o, (size_t)e->gcap * 4));
			w->wk.gcap = e->gcap;
		}
		e->ch = (struct chunk *)(void *)(base + o_ch);
		size_t oc = o_acc;

		for (int64_t c = 0; c < e->C; c++) {
			e->ch[c].dW = (float *)(base + carve(&oc, (size_t)(n * m) * 4));
			e->ch[c].db = (float *)(base + carve(&oc, (size_t)n * 4));
			e->gW[c] = e->ch[c].dW;
			e->gb[c] = e->ch[c].db;
		}
	}
	free(o_t);
	o_t = NULL;
	atomic_init(&e->next, 0);
	atomic_init(&e->next_u, 0);
	openblas_set_num_threads(1);
	engine_init(e);
	if (T > 1) {
		if (barrier_init(&e->bar, (int)T) != 0) {
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

int engine_step(struct engine *e, int64_t step, double *loss)
{
	const struct job_point *job = e->job;
	double L = 0, psum = 0;

	e->step = step;
	e->aW = model_adam_prepare(
		step, model_lr(job->lr_w, step, job->steps, job->warmup, job->lr_min_ratio));
	e->ab = model_adam_prepare(
		step, model_lr(job->lr_b, step, job->steps, job->warmup, job->lr_min_ratio));
	dispatch(e, PHASE_STEP);
	for (int64_t c = 0; c < e->C; c++) {
		L += e->ch[c].loss;
		psum += e->ch[c].psum;
	}
	L /= (double)e->B;
	*loss = L;
	return isfinite(L) && isfinite(psum) ? 0 : ERR_DIVERGED;
}

double engine_gradient(struct engine *e, int64_t step, float *dW, float *db)
{
	double L = 0;

	e->step = step;
	dispatch(e, PHASE_GRAD);
	for (int64_t i = 0; i < e->n * e->m; i++) {
		float g = e->gW[0][i];

		for (int64_t c = 1; c < e->C; c++)
			g += e->gW[c][i];
		dW[i] = g;
	}
	for (int64_t i = 0; i < e->n; i++) {
		float g = e->gb[0][i];

		for (int64_t c = 1; c < e->C; c++)
			g += e->gb[c][i];
		db[i] = g;
	}
	for (int64_t c = 0; c < e->C; c++)
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
