/* gram.c - the step through the Gram rows of the batch's active features
 * (see gram.h for the algebra).  Dense products are OpenBLAS sgemm calls;
 * the per-sample work is axpy over rows of length n, and dM_S sums the
 * samples' g by slots.
 */
#include <string.h>

#include <cblas.h>

#include "supersweep/gram.h"

void gram_slots(struct gram *g, const struct model_rows *chunks, int64_t nchunk)
{
	for (int64_t s = 0; s < g->D; s++)
		g->slot[g->feat[s]] = -1;
	for (int64_t c = 0; c < nchunk; c++) {
		const struct model_rows *x = &chunks[c];

		for (int64_t k = 0; k < x->start[x->nrows]; k++)
			g->slot[x->idx[k]] = 0;
	}
	g->D = 0;
	for (int64_t i = 0; i < g->n; i++)
		if (g->slot[i] >= 0) { /* marked above */
			g->slot[i] = (int32_t)g->D;
			g->uses[g->D] = 0;
			g->feat[g->D++] = (int32_t)i;
		}
	for (int64_t c = 0; c < nchunk; c++) {
		const struct model_rows *x = &chunks[c];

		for (int64_t k = 0; k < x->start[x->nrows]; k++)
			g->uses[g->slot[x->idx[k]]]++;
	}
}

void gram_slot_share(const struct gram *g, int64_t entries, int64_t rows, double f0, double f1,
		     int64_t *s0, int64_t *s1)
{
	/* per slot: its share of the sgemm (2·n·m FLOP) and its additions
	 * (uses × the mean entries of a sample's g, an addition costing ≈ 16
	 * sgemm FLOP) */
	const double fixed = 2.0 * (double)g->n * (double)g->m;
	const double per_use = 16.0 * (double)entries / (double)(rows > 0 ? rows : 1);
	double total = 0, sum = 0;
	int64_t s = 0;

	for (int64_t k = 0; k < g->D; k++)
		total += fixed + per_use * g->uses[k];
	for (; s < g->D && sum < total * f0; s++)
		sum += fixed + per_use * g->uses[s];
	*s0 = s;
	for (; s < g->D && sum < total * f1; s++)
		sum += fixed + per_use * g->uses[s];
	*s1 = f1 >= 1.0 ? g->D : s;
}

void gram_forward_slots(struct gram *g, const float *W, int64_t s0, int64_t s1)
{
	const int64_t m = g->m, n = g->n;

	if (s1 <= s0)
		return;
	for (int64_t s = s0; s < s1; s++)
		memcpy(g->WS + s * m, W + (int64_t)g->feat[s] * m, (size_t)m * sizeof *W);
	/* M_S = W_S Wᵀ: (s1 - s0, m)·(m, n) */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(s1 - s0), (int)n, (int)m, 1.0f,
		    g->WS + s0 * m, (int)m, W, (int)m, 0.0f, g->MS + s0 * n, (int)n);
}

/* h_r = x_r W and q_r = g_r W of sample R (g in Z, its list at Q0 when
 * NNZ >= 0). */
static void sample_hq(struct gram *g, const float *W, const struct model_rows *x, int64_t r,
		      int64_t R, const float *z, int64_t q0, int64_t nnz)
{
	const int64_t n = g->n, m = g->m;
	float *h = g->H + R * m, *q = g->Q + R * m;

	model_gather_rows(m, W, x->idx + x->start[r], x->val + x->start[r],
			  x->start[r + 1] - x->start[r], h);
	if (nnz >= 0) {
		model_gather_rows(m, W, g->lcol + q0, g->lval + q0, nnz, q);
		return;
	}
	memset(q, 0, (size_t)m * sizeof *q);
	for (int64_t j = 0; j < n; j++)
		if (z[j] != 0.0f)
			model_axpy(m, z[j], W + j * m, q);
}

double gram_rows(struct gram *g, const float *b, const float *W, const struct model_rows *x,
		 int64_t r0, float scale, float *db, float *z, float *xrow, int64_t at,
		 int64_t room, int64_t *entries)
{
	const int64_t n = g->n;
	double loss = 0;
	int64_t used = 0;

	*entries = 0;

	for (int64_t r = 0; r < x->nrows; r++) {
		const int64_t k0 = x->start[r], k1 = x->start[r + 1];
		int64_t nnz;

		memcpy(z, b, (size_t)n * sizeof *z);
		for (int64_t k = k0; k < k1; k++)
			model_axpy(n, x->val[k], g->MS + (int64_t)g->slot[x->idx[k]] * n, z);
		for (int64_t k = k0; k < k1; k++)
			xrow[x->idx[k]] = x->val[k];
		loss += model_row_grad(n, z, xrow, scale, db, g->lcol + at + used,
				       g->lval + at + used, room - used, &nnz);
		for (int64_t k = k0; k < k1; k++)
			xrow[x->idx[k]] = 0.0f;
		/* g is sparse once the model has learned: then dM_S takes only
		 * its non-zeros, which gives the same bits (the rest adds +0) */
		g->lat[r0 + r] = at + used;
		g->lnnz[r0 + r] = nnz >= 0 && nnz < n / 4 ? nnz : -1;
		if (W)
			sample_hq(g, W, x, r, r0 + r, z, at + used, g->lnnz[r0 + r]);
		if (g->lnnz[r0 + r] >= 0) {
			used += nnz;
			*entries += nnz;
		} else { /* dense g (early in a run): keep all of it */
			memcpy(g->G + (r0 + r) * n, z, (size_t)n * sizeof *z);
			*entries += n;
		}
	}
	return loss;
}

