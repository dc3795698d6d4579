/* model.c - step kernels of the toy model: block forward/backward, AdamW with
 * the signed row-wise decay, learning-rate schedule, and plain references.
 *
 * Hot path: model_block_grad, called for every block of 128 (or 256) samples of
 * every step.  Its dense work is three sgemm calls (z = h Wᵀ, gW = g W,
 * dW += gᵀ h); the last two run over the non-zeros of g instead when g is
 * sparse enough (ReLU: a trained model has z > 0 on a few % of entries).
 * The element-wise pass (bias, ReLU, residual, loss, mask, db, the list of
 * non-zeros of g) runs over z while it is in cache, 8 lanes at a time: in
 * AVX2 registers where the CPU has them (chosen at run time), else in two
 * SSE registers (GCC vector types, the x86-64 baseline).  Both give the same
 * bits (no -ffast-math, no FMA: the order of every sum is fixed by the code).
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include <cblas.h>

#include "supersweep/model.h"

typedef float v4sf __attribute__((vector_size(16)));
typedef int32_t v4si __attribute__((vector_size(16)));

static inline v4sf load4(const float *p)
{
	v4sf v;

	memcpy(&v, p, sizeof v);
	return v;
}

static inline void store4(float *p, v4sf v)
{
	memcpy(p, &v, sizeof v);
}

/* The rows of a block in h, z and gW are in their order of positions: first
 * the rows with active features, in order, then those without (h_r = 0,
 * z_r = b), in order.  The product z = b + h Wᵀ then skips the latter
 * (a third of the rows at n = 1000, α = 1, E = 1): each element of z is
 * the same sum in the same order whatever the number of rows.  A walk over
 * the rows in order keeps the next position of each kind. */
struct positions {
	int64_t busy, idle; /* the next position of a row with / without features */
};

static int64_t busy_rows(const struct model_rows *x)
{
	int64_t busy = 0;

	for (int64_t r = 0; r < x->nrows; r++)
		busy += x->start[r] < x->start[r + 1];
	return busy;
}

/* Row R's position, advancing the walk P. */
static int64_t next_position(const struct model_rows *x, int64_t r, struct positions *p)
{
	return x->start[r] < x->start[r + 1] ? p->busy++ : p->idle++;
}

/* h = x W for the block (sparse rows times dense W), rows by position. */
static void block_h(int64_t m, const float *W, const struct model_rows *x, int64_t busy, float *h)
{
	struct positions at = {0, busy};

	for (int64_t r = 0; r < x->nrows; r++) {
		float *hr = h + next_position(x, r, &at) * m;

		memset(hr, 0, (size_t)m * sizeof *hr);
		for (int64_t k = x->start[r]; k < x->start[r + 1]; k++) {
			const float *w = W + (int64_t)x->idx[k] * m;
			const float v = x->val[k];

			for (int64_t j = 0; j < m; j++)
				hr[j] += v * w[j];
		}
	}
}

/* z = b + h Wᵀ for the BUSY rows with features (positions 0..busy-1): b is
 * copied into each row and sgemm adds with beta = 1 (OpenBLAS then skips its
 * separate pass over C).  The rows without features get b when they need it. */
static void block_z(int64_t n, int64_t m, const float *W, const float *b, int64_t busy,
		    struct model_work *wk)
{
	if (busy == 0)
		return;
	for (int64_t r = 0; r < busy; r++)
		memcpy(wk->z + r * n, b, (size_t)n * sizeof *b);
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)busy, (int)n, (int)m, 1.0f, wk->h,
		    (int)m, W, (int)m, 1.0f, wk->z, (int)n);
}

/* Element-wise pass over one row: z <- g = scale·(y - x)·1[z > 0] with
 * y = max(z, 0) (zr holds z = Wh + b); db += g.  Returns Σ (y - x)². */
