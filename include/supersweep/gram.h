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
 *   sparse    q_r = g_r W                         (m)      per sample
 *   backward  dW = Σ_r g_r h_rᵀ + x_r q_rᵀ        (n, m)   h_r = x_r W
 *
 * ≈ 4·m FLOP per non-zero of g instead of the two products.  The per-
 * sample work keeps each g_r (in G, and as a list of its non-zeros when it is
 * sparse); dM_S is then summed by ranges of slots, each slot over the samples
 * in increasing order, so dM_S has the same bits whatever the number of
 * threads and whichever thread did what.  The work is cut into fixed ranges
 * (of slots, of batch chunks, of rows of W) that the engine's threads claim;
 * every sum has a fixed order, so the result is a pure function of the inputs
 * and of the number of chunks.
 *
 * The sparse step (gram_part_*) cuts the features instead: part p owns the
 * columns [j0, j1) of M_S, z and g.  It computes its columns of M_S and runs
 * every sample over them (z, g, the list of g's non-zeros, the sample's
 * share of q_r and of the x terms Σ_r x_r q_rᵀ); once every part has done
 * so, any cut of the rows of dW sums their g terms over the samples in order
 * and adds the parts' x terms in part order, so the bits depend on the
 * parts, not on the cut.  The data a part writes stays with it but for its
 * x terms, and no sample's work is split.  Nothing here allocates or knows
 * about threads.
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
};

/* One part of the features for the sparse step (buffers borrowed). */
struct gram_part {
	int64_t j0, j1; /* its features: columns of M_S, rows of W */
	float *WS;	/* (dmax, m) its copy of W_S */
	float *MS;	/* (dmax, ld) its columns of M_S */
	int64_t ld;	/* j1 - j0 rounded up to 16 floats (64-byte rows) */
	int32_t *lcol;	/* lists of the non-zeros of its columns of the g_r: columns - j0 */
	float *lval;	/* and values */
	int64_t room;	/* entries of lcol/lval */
	int64_t *lat;	/* (B) start of sample r's list */
	int64_t *lnnz;	/* (B) its length; -1: read g_r's columns from G */
	float *XQ;	/* (dmax, m) its share of the x terms: Σ_r x_r q_rᵀ on the slots,
			   with q_r's share Σ over its columns of g_rj W[j] */
	int32_t *work;	/* ((n + 15) / 16) its g terms per 16 rows of W */
	float *g0;	/* (ld) g of the step's samples without active features (z = b) */
	int32_t *g0col; /* (ld) its non-zero columns - j0 */
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
 * Sets *ENTRIES to the entries kept (n for a row of G).  Returns the chunk's
 * Σ (y - x)². */
double gram_rows(struct gram *g, const float *b, const struct model_rows *x, int64_t r0,
		 float scale, float *db, float *z, float *xrow, int64_t at, int64_t room,
		 int64_t *entries);

/* gram_reduce_slots - for slots [S0, S1): dM_S[k] = Σ_{r ∋ k} v_k g_r over the
 * NCHUNK chunks of rows in order (sample order), from zero, then
 * dWS = dM_S W. */
void gram_reduce_slots(struct gram *g, const struct model_rows *chunks, int64_t nchunk,
		       const float *W, int64_t s0, int64_t s1);

/* gram_grad_rows - rows [I0, I1) of the gradient dW (n, m): dM_Sᵀ W_S, plus
 * dM_S W on the rows of S. */
void gram_grad_rows(const struct gram *g, int64_t i0, int64_t i1, float *dW);

/* gram_part_forward - part P's copy of W_S and its columns of M_S. */
void gram_part_forward(const struct gram *g, struct gram_part *p, const float *W);

/* gram_part_rows - every sample of the NCHUNK chunks (in order) over part
 * P's columns: z from its M_S, g (SCALE = 2/(B·n)) and DB's columns, the list
 * of g's non-zeros (or, when they do not fit its room or are not sparse,
 * the columns in G), its share of q_r and of the x terms, into P->XQ, and
 * its g terms per 16 rows, into P->work.  The samples without active
 * features all have z = b, hence one g (kept in P->g0 at the first) and
 * h_r = 0: the rest add its non-zeros to DB and its loss, with an empty
 * list (no g terms, no x terms; the same bits as the full pass).  Z is
 * (j1 - j0) scratch, XROW (n) scratch that is zero between calls, Q (m)
 * scratch.  Reads W's rows of the part only.  Returns its share of
 * Σ (y - x)². */
double gram_part_rows(struct gram *g, struct gram_part *p, const float *b, const float *W,
		      const struct model_rows *chunks, int64_t nchunk, float scale, float *db,
		      float *z, float *xrow, float *q);

/* gram_part_cut - where share T of NT of the rows of dW starts, for
 * gram_part_gterms and gram_part_xterms: a multiple of 16 (0 for T = 0, n
 * for T = NT), cutting the rows' work into equal shares: the g terms
 * counted by gram_part_rows, the NPARTS x-term sums of each row of S, and
 * ROW_COST per row (clearing and updating it), in units of one term (an
 * axpy over a row of W). */
int64_t gram_part_cut(const struct gram *g, const struct gram_part *parts, int64_t nparts,
		      double row_cost, int64_t t, int64_t nt);

/* gram_part_gterms - the rows [I0, I1) of dW = Σ_r g_r h_rᵀ (samples in
 * order), with h_r from WS (a part's copy of W_S), once the parts whose
 * columns meet [I0, I1) have run their rows (a part's own rows need only
 * itself).  gram_part_xterms - then, once every one of the NPARTS parts has
 * run its rows, adds their x terms XQ to those rows, in part order.  Any cut
 * into row ranges gives the same bits.  Neither reads W (other threads may
 * be updating their rows).  SLOTS is (n) scratch, H (m).  They cost ≈ 2·m
 * FLOP per non-zero of g and per x term (q_r's shares and the x terms as
 * much again, in gram_part_rows) instead of the 4·D·n·m of the two
 * products. */
void gram_part_gterms(const struct gram *g, const struct gram_part *parts, int64_t nparts,
		      int64_t i0, int64_t i1, const float *WS, const struct model_rows *chunks,
		      int64_t nchunk, int32_t *slots, float *h, float *dW);
void gram_part_xterms(const struct gram *g, const struct gram_part *parts, int64_t nparts,
		      int64_t i0, int64_t i1, float *dW);

#endif
