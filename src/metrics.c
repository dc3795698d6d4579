/* metrics.c - row norms, represented fractions and overlaps of a trained W.
 *
 * The overlaps need all n² dot products of normalised rows: they are taken
 * in blocks of rows with sgemm (block × n at a time, never n × n in memory)
 * and summed in double.  n = 10240, m = 1024 costs ≈ 1e11 FLOP, once per job.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "supersweep/err.h"
#include "supersweep/metrics.h"

#define OVERLAP_BLOCK 256

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

size_t metrics_bytes(int64_t n, int64_t m)
{
	const int64_t bk = n < OVERLAP_BLOCK ? n : OVERLAP_BLOCK;

	/* norm, sorted, strong, hat, G as metrics_compute allocates them */
	return (size_t)n * (2 * sizeof(double) + 1) + (size_t)(n * m + bk * n) * sizeof(float);
}

int metrics_compute(const float *W, int64_t n, int64_t m, const double *p,
		    struct train_metrics *out)
{
	double *norm = NULL, *sorted = NULL;
	float *hat = NULL, *G = NULL;
	unsigned char *strong = NULL;
	int64_t nhalf = 0, none = 0, bk = n < OVERLAP_BLOCK ? n : OVERLAP_BLOCK;
	double sum = 0, weak = 0, s_all = 0, s_strong = 0;
	int rc = ERR_NOMEM;

	norm = malloc((size_t)n * sizeof *norm);
	sorted = malloc((size_t)n * sizeof *sorted);
	strong = malloc((size_t)n);
	hat = malloc((size_t)(n * m) * sizeof *hat);
	G = malloc((size_t)(bk * n) * sizeof *G);
	if (!norm || !sorted || !strong || !hat || !G)
		goto out;
	for (int64_t i = 0; i < n; i++) {
		double s = 0;

		for (int64_t j = 0; j < m; j++)
			s += (double)W[i * m + j] * W[i * m + j];
		norm[i] = sqrt(s);
		sorted[i] = norm[i];
		sum += norm[i];
		nhalf += norm[i] > 0.5;
		none += norm[i] > 1.0;
		strong[i] = norm[i] > 1.0;
		if (!(norm[i] > 0.5))
			weak += p[i];
		for (int64_t j = 0; j < m; j++)
			hat[i * m + j] = norm[i] > 0 ? (float)(W[i * m + j] / norm[i]) : 0.0f;
	}
	qsort(sorted, (size_t)n, sizeof *sorted, cmp_double);
	for (int64_t i0 = 0; i0 < n; i0 += bk) {
		int64_t rows = n - i0 < bk ? n - i0 : bk;

		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)n, (int)m,
			    1.0f, hat + i0 * m, (int)m, hat, (int)m, 0.0f, G, (int)n);
		for (int64_t r = 0; r < rows; r++) {
			const int64_t i = i0 + r;
			const float *gr = G + r * n;
			double a = 0, s = 0;

			for (int64_t j = 0; j < n; j++) {
				double o2 = (double)gr[j] * gr[j];

				if (j == i)
					continue;
				a += o2;
				if (strong[i] && strong[j])
					s += o2;
			}
			s_all += a;
			s_strong += s;
		}
	}
	out->phi_half = (double)nhalf / (double)n;
	out->phi_one = (double)none / (double)n;
	out->overlap_all = n >= 2 ? s_all / ((double)n * (double)(n - 1)) : NAN;
	out->overlap_strong = none >= 2 ? s_strong / ((double)none * (double)(none - 1)) : NAN;
	out->weak_pred = 4.0 / 3.0 * weak;
	out->norm_min = sorted[0];
	out->norm_max = sorted[n - 1];
	out->norm_median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
	out->norm_mean = sum / (double)n;
	rc = 0;
out:
	free(norm);
	free(sorted);
	free(strong);
	free(hat);
	free(G);
	return rc;
}

void metrics_overlap_ref(const float *W, int64_t n, int64_t m, double *all, double *strong)
{
	double sa = 0, ss = 0;
	int64_t ns = 0;

	for (int64_t i = 0; i < n; i++) {
		double ni = 0;

		for (int64_t k = 0; k < m; k++)
			ni += (double)W[i * m + k] * W[i * m + k];
		ni = sqrt(ni);
		ns += ni > 1.0;
		for (int64_t j = 0; j < n; j++) {
			double nj = 0, d = 0;

			if (j == i)
				continue;
			for (int64_t k = 0; k < m; k++) {
				nj += (double)W[j * m + k] * W[j * m + k];
				d += (double)W[i * m + k] * W[j * m + k];
			}
			nj = sqrt(nj);
			double o = ni > 0 && nj > 0 ? d / (ni * nj) : 0;

			sa += o * o;
			if (ni > 1.0 && nj > 1.0)
				ss += o * o;
		}
	}
	*all = n >= 2 ? sa / ((double)n * (double)(n - 1)) : NAN;
	*strong = ns >= 2 ? ss / ((double)ns * (double)(ns - 1)) : NAN;
}