/* Where g may be non-zero (z > 0) in a block: (column, g) pairs by row. */
struct collect {
	int32_t *col;
	float *val;
	int64_t k, cap;
	bool overflow; /* more than cap: use the dense products */
};

/* The pass from column J on, with the loss lanes ACC0 (columns 8i..8i+3 so
 * far) and ACC1 (8i+4..8i+7): SSE, the x86-64 baseline. */
static double row_pass_sse(int64_t n, int64_t j, v4sf acc0, v4sf acc1, float *zr, const float *xr,
			   float scale, float *db, struct collect *c)
{
	const v4sf zero = {0};
	const v4sf sc = {scale, scale, scale, scale};
	double sum;

	for (; j + 8 <= n; j += 8) {
		v4sf z0 = load4(zr + j), z1 = load4(zr + j + 4);
		v4si p0 = z0 > zero, p1 = z1 > zero;
		v4sf d0 = (v4sf)((v4si)z0 & p0) - load4(xr + j);
		v4sf d1 = (v4sf)((v4si)z1 & p1) - load4(xr + j + 4);
		v4sf g0 = (v4sf)((v4si)(sc * d0) & p0);
		v4sf g1 = (v4sf)((v4si)(sc * d1) & p1);

		acc0 += d0 * d0;
		acc1 += d1 * d1;
		store4(zr + j, g0);
		store4(zr + j + 4, g1);
		store4(db + j, load4(db + j) + g0);
		store4(db + j + 4, load4(db + j + 4) + g1);
		if (!c->overflow) {
			v4si any = p0 | p1;
			uint64_t w[2];

			memcpy(w, &any, sizeof w);
			if (w[0] | w[1]) {
				if (c->k + 8 > c->cap) {
					c->overflow = true;
					continue;
				}
				/* branch-free append: write every lane, advance
				 * only over the positive ones */
				int64_t k = c->k;

				for (int l = 0; l < 4; l++) {
					c->col[k] = (int32_t)(j + l);
					c->val[k] = g0[l];
					k += p0[l] & 1;
				}
				for (int l = 0; l < 4; l++) {
					c->col[k] = (int32_t)(j + 4 + l);
					c->val[k] = g1[l];
					k += p1[l] & 1;
				}
				c->k = k;
			}
		}
	}
	acc0 += acc1;
	sum = ((double)acc0[0] + acc0[1]) + ((double)acc0[2] + acc0[3]);
	for (; j < n; j++) {
		float z = zr[j];
		float y = z > 0 ? z : 0;
		float d = y - xr[j];
		float g = z > 0 ? scale * d : 0;

		sum += (double)(d * d);
		zr[j] = g;
		db[j] += g;
		if (z > 0 && !c->overflow) {
			if (c->k + 1 > c->cap) {
				c->overflow = true;
				continue;
			}
			c->col[c->k] = (int32_t)j;
			c->val[c->k++] = g;
		}
	}
	return sum;
}

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_PASS 1

/* Lane orders that move the lanes set in an 8-bit mask to the front. */
static int32_t pack_order[256][8];

static void pack_order_init(void)
{
	for (int mask = 0; mask < 256; mask++) {
		int k = 0;

		for (int l = 0; l < 8; l++)
			if (mask & (1 << l))
				pack_order[mask][k++] = l;
		for (; k < 8; k++)
			pack_order[mask][k] = 0;
	}
}

/* The same pass 8 columns at a time in AVX2 registers.  Same bits as
 * row_pass_sse: the same element-wise operations, the loss lanes summed in
 * the same order (columns 8i..8i+7 in the eight lanes of ACC), the list cut
 * off under the same condition (its entries moved to the front by a lane
 * permutation instead of one by one), and the last < 8 columns left to
 * row_pass_sse. */
