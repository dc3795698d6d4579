/* gram.c - the step through the Gram rows of the batch's active features
 * (see gram.h for the algebra).  Dense products are OpenBLAS sgemm calls;
 * the per-sample work is axpy over rows of length n, and dM_S sums the
 * samples' g by slots; the sparse step (gram_part_*) works by parts of the
 * features instead.
 */
#include <stdbool.h>
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

/* z and g of row R of X over the columns [J0, J0 + NT): z = b + Σ_k v_k M_S[k]
 * from M_S's rows (LD floats apart, starting at column J0), then
 * model_row_grad into Z (SCALE, DB's columns, the list COL/VAL with room for
 * CAP, *NNZ).  XROW is (n) scratch, zero between calls.  Returns the row's
 * share of Σ (y - x)². */
static double row_z_g(const struct gram *g, const float *MS, int64_t ld, const float *b,
		      const struct model_rows *x, int64_t r, int64_t j0, int64_t nt, float scale,
		      float *db, float *z, float *xrow, int32_t *col, float *val, int64_t cap,
		      int64_t *nnz)
{
	const int64_t k0 = x->start[r], k1 = x->start[r + 1];
	double loss;

	memcpy(z, b + j0, (size_t)nt * sizeof *z);
	for (int64_t k = k0; k < k1; k++)
		model_axpy(nt, x->val[k], MS + (int64_t)g->slot[x->idx[k]] * ld, z);
	for (int64_t k = k0; k < k1; k++)
		xrow[x->idx[k]] = x->val[k];
	loss = model_row_grad(nt, z, xrow + j0, scale, db + j0, col, val, cap, nnz);
	for (int64_t k = k0; k < k1; k++)
		xrow[x->idx[k]] = 0.0f;
	return loss;
}

