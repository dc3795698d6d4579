/* gram.h - the step through the Gram rows of the batch's active features.
 *
 * z = W Wᵀ x + b needs, for a sample, only the rows of M = W Wᵀ of its
 * active features (≈ E of n).  With S the set of features active anywhere in
 * the batch (D = |S| distinct features, D ≤ min(n, B·E)), a step costs
 * ≈ 6·D·n·m FLOP instead of the 6·B·n·m of the three products
 * z = (xW)Wᵀ, gW, gᵀ(xW): a gain of B/D (≈ 3 at n = 1000, B = 2048, α = 1).
 *
 *   forward   M_S = W_S Wᵀ                       (D, n)   sgemm, 2·D·n·m
 *             z_r = b + Σ_{k ∈ x_r} v_k M_S[k]    (n)      per sample
 *   backward  g_r as in model_row_grad                 per sample
 *             dM_S[k] = Σ_{r ∋ k} v_k g_r         (D, n)   per slot, r ascending
 *             dW = dM_Sᵀ W_S  (every row)         (n, m)   sgemm, 2·D·n·m
 *                + dM_S W     (the rows of S)     (D, m)   sgemm, 2·D·n·m
 *
 * since z = X M + b with M symmetric gives dL/dW = dM W + dMᵀ W.  Once g is
 * sparse (a trained model: z > 0 on ≈ 1 % of entries) the backward can skip
 * dM_S: with dM = Σ_r g_r x_rᵀ, dM W + dMᵀ W = Σ_r g_r h_rᵀ + x_r q_rᵀ,
 *
 *   sparse    h_r = x_r W,  q_r = g_r W               (m)      per sample
 *   backward  dW = Σ_r g_r h_rᵀ + x_r q_rᵀ           (n, m)   by rows of W
 *
 * ≈ 4·m FLOP per non-zero of g instead of the two products.  The per-
 * sample work keeps each g_r (in G, and as a list of its non-zeros when it is
 * sparse); dM_S is then summed by ranges of slots, each slot over the samples
 * in increasing order, so dM_S has the same bits whatever the number of
 * threads and whichever thread did what.  The work is cut into fixed ranges
 * (of slots, of batch chunks, of rows of W) that the engine's threads claim;
 * every sum has a fixed order, so the result is a pure function of the inputs
 * and of the number of chunks.  Nothing here allocates or knows about threads.
 */
#ifndef SUPERSWEEP_GRAM_H
#define SUPERSWEEP_GRAM_H

#include <stdint.h>

#include "supersweep/model.h"

/* The Gram state of one engine (buffers borrowed from the engine's block). */
struct gram {
	int64_t n, m;  /* model sizes */
	int64_t D;     /* distinct active features of the current batch */
	int64_t dmax;  /* rows of the buffers: a batch with D > dmax takes the block path */
	int32_t *slot; /* (n) slot of a feature in S, -1 when inactive */
	int32_t *feat; /* (n) feature of each slot, increasing */
	int32_t *uses; /* (n) samples of the batch in which each slot's feature is active */
	float *WS;     /* (dmax, m) W_S: rows of W of the slots */
	float *MS;     /* (dmax, n) M_S */
	float *dWS;    /* (dmax, m) dM_S W */
	float *dMS;    /* (dmax, n) dM_S */
	float *G;      /* (B, n) g of the samples whose g is dense */
	int32_t *lcol; /* lists of the non-zeros of the g_r: columns */
	float *lval;   /* and values */
	int64_t *lat;  /* (B) start of sample r's list in lcol/lval */
	int64_t *lnnz; /* (B) its length; -1: g_r is dense, read it from G */
	float *H;      /* (B, m) h_r = x_r W of each sample (the sparse backward) */
	float *Q;      /* (B, m) q_r = g_r W of each sample (the sparse backward) */
};

/* gram_slots - the slots of the batch, given as NCHUNK chunks of rows:
 * S = features active in any row, numbered in increasing feature order.
 * Sets G->D and the slots' uses.  Serial; O(n + entries). */
void gram_slots(struct gram *g, const struct model_rows *chunks, int64_t nchunk);

/* gram_slot_share - the range [S0, S1) of the slots whose cost lies
 * between the fractions F0 and F1 of the total (F1 >= 1: up to D), for
 * gram_reduce_slots: each slot's share of the product plus its additions
 * (its uses times the mean entries of a sample's g: ENTRIES over ROWS
 * samples).  Any cut gives the same bits. */
void gram_slot_share(const struct gram *g, int64_t entries, int64_t rows, double f0, double f1,
		     int64_t *s0, int64_t *s1);

/* gram_forward_slots - W_S and M_S = W_S Wᵀ for slots [S0, S1). */
void gram_forward_slots(struct gram *g, const float *W, int64_t s0, int64_t s1);

/* gram_rows - forward and backward of the rows X (one chunk, rows R0.. of
 * the batch): z from M_S, then g in place (SCALE = 2/(B·n)), DB += g; the
 * list of g's non-zeros goes to lcol/lval from entry AT (room for ROOM
 * entries), or, for a row that does not fit or whose g is not sparse, g to
 * its row of G.  Z and XROW are (n) scratch, XROW zero between calls.
 * Sets *ENTRIES to the entries kept (n for a row of G).  With W not NULL,
 * also each sample's h_r = x_r W and q_r = g_r W (its non-zeros in column
 * order) into H and Q, for gram_sparse_grad_rows.  Returns the chunk's
 * Σ (y - x)². */
double gram_rows(struct gram *g, const float *b, const float *W, const struct model_rows *x,
		 int64_t r0, float scale, float *db, float *z, float *xrow, int64_t at,
		 int64_t room, int64_t *entries);

/* gram_reduce_slots - for slots [S0, S1): dM_S[k] = Σ_{r ∋ k} v_k g_r over the
 * NCHUNK chunks of rows in order (sample order), from zero, then
 * dWS = dM_S W. */
void gram_reduce_slots(struct gram *g, const struct model_rows *chunks, int64_t nchunk,
		       const float *W, int64_t s0, int64_t s1);

/* gram_grad_rows - rows [I0, I1) of the gradient dW (n, m): dM_Sᵀ W_S, plus
 * dM_S W on the rows of S. */
void gram_grad_rows(const struct gram *g, int64_t i0, int64_t i1, float *dW);

/* gram_sparse_grad_rows - rows [I0, I1) of the gradient without dM_S, from
 * the samples' g, h and q (gram_rows with W): dW = Σ_r g_r h_rᵀ + x_r q_rᵀ,
 * since dM W + dMᵀ W with dM = Σ_r g_r x_rᵀ is that sum.  Each row sums the
 * samples of the NCHUNK chunks in order (per sample the g term, then the x
 * term), so the result does not depend on the cut into row ranges or on the
 * chunks.  It costs ≈ 2·m FLOP per non-zero of g (q_r as much again, in
 * gram_rows) instead of the 4·D·n·m of the two products. */
void gram_sparse_grad_rows(const struct gram *g, const struct model_rows *chunks, int64_t nchunk,
			   int64_t i0, int64_t i1, float *dW);

#endif