__attribute__((target("avx2"))) static double
row_pass_avx2(int64_t n, float *zr, const float *xr, float scale, float *db, struct collect *c)
{
	const __m256 zero = _mm256_setzero_ps(), sc = _mm256_set1_ps(scale);
	const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	__m256 acc = _mm256_setzero_ps();
	float lanes[8];
	v4sf acc0, acc1;
	int64_t j = 0;

	for (; j + 8 <= n; j += 8) {
		const __m256 z = _mm256_loadu_ps(zr + j);
		const __m256 p = _mm256_cmp_ps(z, zero, _CMP_GT_OQ);
		const __m256 d = _mm256_sub_ps(_mm256_and_ps(z, p), _mm256_loadu_ps(xr + j));
		const __m256 g = _mm256_and_ps(_mm256_mul_ps(sc, d), p);
		const int mask = _mm256_movemask_ps(p);

		acc = _mm256_add_ps(acc, _mm256_mul_ps(d, d));
		_mm256_storeu_ps(zr + j, g);
		_mm256_storeu_ps(db + j, _mm256_add_ps(_mm256_loadu_ps(db + j), g));
		if (c->overflow || !mask)
			continue;
		if (c->k + 8 > c->cap) {
			c->overflow = true;
			continue;
		}
		const __m256i order =
			_mm256_loadu_si256((const __m256i *)(const void *)pack_order[mask]);

		_mm256_storeu_si256(
			(__m256i *)(void *)(c->col + c->k),
			_mm256_permutevar8x32_epi32(
				_mm256_add_epi32(iota, _mm256_set1_epi32((int)j)), order));
		_mm256_storeu_ps(c->val + c->k, _mm256_permutevar8x32_ps(g, order));
		c->k += __builtin_popcount((unsigned)mask);
	}
	_mm256_storeu_ps(lanes, acc);
	/* leave no dirty upper halves to the SSE code that runs next (GCC does
	 * not on this tail call), or every SSE instruction after pays for it */
	_mm256_zeroupper();
	memcpy(&acc0, lanes, sizeof acc0);
	memcpy(&acc1, lanes + 4, sizeof acc1);
	return row_pass_sse(n, j, acc0, acc1, zr, xr, scale, db, c);
}
#endif

/* The kernels in use (enum model_kernels), chosen once. */
static _Atomic int kernels = -1;

static int best_kernels(void)
{
#ifdef HAVE_AVX2_PASS
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2")) {
		pthread_once(&once, pack_order_init);
		return MODEL_KERNELS_AVX2;
	}
#endif
	return MODEL_KERNELS_SSE;
}

int model_kernels(int want)
{
	int best = best_kernels();

	if (want == MODEL_KERNELS_SSE || (want == MODEL_KERNELS_AVX2 && best == want))
		atomic_store(&kernels, want);
	else if (want == MODEL_KERNELS_BEST)
		atomic_store(&kernels, best);
	else if (atomic_load(&kernels) < 0)
		atomic_store(&kernels, best);
	return atomic_load(&kernels);
}

/* The kernels in use, chosen at the first call (acquire: pack_order is
 * filled before the choice is stored). */
static int kernels_in_use(void)
{
	const int k = atomic_load_explicit(&kernels, memory_order_acquire);

	return k >= 0 ? k : model_kernels(MODEL_KERNELS_QUERY);
}

static double row_pass(int64_t n, float *zr, const float *xr, float scale, float *db,
		       struct collect *c)
{
#ifdef HAVE_AVX2_PASS
	if (kernels_in_use() == MODEL_KERNELS_AVX2)
		return row_pass_avx2(n, zr, xr, scale, db, c);
#endif
	const v4sf zero = {0};

	return row_pass_sse(n, 0, zero, zero, zr, xr, scale, db, c);
}

