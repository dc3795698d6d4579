/* metrics.h - what a trained W says about superposition (PAPER.md, "What to
 * measure per run"): row norms, the represented fractions φ_{1/2} and φ_1,
 * mean squared overlaps of normalised rows, the weak-regime prediction.
 *
 * Computed once at the end of a job; allocates its own scratch.
 */
#ifndef SUPERSWEEP_METRICS_H
#define SUPERSWEEP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "supersweep/train.h"

/* metrics_compute - fill the W-derived fields of OUT (phi_half, phi_one,
 * overlap_strong, overlap_all, weak_pred, norm_min/median/mean/max) for W
 * (n, m) row-major and frequencies P (n).  Rows with norm 0 count as the
 * zero vector in the overlaps (overlap 0).  Overlaps are means over ordered
 * pairs i != j of (ŵ_i·ŵ_j)²; NaN when fewer than 2 rows qualify.
 * Returns 0 or ERR_NOMEM (OUT's fields then untouched). */
int metrics_compute(const float *W, int64_t n, int64_t m, const double *p,
		    struct train_metrics *out);

/* metrics_bytes - the memory metrics_compute takes for a moment, in bytes. */
size_t metrics_bytes(int64_t n, int64_t m);

/* metrics_overlap_ref - plain double-precision reference of the two mean
 * squared overlaps (all rows; rows with norm > 1), for tests. */
void metrics_overlap_ref(const float *W, int64_t n, int64_t m, double *all, double *strong);

#endif