double gram_rows(struct gram *g, const float *b, const struct model_rows *x, int64_t r0,
		 float scale, float *db, float *z, float *xrow, int64_t at, int64_t room,
		 int64_t *entries)
{
	const int64_t n = g->n;
	double loss = 0;
	int64_t used = 0;

	*entries = 0;

	for (int64_t r = 0; r < x->nrows; r++) {
		int64_t nnz;

		loss += row_z_g(g, g->MS, n, b, x, r, 0, n, scale, db, z, xrow, g->lcol + at + used,
				g->lval + at + used, room - used, &nnz);
		/* g is sparse once the model has learned: then dM_S takes only
		 * its non-zeros, which gives the same bits (the rest adds +0) */
		g->lat[r0 + r] = at + used;
		g->lnnz[r0 + r] = nnz >= 0 && nnz < n / 4 ? nnz : -1;
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

void gram_part_forward(const struct gram *g, struct gram_part *p, const float *W)
{
	const int64_t m = g->m, nt = p->j1 - p->j0;

	for (int64_t s = 0; s < g->D; s++)
		memcpy(p->WS + s * m, W + (int64_t)g->feat[s] * m, (size_t)m * sizeof *W);
	if (g->D == 0 || nt == 0)
		return;
	/* M_S's columns [j0, j1) = W_S W[j0:j1]ᵀ: (D, m)·(m, j1 - j0) */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->D, (int)nt, (int)m, 1.0f,
		    p->WS, (int)m, W + p->j0 * m, (int)m, 0.0f, p->MS, (int)p->ld);
}

double gram_part_rows(struct gram *g, struct gram_part *p, const float *b, const float *W,
		      const struct model_rows *chunks, int64_t nchunk, float scale, float *db,
		      float *z, float *xrow, float *q)
{
	const int64_t n = g->n, m = g->m, j0 = p->j0, nt = p->j1 - p->j0;
	const float *Wp = W + j0 * m;
	double loss = 0, g0loss = 0;
	int64_t used = 0, R = 0, g0nnz = -1; /* g0nnz: the g_0 kept, once >= 0 */

	memset(db + j0, 0, (size_t)nt * sizeof *db);
	memset(p->XQ, 0, (size_t)(g->D * m) * sizeof *p->XQ);
	memset(p->work, 0, (size_t)((n + 15) / 16) * sizeof *p->work);
	for (int64_t c = 0; c < nchunk; c++) {
		const struct model_rows *x = &chunks[c];

		for (int64_t r = 0; r < x->nrows; r++, R++) {
			const int64_t k0 = x->start[r], k1 = x->start[r + 1];
			int64_t nnz;
			double lr;

			p->lat[R] = used;
			if (k0 == k1 && g0nnz >= 0) { /* no active feature: g_0 again */
				for (int64_t e = 0; e < g0nnz; e++)
					db[j0 + p->g0col[e]] += p->g0[p->g0col[e]];
				loss += g0loss;
				p->lnnz[R] = 0; /* h_r = 0: no g terms, no x terms */
				continue;
			}
			lr = row_z_g(g, p->MS, p->ld, b, x, r, j0, nt, scale, db, z, xrow,
				     p->lcol + used, p->lval + used, p->room - used, &nnz);
			loss += lr;
			if (k0 == k1) { /* the first without one: keep its g (in z) */
				g0nnz = 0;
				for (int64_t j = 0; j < nt; j++)
					if (z[j] != 0.0f)
						p->g0col[g0nnz++] = (int32_t)j;
				memcpy(p->g0, z, (size_t)nt * sizeof *z);
				g0loss = lr;
				p->lnnz[R] = 0;
				continue;
			}
			p->lnnz[R] = nnz >= 0 && nnz < nt / 4 ? nnz : -1;
			if (p->lnnz[R] == 0)
				continue;     /* no share of q_r */
			if (p->lnnz[R] > 0) { /* q_r's share: g's non-zeros in column order */
				model_gather_rows(m, Wp, p->lcol + used, p->lval + used, nnz, q);
				for (int64_t e = used; e < used + nnz; e++)
					p->work[(j0 + p->lcol[e]) / 16]++; /* a g term */
				used += nnz;
			} else { /* dense g (early in a run): keep its columns in G */
				memcpy(g->G + R * n + j0, z, (size_t)nt * sizeof *z);
				memset(q, 0, (size_t)m * sizeof *q);
				for (int64_t j = 0; j < nt; j++)
					if (z[j] != 0.0f) {
						model_axpy(m, z[j], Wp + j * m, q);
						p->work[(j0 + j) / 16]++;
					}
			}
			for (int64_t k = k0; k < k1; k++) /* the x terms of the share */
				model_axpy(m, x->val[k], q,
					   p->XQ + (int64_t)g->slot[x->idx[k]] * m);
		}
	}
	return loss;
}

/* The work of rows [16·K, 16·K + 16) of dW (see gram_part_cut). */
static double bucket_work(const struct gram *g, const struct gram_part *parts, int64_t nparts,
			  double row_cost, int64_t k)
{
	const int64_t i1 = 16 * k + 16 < g->n ? 16 * k + 16 : g->n;
	double w = 0;

	for (int64_t t = 0; t < nparts; t++)
		w += parts[t].work[k];
	for (int64_t i = 16 * k; i < i1; i++)
		w += row_cost + (g->slot[i] >= 0 ? (double)nparts : 0.0);
	return w;
}

int64_t gram_part_cut(const struct gram *g, const struct gram_part *parts, int64_t nparts,
		      double row_cost, int64_t t, int64_t nt)
{
	const int64_t n = g->n, nb = (n + 15) / 16;
	double total = 0, sum = 0, goal;
	int64_t k = 0;

	if (t <= 0)
		return 0;
	if (t >= nt)
		return n;
	for (int64_t b = 0; b < nb; b++)
		total += bucket_work(g, parts, nparts, row_cost, b);
	goal = total * (double)t / (double)nt;
	for (; k < nb; k++) {
		const double w = bucket_work(g, parts, nparts, row_cost, k);

		if (sum + 0.5 * w >= goal)
			break;
		sum += w;
	}
	return k * 16 < n ? k * 16 : n;
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

/* The entries [*E0, *E1) of sample R's list in part P at rows [I0, I1);
 * false when there are none (or, *DENSE set, the row is in G). */
static bool part_entries(const struct gram_part *p, int64_t R, int64_t i0, int64_t i1, int64_t *e0,
			 int64_t *e1, bool *dense)
{
	const int64_t nnz = p->lnnz[R], end = p->lat[R] + nnz;
	const int64_t lo = i0 > p->j0 ? i0 - p->j0 : 0,
		      hi = i1 < p->j1 ? i1 - p->j0 : p->j1 - p->j0;

	*dense = nnz < 0;
	if (nnz == 0 || lo >= hi)
		return false;
	if (*dense)
		return true;
	*e0 = list_from(p->lcol, p->lat[R], end, lo);
	*e1 = hi >= p->j1 - p->j0 ? end : list_from(p->lcol, *e0, end, hi);
	return *e1 > *e0;
}

void gram_part_gterms(const struct gram *g, const struct gram_part *parts, int64_t nparts,
		      int64_t i0, int64_t i1, const float *WS, const struct model_rows *chunks,
		      int64_t nchunk, int32_t *slots, float *h, float *dW)
{
	const int64_t n = g->n, m = g->m;
	int64_t R = 0, p0 = 0, p1;

	if (i1 <= i0)
		return;
	while (parts[p0].j1 <= i0) /* the parts over [i0, i1) */
		p0++;
	for (p1 = p0; p1 < nparts && parts[p1].j0 < i1; p1++)
		;
	memset(dW + i0 * m, 0, (size_t)((i1 - i0) * m) * sizeof *dW);
	for (int64_t c = 0; c < nchunk; c++) { /* the g terms, sample by sample */
		const struct model_rows *x = &chunks[c];

		for (int64_t r = 0; r < x->nrows; r++, R++) {
			const int64_t k0 = x->start[r], k1 = x->start[r + 1];
			bool have_h = false;

			for (int64_t pi = p0; pi < p1; pi++) {
				const struct gram_part *p = &parts[pi];
				int64_t e0 = 0, e1 = 0;
				bool dense;

				if (!part_entries(p, R, i0, i1, &e0, &e1, &dense))
					continue;
				if (!have_h) { /* h_r = x_r W, from a copy of W_S */
					for (int64_t k = k0; k < k1; k++)
						slots[k - k0] = g->slot[x->idx[k]];
					model_gather_rows(m, WS, slots, x->val + k0, k1 - k0, h);
					have_h = true;
				}
				if (!dense) {
					for (int64_t e = e0; e < e1; e++)
						model_axpy(m, p->lval[e], h,
							   dW + (p->j0 + p->lcol[e]) * m);
					continue;
				}
				for (int64_t j = i0 > p->j0 ? i0 : p->j0; j < i1 && j < p->j1; j++)
					if (g->G[R * n + j] != 0.0f)
						model_axpy(m, g->G[R * n + j], h, dW + j * m);
			}
		}
	}
}

void gram_part_xterms(const struct gram *g, const struct gram_part *parts, int64_t nparts,
		      int64_t i0, int64_t i1, float *dW)
{
	const int64_t m = g->m;

	for (int64_t i = i0; i < i1; i++) /* the parts' sums, in part order */
		if (g->slot[i] >= 0)
			for (int64_t t = 0; t < nparts; t++)
				model_axpy(m, 1.0f, parts[t].XQ + (int64_t)g->slot[i] * m,
					   dW + i * m);
}
