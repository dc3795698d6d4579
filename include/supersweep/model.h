/* model.h - the toy model's step kernels for one job: forward/backward over
 * a block of samples, the optimiser, the learning-rate schedule.
 *
 * Model (PAPER.md): W (n, m), b (n); for a sample x (sparse, ≈ E nonzeros)
 * h = Wᵀx, z = W h + b, y = ReLU(z).  Objective: mean over all B·n entries
 * of (y - x)²; reported loss L = Σ_features (y - x)², mean over samples.
 * Gradient: g = (2/(B n))·(y - x)⊙1[z > 0]; dW = xᵀ(gW) + gᵀ(xW); db = Σ g.
 *
 * The fast kernel works on a block of rows so that z and g (rows × n) stay in
 * cache; its three dense products are OpenBLAS sgemm calls, except that gW
 * and gᵀh are taken over the non-zeros of g when there are at most
 * WK->gcap of them (ReLU makes g sparse once the model has learned).  Every fast kernel
 * has a plain reference here (model_ref_*), in double precision, used by the
 * tests.  Nothing here allocates.
 */
#ifndef SUPERSWEEP_MODEL_H
#define SUPERSWEEP_MODEL_H

#include <stdint.h>

/* A block of sparse samples in CSR form (all borrowed). */
struct model_rows {
	int64_t nrows;	      /* samples in the block */
	const int64_t *start; /* (nrows + 1) offsets into idx/val */
	const int32_t *idx;   /* active feature indices */
	const float *val;     /* their values v */
};

/* Scratch of one block (borrowed, sized by the caller).  h, z and gw hold
 * the rows with active features first, in order, then those without. */
struct model_work {
	float *h;	 /* (rows, m) xW */
	float *z;	 /* (rows, n) pre-activations, then g in place */
	float *gw;	 /* (rows, m) gW */
	float *xrow;	 /* (n) all zero between calls */
	int64_t *gstart; /* (rows + 1) offsets of each row's entries in gcol/gval */
	int32_t *gcol;	 /* (gcap) columns where z > 0 */
	float *gval;	 /* (gcap) g there */
	int64_t gcap;	 /* capacity: above it the block uses the dense products */
};

/* model_block_grad - forward and backward of the block X for parameters W
 * (n, m) and b (n).  SCALE is the factor 2/(B·n) of the objective's gradient.
 * Accumulates the block's gradient into DW (n, m) and DB (n) and returns the
 * block's Σ over samples and features of (y - x)². */
double model_block_grad(int64_t n, int64_t m, const float *W, const float *b,
			const struct model_rows *x, float scale, struct model_work *wk, float *dW,
			float *db);

/* model_block_loss - forward only: the block's Σ (y - x)² (WK->gw unused). */
double model_block_loss(int64_t n, int64_t m, const float *W, const float *b,
			const struct model_rows *x, struct model_work *wk);

/* model_row_grad - the element-wise pass over one sample: ZR (n) holds
 * z = W h + b and becomes g = SCALE·(y - x)·1[z > 0] with y = max(z, 0) and
 * XR the sample, dense (n); DB += g.  Returns Σ (y - x)².  The same pass, in
 * the same order, as model_block_grad's.  Also lists the entries where
 * z > 0 (column, g) in COL/VAL (room for CAP) and sets *NNZ to their number,
 * or to -1 when there are more than CAP - 8 (CAP <= 0: no list). */
double model_row_grad(int64_t n, float *zr, const float *xr, float scale, float *db, int32_t *col,
		      float *val, int64_t cap, int64_t *nnz);

/* model_kernels - which element-wise kernels the passes use: WANT =
 * MODEL_KERNELS_QUERY leaves the choice as it is (the best the CPU has,
 * chosen at first use), _BEST chooses that, _SSE or _AVX2 force one (an
 * AVX2 request on a CPU without it is ignored).  Returns the kernels in
 * use.  Every choice gives the same bits; the choice is for speed and tests. */
enum model_kernels {
	MODEL_KERNELS_QUERY = 0,
	MODEL_KERNELS_BEST = 1,
	MODEL_KERNELS_SSE = 2,
	MODEL_KERNELS_AVX2 = 3,
};
int model_kernels(int want);

/* model_gather_rows - Y = Σ_q A[q]·X[COL[q]] (q = 0..CNT-1 in order, from
 * zero) for rows of X of length M: register-blocked over 16 columns so that
 * the sum does not round-trip through memory. */
void model_gather_rows(int64_t m, const float *X, const int32_t *col, const float *a, int64_t cnt,
		       float *y);

/* model_axpy - Y += A·X over M entries, 4 lanes at a time (each entry one
 * rounded multiply and add, in a fixed order). */
void model_axpy(int64_t m, float a, const float *x, float *y);

/* Optimiser constants (the authors' AdamW: PyTorch's formula). */
#define MODEL_BETA1 0.9
#define MODEL_BETA2 0.999
#define MODEL_EPS   1e-8

/* Per-step optimiser scalars of one parameter group. */
struct model_adam {
	double lr;  /* learning rate of this step */
	double bc1; /* 1 - beta1^t, t = step + 1 */
	double bc2; /* 1 - beta2^t */
};

/* model_adam_prepare - the scalars for step index STEP (0-based) and LR. */
struct model_adam model_adam_prepare(int64_t step, double lr);

/* model_update_rows - for rows [I0, I1) of W (n, m): gradient = Σ over the
 * NGRAD accumulators GRADS[k] (each (n, m), summed in order k = 0..), then the
 * decay of GAMMA with the step's learning rate (γ >= 0: W <- W(1 - lr γ);
 * γ < 0: W_i <- W_i + lr γ W_i (1 - 1/(‖W_i‖ + eps))), then the Adam update
 * with moments MW, VW.  COLS = m; for b pass COLS = 1 and GAMMA = 0 (no
 * decay).  Returns Σ of the updated parameters, summed in 8 float lanes
 * (a NaN/Inf sentinel). */
double model_update_rows(float *W, float *mW, float *vW, const float *const *grads, int ngrad,
			 int64_t i0, int64_t i1, int64_t cols, double gamma,
			 const struct model_adam *a);

/* model_lr - learning rate at step index STEP (0-based) of STEPS for PEAK,
 * linear warm-up over WARMUP steps then cosine to MIN_RATIO·PEAK.  With
 * s = step + 1: s < warmup: peak·s/warmup; else (peak - min)·½(1 +
 * cos(π(s - warmup)/(steps - warmup))) + min.  When warmup >= steps (no
 * room for a cosine) the cosine runs over all steps from s = 0, as in the
 * authors' script. */
double model_lr(double peak, int64_t step, int64_t steps, int64_t warmup, double min_ratio);

/* Reference implementation (plain loops, double precision, dense x).
 * model_ref_loss_grad - objective J = mean over B·n entries of (y - x)² for
 * X (B, n) dense, H an (m) scratch; fills DW (n, m) and DB (n) with dJ/dW, dJ/db (either may be
 * NULL) and returns J.  *L_OUT (may be NULL) gets the reported loss L = n·J. */
double model_ref_loss_grad(int64_t B, int64_t n, int64_t m, const double *W, const double *b,
			   const double *X, double *h, double *dW, double *db, double *L_out);

#endif