void model_gather_rows(int64_t m, const float *X, const int32_t *col, const float *a, int64_t cnt,
		       float *y)
{
	int64_t k = 0;

	for (; k + 16 <= m; k += 16) {
		v4sf s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};

		for (int64_t q = 0; q < cnt; q++) {
			const float *x = X + (int64_t)col[q] * m + k;
			const v4sf av = {a[q], a[q], a[q], a[q]};

			s0 += av * load4(x);
			s1 += av * load4(x + 4);
			s2 += av * load4(x + 8);
			s3 += av * load4(x + 12);
		}
		store4(y + k, s0);
		store4(y + k + 4, s1);
		store4(y + k + 8, s2);
		store4(y + k + 12, s3);
	}
	for (; k + 4 <= m; k += 4) {
		v4sf s0 = {0};

		for (int64_t q = 0; q < cnt; q++) {
			const v4sf av = {a[q], a[q], a[q], a[q]};

			s0 += av * load4(X + (int64_t)col[q] * m + k);
		}
		store4(y + k, s0);
	}
	for (; k < m; k++) {
		float s0 = 0;

		for (int64_t q = 0; q < cnt; q++)
			s0 += a[q] * X[(int64_t)col[q] * m + k];
		y[k] = s0;
	}
}

/* y += a·x over m entries. */
static inline void axpy(int64_t m, float a, const float *x, float *y)
{
	const v4sf av = {a, a, a, a};
	int64_t k = 0;

	for (; k + 4 <= m; k += 4)
		store4(y + k, load4(y + k) + av * load4(x + k));
	for (; k < m; k++)
		y[k] += a * x[k];
}

/* Forward-only pass over one row: Σ (y - x)². */
static double row_loss(int64_t n, const float *zr, const float *xr)
{
	const v4sf zero = {0};
	v4sf acc = zero;
	int64_t j = 0;
	double sum;

	for (; j + 4 <= n; j += 4) {
		v4sf z = load4(zr + j);
		v4si pos = z > zero;
		v4sf d = (v4sf)((v4si)z & pos) - load4(xr + j);

		acc += d * d;
	}
	sum = ((double)acc[0] + acc[1]) + ((double)acc[2] + acc[3]);
	for (; j < n; j++) {
		float z = zr[j];
		float d = (z > 0 ? z : 0) - xr[j];

		sum += (double)(d * d);
	}
	return sum;
}

static void scatter_x(const struct model_rows *x, int64_t r, float *xrow, int clear)
{
	for (int64_t k = x->start[r]; k < x->start[r + 1]; k++)
		xrow[x->idx[k]] = clear ? 0.0f : x->val[k];
}

/* A row without active features once more: its z is b, as was the first
 * such row's, whose entries in the list are E0..E1 (g's positive lanes) and
 * loss LOSS0.  Does what row_pass would: the same list entries, cut off
 * under the same condition (a group of 8 columns with a positive lane needs
 * room for 8; the last n mod 8 columns room for 1 each), and db += g on
 * the positive lanes (g is +0 on the others, and db, starting at +0, is
 * never -0: adding +0 changes nothing). */
static double row_again(int64_t n, struct collect *c, int64_t e0, int64_t e1, double loss0,
			float *db)
{
	const int64_t n8 = n / 8 * 8;

	for (int64_t e = e0; e < e1;) {
		const int64_t j = c->col[e];
		int64_t f = e + 1, need = 1;

		if (j < n8) {
			need = 8;
			while (f < e1 && c->col[f] / 8 == j / 8)
				f++;
		}
		for (int64_t q = e; q < f; q++)
			db[c->col[q]] += c->val[q];
		if (!c->overflow) {
			if (c->k + need > c->cap) {
				c->overflow = true;
			} else {
				for (int64_t q = e; q < f; q++, c->k++) {
					c->col[c->k] = c->col[q];
					c->val[c->k] = c->val[q];
				}
			}
		}
		e = f;
	}
	return loss0;
}