void gram_reduce_slots(struct gram *g, const struct model_rows *chunks, int64_t nchunk,
		       const float *W, int64_t s0, int64_t s1)
{
	const int64_t n = g->n, m = g->m;
	int64_t r0 = 0;

	if (s1 <= s0)
		return;
	/* dM_S of the slots, each over the samples in order; the rows are
	 * cleared here, by the thread that sums into them, which keeps them in
	 * its cache (n = 1000, m = 100, two threads: 3-4 % faster steps than
	 * clearing by columns after dW) */
	memset(g->dMS + s0 * n, 0, (size_t)((s1 - s0) * n) * sizeof *g->dMS);
	for (int64_t c = 0; c < nchunk; r0 += chunks[c].nrows, c++) {
		const struct model_rows *x = &chunks[c];

		for (int64_t r = 0; r < x->nrows; r++) {
			const int64_t q0 = g->lat[r0 + r], nnz = g->lnnz[r0 + r];

			for (int64_t k = x->start[r]; k < x->start[r + 1]; k++) {
				const int64_t s = g->slot[x->idx[k]];
				const float v = x->val[k];
				float *a = g->dMS + s * n;

				if (s < s0 || s >= s1)
					continue;
				if (nnz < 0) {
					model_axpy(n, v, g->G + (r0 + r) * n, a);
					continue;
				}
				for (int64_t q = q0; q < q0 + nnz; q++)
					a[g->lcol[q]] += v * g->lval[q];
			}
		}
	}
	/* dWS = dM_S W: (s1 - s0, n)·(n, m) */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(s1 - s0), (int)m, (int)n, 1.0f,
		    g->dMS + s0 * n, (int)n, W, (int)m, 0.0f, g->dWS + s0 * m, (int)m);
}

void gram_grad_rows(const struct gram *g, int64_t i0, int64_t i1, float *dW)
{
	const int64_t n = g->n, m = g->m;

	if (i1 <= i0)
		return;
	if (g->D == 0) {
		memset(dW + i0 * m, 0, (size_t)((i1 - i0) * m) * sizeof *dW);
		return;
	}
	/* dW[i0:i1] = dM_S[:, i0:i1]ᵀ W_S: (i1 - i0, D)·(D, m) */
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(i1 - i0), (int)m, (int)g->D,
		    1.0f, g->dMS + i0, (int)n, g->WS, (int)m, 0.0f, dW + i0 * m, (int)m);
	for (int64_t i = i0; i < i1; i++)
		if (g->slot[i] >= 0)
			model_axpy(m, 1.0f, g->dWS + (int64_t)g->slot[i] * m, dW + i * m);
}

/* The first entry of the list [E, HI) (columns increasing) at column >= I0. */
static int64_t list_from(const int32_t *col, int64_t e, int64_t hi, int64_t i0)
{
	while (e < hi) {
		const int64_t mid = e + (hi - e) / 2;

		if (col[mid] < i0)
			e = mid + 1;
		else
			hi = mid;
	}
	return e;
}

void gram_sparse_grad_rows(const struct gram *g, const struct model_rows *chunks, int64_t nchunk,
			   int64_t i0, int64_t i1, float *dW)
{
	const int64_t n = g->n, m = g->m;
	int64_t R = 0;

	if (i1 <= i0)
		return;
	memset(dW + i0 * m, 0, (size_t)((i1 - i0) * m) * sizeof *dW);
	for (int64_t c = 0; c < nchunk; c++) {
		const struct model_rows *x = &chunks[c];

		for (int64_t r = 0; r < x->nrows; r++, R++) {
			const float *h = g->H + R * m, *q = g->Q + R * m;
			const int64_t q0 = g->lat[R], nnz = g->lnnz[R];

			if (nnz >= 0) {
				for (int64_t e = list_from(g->lcol, q0, q0 + nnz, i0);
				     e < q0 + nnz && g->lcol[e] < i1; e++)
					model_axpy(m, g->lval[e], h, dW + (int64_t)g->lcol[e] * m);
			} else {
				const float *gr = g->G + R * n;

				for (int64_t j = i0; j < i1; j++)
					if (gr[j] != 0.0f)
						model_axpy(m, gr[j], h, dW + j * m);
			}
			for (int64_t k = x->start[r]; k < x->start[r + 1]; k++)
				if (x->idx[k] >= i0 && x->idx[k] < i1)
					model_axpy(m, x->val[k], q, dW + (int64_t)x->idx[k] * m);
		}
	}
}