double model_block_grad(int64_t n, int64_t m, const float *W, const float *b,
			const struct model_rows *x, float scale, struct model_work *wk, float *dW,
			float *db)
{
	const int64_t R = x->nrows, busy = busy_rows(x);
	struct collect c = {wk->gcol, wk->gval, 0, wk->gcap, wk->gcap <= 0};
	struct positions at = {0, busy};
	double loss = 0, loss0 = 0;
	int64_t r0 = -1; /* the first row without active features */

	if (R == 0)
		return 0;
	block_h(m, W, x, busy, wk->h);
	/* z = b + h Wᵀ: (busy, m)·(m, n) */
	block_z(n, m, W, b, busy, wk);
	for (int64_t r = 0; r < R; r++) {
		const bool none = x->start[r] == x->start[r + 1], listed = !c.overflow;
		float *zr = wk->z + next_position(x, r, &at) * n;

		wk->gstart[r] = c.k;
		if (none && r0 >= 0 && listed) {
			/* h_r = 0, so z_r = b: the first row's g again, replayed
			 * from its list while the list has not overflowed */
			loss += row_again(n, &c, wk->gstart[r0], wk->gstart[r0 + 1], loss0, db);
		} else {
			if (none)
				memcpy(zr, b, (size_t)n * sizeof *b);
			scatter_x(x, r, wk->xrow, 0);
			const double lr = row_pass(n, zr, wk->xrow, scale, db, &c);

			scatter_x(x, r, wk->xrow, 1);
			loss += lr;
			if (none && r0 < 0 && !c.overflow) {
				r0 = r;
				loss0 = lr;
			}
		}
		/* the list overflowed: the dense products below take the rows
		 * replayed so far (those without features after r0) with z_r =
		 * b, not g, times h_r = 0; their gW rows meet no x terms */
		if (listed && c.overflow && r0 >= 0)
			for (int64_t pos = busy + 1; pos < at.idle; pos++)
				memcpy(wk->z + pos * n, b, (size_t)n * sizeof *b);
	}
	wk->gstart[R] = c.k;
	if (c.overflow) {
		/* gW = g W: (R, n)·(n, m) */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)R, (int)m, (int)n, 1.0f,
			    wk->z, (int)n, W, (int)m, 0.0f, wk->gw, (int)m);
		/* dW += gᵀ h: (n, R)·(R, m) */
		cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)m, (int)R, 1.0f,
			    wk->z, (int)n, wk->h, (int)m, 1.0f, dW, (int)m);
	} else {
		/* g is sparse (a trained model has z > 0 on a few % of entries):
		 * the same two products over its non-zeros only, for the rows
		 * with features (the rest: h_r = 0 and no x terms, adds of ±0) */
		for (int64_t r = 0, pos = 0; r < R; r++) {
			const int64_t q0 = wk->gstart[r], q1 = wk->gstart[r + 1];
			const float *hr = wk->h + pos * m;

			if (x->start[r] == x->start[r + 1])
				continue;
			model_gather_rows(m, W, c.col + q0, c.val + q0, q1 - q0, wk->gw + pos * m);
			for (int64_t q = q0; q < q1; q++)
				axpy(m, c.val[q], hr, dW + (int64_t)c.col[q] * m);
			pos++;
		}
	}
	/* dW += xᵀ (gW) */
	for (int64_t r = 0, pos = 0; r < R; r++) {
		const float *gr = wk->gw + pos * m;

		if (x->start[r] == x->start[r + 1])
			continue;
		for (int64_t k = x->start[r]; k < x->start[r + 1]; k++)
			axpy(m, x->val[k], gr, dW + (int64_t)x->idx[k] * m);
		pos++;
	}
	return loss;
}

#ifdef HAVE_AVX2_PASS
/* axpy 8 lanes at a time: the same multiply and add per entry. */
__attribute__((target("avx2"))) static void axpy_avx2(int64_t m, float a, const float *x, float *y)
{
	const __m256 av = _mm256_set1_ps(a);
	int64_t k = 0;

	for (; k + 8 <= m; k += 8)
		_mm256_storeu_ps(y + k, _mm256_add_ps(_mm256_loadu_ps(y + k),
						      _mm256_mul_ps(av, _mm256_loadu_ps(x + k))));
	_mm256_zeroupper();
	for (; k < m; k++)
		y[k] += a * x[k];
}
#endif

void model_axpy(int64_t m, float a, const float *x, float *y)
{
#ifdef HAVE_AVX2_PASS
	if (m >= 64 && kernels_in_use() == MODEL_KERNELS_AVX2) {
		axpy_avx2(m, a, x, y);
		return;
	}
#endif
	axpy(m, a, x, y);
}

double model_row_grad(int64_t n, float *zr, const float *xr, float scale, float *db, int32_t *col,
		      float *val, int64_t cap, int64_t *nnz)
{
	struct collect c = {col, val, 0, cap, cap <= 0};
	double loss = row_pass(n, zr, xr, scale, db, &c);

	*nnz = c.overflow ? -1 : c.k;
	return loss;
}

double model_block_loss(int64_t n, int64_t m, const float *W, const float *b,
			const struct model_rows *x, struct model_work *wk)
{
	const int64_t R = x->nrows, busy = busy_rows(x);
	double loss = 0, loss0 = 0;

	if (R == 0)
		return 0;
	block_h(m, W, x, busy, wk->h);
	block_z(n, m, W, b, busy, wk);
	for (int64_t r = 0, pos = 0, r0 = -1; r < R; r++) {
		if (x->start[r] == x->start[r + 1]) { /* z_r = b: the first such row's loss */
			if (r0 < 0) {
				r0 = r;
				loss0 = row_loss(n, b, wk->xrow);
			}
			loss += loss0;
			continue;
		}
		scatter_x(x, r, wk->xrow, 0);
		loss += row_loss(n, wk->z + pos++ * n, wk->xrow);
		scatter_x(x, r, wk->xrow, 1);
	}
	return loss;
}

struct model_adam model_adam_prepare(int64_t step, double lr)
{
	struct model_adam a;
	double t = (double)(step + 1);

	a.lr = lr;
	a.bc1 = 1.0 - pow(MODEL_BETA1, t);
	a.bc2 = 1.0 - pow(MODEL_BETA2, t);
	return a;
}

/* The decay of a row before its update: none (γ = 0, and b), w <- f·w
 * (γ > 0, f = 1 - lr γ) or w <- w + f·w (γ < 0, f per row: decay_factors). */
enum decay { DECAY_NONE, DECAY_SHRINK, DECAY_SIGNED };

/* The Adam update's constants of a step, in float. */
struct adam_consts {
	float b1, b2, c1, c2, step_size, inv_sqrt_bc2, eps;
};

#ifdef HAVE_AVX2_PASS

/* The decay and Adam update of entries [0, 8·⌊cols/8⌋) of one row
 * (gradient at OFF of each of the NGRAD accumulators, summed in order), 8
 * lanes at a time: the same operations per entry as update_row's loop, the
 * updated entries added to SUM[j mod 8] as there.  Returns the entries done. */
__attribute__((target("avx2"))) static int64_t
adam_avx2(float *w, float *mo, float *ve, const float *const *grads, int ngrad, int64_t off,
	  int64_t cols, const struct adam_consts *k, enum decay decay, float f, float *sum)
{
	const __m256 fv = _mm256_set1_ps(f);
	const __m256 b1 = _mm256_set1_ps(k->b1), b2 = _mm256_set1_ps(k->b2);
	const __m256 c1 = _mm256_set1_ps(k->c1), c2 = _mm256_set1_ps(k->c2);
	const __m256 step = _mm256_set1_ps(k->step_size), inv = _mm256_set1_ps(k->inv_sqrt_bc2);
	const __m256 eps = _mm256_set1_ps(k->eps);
	__m256 acc = _mm256_loadu_ps(sum);
	int64_t j = 0;

	for (; j + 8 <= cols; j += 8) {
		__m256 g = _mm256_loadu_ps(grads[0] + off + j);

		for (int q = 1; q < ngrad; q++)
			g = _mm256_add_ps(g, _mm256_loadu_ps(grads[q] + off + j));
		const __m256 mj = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(mo + j)),
						_mm256_mul_ps(c1, g));
		const __m256 vj = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(ve + j)),
						_mm256_mul_ps(c2, _mm256_mul_ps(g, g)));
		const __m256 denom = _mm256_add_ps(_mm256_mul_ps(_mm256_sqrt_ps(vj), inv), eps);
		__m256 wj = _mm256_loadu_ps(w + j);

		if (decay == DECAY_SHRINK)
			wj = _mm256_mul_ps(wj, fv);
		else if (decay == DECAY_SIGNED)
			wj = _mm256_add_ps(wj, _mm256_mul_ps(fv, wj));
		wj = _mm256_sub_ps(wj, _mm256_mul_ps(step, _mm256_div_ps(mj, denom)));

		_mm256_storeu_ps(mo + j, mj);
		_mm256_storeu_ps(ve + j, vj);
		_mm256_storeu_ps(w + j, wj);
		acc = _mm256_add_ps(acc, wj);
	}
	_mm256_storeu_ps(sum, acc);
	_mm256_zeroupper();
	return j;
}
#endif

/* Rows of the signed decay's norms summed side by side (see decay_factors). */
#define NORM_ROWS 4

/* The factors f of the decay γ < 0, W_i <- W_i + f_i W_i, of the NR rows
 * (at most NORM_ROWS) at W: f_i = lr γ (1 - 1/(‖W_i‖ + eps)), each ‖W_i‖²
 * summed in double in column order.  The rows' sums run interleaved, so a
 * core adds NORM_ROWS of them at once instead of waiting on one sum's
 * latency: the same bits as one row at a time, ≈ 4x faster. */
static void decay_factors(const float *W, int64_t nr, int64_t cols, double lr_gamma, float *f)
{
	double nrm[NORM_ROWS] = {0};

	if (nr == NORM_ROWS) { /* four registers (a loop to NR: 1.1-1.3x slower) */
		for (int64_t j = 0; j < cols; j++)
			for (int r = 0; r < NORM_ROWS; r++) {
				const double x = W[r * cols + j];

				nrm[r] += x * x;
			}
	} else {
		for (int64_t r = 0; r < nr; r++)
			for (int64_t j = 0; j < cols; j++) {
				const double x = W[r * cols + j];

				nrm[r] += x * x;
			}
	}
	for (int64_t r = 0; r < nr; r++)
		f[r] = (float)(lr_gamma * (1.0 - 1.0 / (sqrt(nrm[r]) + MODEL_EPS)));
}

/* The decay DECAY with factor F and the Adam update of row I (COLS entries
 * at W, MO, VE; its gradient the sum of the NGRAD accumulators at I·COLS, in
 * order) with the constants K, each updated entry j added to SUM[j mod 8]. */
static void update_row(float *w, float *mo, float *ve, const float *const *grads, int ngrad,
		       int64_t i, int64_t cols, const struct adam_consts *k, enum decay decay,
		       float f, float *sum)
{
	int64_t j = 0;

#ifdef HAVE_AVX2_PASS
	if (cols >= 8 && kernels_in_use() == MODEL_KERNELS_AVX2)
		j = adam_avx2(w, mo, ve, grads, ngrad, i * cols, cols, k, decay, f, sum);
#endif
	for (; j < cols; j++) {
		float g = grads[0][i * cols + j];

		for (int q = 1; q < ngrad; q++)
			g += grads[q][i * cols + j];
		mo[j] = k->b1 * mo[j] + k->c1 * g;
		ve[j] = k->b2 * ve[j] + k->c2 * (g * g);
		float denom = sqrtf(ve[j]) * k->inv_sqrt_bc2 + k->eps;

		if (decay == DECAY_SHRINK)
			w[j] *= f;
		else if (decay == DECAY_SIGNED)
			w[j] += f * w[j];
		w[j] -= k->step_size * (mo[j] / denom);
		sum[j % 8] += w[j];
	}
}

double model_update_rows(float *W, float *mW, float *vW, const float *const *grads, int ngrad,
			 int64_t i0, int64_t i1, int64_t cols, double gamma,
			 const struct model_adam *a)
{
	const struct adam_consts k = {(float)MODEL_BETA1,
				      (float)MODEL_BETA2,
				      (float)(1.0 - MODEL_BETA1),
				      (float)(1.0 - MODEL_BETA2),
				      (float)(a->lr / a->bc1),
				      (float)(1.0 / sqrt(a->bc2)),
				      (float)MODEL_EPS};
	const float shrink = (float)(1.0 - gamma * a->lr); /* γ > 0 */
	const enum decay decay = gamma > 0 ? DECAY_SHRINK : gamma < 0 ? DECAY_SIGNED : DECAY_NONE;
	float sum[8] = {0};
	double total = 0;

	for (int64_t i = i0; i < i1; i += NORM_ROWS) {
		const int64_t nr = i1 - i < NORM_ROWS ? i1 - i : NORM_ROWS;
		float f[NORM_ROWS];

		if (gamma < 0)
			decay_factors(W + i * cols, nr, cols, gamma * a->lr, f);
		for (int64_t r = 0; r < nr; r++)
			update_row(W + (i + r) * cols, mW + (i + r) * cols, vW + (i + r) * cols,
				   grads, ngrad, i + r, cols, &k, decay, gamma < 0 ? f[r] : shrink,
				   sum);
	}
	for (int l = 0; l < 8; l++)
		total += sum[l];
	return total;
}

double model_lr(double peak, int64_t step, int64_t steps, int64_t warmup, double min_ratio)
{
	const double s = (double)(step + 1);
	const double lo = min_ratio * peak;

	if (warmup < steps) {
		if (s < (double)warmup)
			return peak * s / (double)warmup;
		return (peak - lo) * 0.5 *
			       (1.0 + cos(M_PI * (s - (double)warmup) / (double)(steps - warmup))) +
		       lo;
	}
	return (peak - lo) * 0.5 * (1.0 + cos(M_PI * s / (double)steps)) + lo;
}

double model_ref_loss_grad(int64_t B, int64_t n, int64_t m, const double *W, const double *b,
			   const double *X, double *h, double *dW, double *db, double *L_out)
{
	double J = 0;
	const double scale = 2.0 / ((double)B * (double)n);

	if (dW)
		memset(dW, 0, (size_t)(n * m) * sizeof *dW);
	if (db)
		memset(db, 0, (size_t)n * sizeof *db);
	for (int64_t r = 0; r < B; r++) {
		const double *x = X + r * n;

		for (int64_t j = 0; j < m; j++) {
			double s = 0;

			for (int64_t i = 0; i < n; i++)
				s += x[i] * W[i * m + j];
			h[j] = s;
		}
		for (int64_t i = 0; i < n; i++) {
			double z = b[i];

			for (int64_t j = 0; j < m; j++)
				z += W[i * m + j] * h[j];
			double y = z > 0 ? z : 0;
			double d = y - x[i];

			J += d * d;
			double g = z > 0 ? scale * d : 0;

			if (db)
				db[i] += g;
			if (!dW || g == 0)
				continue;
			/* z_i = b_i + Σ_j W_ij h_j, h_j = Σ_k x_k W_kj:
			 * dz_i/dW_ij = h_j (direct), dz_i/dW_kj = W_ij x_k (via h). */
			for (int64_t j = 0; j < m; j++) {
				dW[i * m + j] += g * h[j];
				for (int64_t k = 0; k < n; k++)
					if (x[k] != 0)
						dW[k * m + j] += g * W[i * m + j] * x[k];
			}
		}
	}
	if (L_out)
		*L_out = J / (double)B;
	return J / ((double)B * (double)n);
}
