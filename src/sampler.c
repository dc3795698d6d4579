/* sampler.c - feature frequencies and the sparse Bernoulli-uniform sampler.
 *
 * Frequencies are computed once per job in double precision.  The hot path
 * is sampler_row: one call per sample and step, drawing ≈ nblocks + 3E
 * uniforms.  Philox4x32-10 gives 4 words per call, used as two 53-bit
 * uniforms in the open interval (0, 1).
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <Random123/philox.h>

#include "supersweep/err.h"
#include "supersweep/sampler.h"

/* A stream of uniforms for one (purpose, step, row). */
struct stream {
	philox4x32_key_t key;
	philox4x32_ctr_t ctr; /* v[0] counts Philox calls */
	double buf[2];
	int avail; /* uniforms left in buf, taken from buf[2 - avail] */
};

static uint64_t mix64(uint64_t x)
{
	/* splitmix64 finaliser */
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

void sampler_key(uint64_t seed, uint64_t key, uint32_t out[2])
{
	uint64_t k = mix64(mix64(seed) ^ key);

	out[0] = (uint32_t)k;
	out[1] = (uint32_t)(k >> 32);
}

static void stream_init(struct stream *st, const struct sampler *s, enum sampler_purpose purpose,
			uint64_t step, uint64_t row)
{
	st->key.v[0] = s->key[0];
	st->key.v[1] = s->key[1];
	st->ctr.v[0] = 0;
	st->ctr.v[1] = (uint32_t)row;
	st->ctr.v[2] = (uint32_t)step;
	st->ctr.v[3] = ((uint32_t)purpose << 24) | (uint32_t)((step >> 32) & 0xffffffu);
	st->avail = 0;
}

/* 64 random bits -> double in (0, 1): (k + 0.5) / 2^53 for the top 53 bits. */
static double to_u01(uint32_t lo, uint32_t hi)
{
	uint64_t x = ((uint64_t)hi << 32) | lo;

	return ((double)(x >> 11) + 0.5) * 0x1p-53;
}

static void stream_refill(struct stream *st)
{
	philox4x32_ctr_t r = philox4x32(st->ctr, st->key);

	st->ctr.v[0]++;
	st->buf[0] = to_u01(r.v[0], r.v[1]);
	st->buf[1] = to_u01(r.v[2], r.v[3]);
	st->avail = 2;
}

static inline double stream_u01(struct stream *st)
{
	if (st->avail == 0)
		stream_refill(st);
	return st->buf[2 - st->avail--];
}

double sampler_uniform(const struct sampler *s, enum sampler_purpose purpose, uint64_t step,
		       uint64_t row, uint64_t i)
{
	struct stream st;

	stream_init(&st, s, purpose, step, row);
	st.ctr.v[0] = (uint32_t)(i / 2);
	stream_refill(&st);
	return st.buf[i % 2];
}

int64_t sampler_row(const struct sampler *s, enum sampler_purpose purpose, uint64_t step,
		    uint64_t row, int32_t *idx, float *val)
{
	struct stream st;
	int64_t k = 0;

	stream_init(&st, s, purpose, step, row);
	for (int64_t bi = 0; bi < s->nblocks; bi++) {
		const struct sampler_block *blk = &s->blocks[bi];
		const double q = blk->pmax;
		int64_t pos = blk->lo - 1;
		bool first = true;

		for (;;) {
			if (q >= 1.0) {
				pos++;
			} else {
				/* failures before the next success ~ Geometric(q):
				 * skip = floor(log U / log(1 - q)); the first draw of a
				 * block usually lands beyond it, which U <= (1 - q)^k
				 * decides without a log */
				double u = stream_u01(&st);

				if (first && u <= blk->pnone)
					break;
				first = false;
				double skip = log(u) / blk->log1mq;

				if (skip >= (double)(blk->hi - pos))
					break;
				pos += 1 + (int64_t)skip;
			}
			if (pos >= blk->hi)
				break;
			int32_t i = s->order[pos];
			double pi = s->p[i];

			if (pi < q && stream_u01(&st) * q >= pi)
				continue; /* thinned */
			idx[k] = i;
			val[k] = (float)(2.0 * stream_u01(&st));
			k++;
		}
	}
	return k;
}

void sampler_normals(const struct sampler *s, enum sampler_purpose purpose, uint64_t row,
		     int64_t count, double scale, float *out)
{
	struct stream st;

	stream_init(&st, s, purpose, 0, row);
	for (int64_t j = 0; j < count; j++) {
		stream_refill(&st);
		double r = sqrt(-2.0 * log(st.buf[0]));

		out[j] = (float)(scale * r * cos(2.0 * M_PI * st.buf[1]));
	}
}

/* Unnormalised weight of rank i (0-based) for JOB's shape. */
static double shape_weight(const struct job_point *job, int64_t i)
{
	switch (job->dist) {
	case SPEC_DIST_POWER: return pow((double)(i + 1), -job->alpha);
	case SPEC_DIST_EXPONENTIAL: return exp(-(double)i / job->dist_scale);
	case SPEC_DIST_LINEAR: return (double)(job->n - i) / (double)job->n;
	}
	return NAN;
}

static int cmp_desc(const void *a, const void *b, void *ctx)
{
	const double *p = ctx;
	int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;

	if (p[i] > p[j])
		return -1;
	if (p[i] < p[j])
		return 1;
	return (i > j) - (i < j);
}

int sampler_create(const struct job_point *job, uint64_t seed, struct sampler **out, char *err)
{
	struct sampler *s = NULL;
	double sum = 0;
	int rc = ERR_NOMEM;

	*out = NULL;
	err[0] = '\0';
	if (job->n < 1 || job->n > INT32_MAX) {
		snprintf(err, SPEC_ERR_LEN, "n = %lld: must be in 1..%d", (long long)job->n,
			 INT32_MAX);
		return ERR_INVAL;
	}
	if (!(job->E > 0) || !isfinite(job->E)) {
		snprintf(err, SPEC_ERR_LEN, "E = %g: must be > 0", job->E);
		return ERR_INVAL;
	}
	if ((job->dist == SPEC_DIST_POWER && !(job->alpha >= 0 && isfinite(job->alpha))) ||
	    (job->dist == SPEC_DIST_EXPONENTIAL && !(job->dist_scale > 0))) {
		snprintf(err, SPEC_ERR_LEN, "bad shape parameter (alpha = %g, dist_scale = %g)",
			 job->alpha, job->dist_scale);
		return ERR_INVAL;
	}
	if (!(job->density_s >= 0 && job->density_s <= 1)) {
		snprintf(err, SPEC_ERR_LEN, "density_s = %g: must be in [0, 1]", job->density_s);
		return ERR_INVAL;
	}
	s = calloc(1, sizeof *s);
	if (!s)
		goto fail;
	s->n = job->n;
	s->p = malloc((size_t)job->n * sizeof *s->p);
	s->order = malloc((size_t)job->n * sizeof *s->order);
	s->blocks = malloc((size_t)job->n * sizeof *s->blocks);
	if (!s->p || !s->order || !s->blocks)
		goto fail;
	for (int64_t i = 0; i < job->n; i++) {
		s->p[i] = shape_weight(job, i);
		sum += s->p[i];
	}
	if (!(sum > 0) || !isfinite(sum)) {
		snprintf(err, SPEC_ERR_LEN, "frequencies do not normalise (sum of weights %g)",
			 sum);
		rc = ERR_INVAL;
		goto fail;
	}
	for (int64_t i = 0; i < job->n; i++)
		s->p[i] *= job->E / sum;
	if (job->density_s != 0) {
		double f = 1.0 + job->density_s * (1.0 / s->p[0] - 1.0);

		for (int64_t i = 0; i < job->n; i++)
			s->p[i] *= f;
	}
	s->density = 0;
	for (int64_t i = 0; i < job->n; i++) {
		if (s->p[i] > 1.0 && s->p[i] <= 1.0 + 1e-12)
			s->p[i] = 1.0; /* rounding of the density rule at s = 1 */
		if (!(s->p[i] <= 1.0)) {
			snprintf(err, SPEC_ERR_LEN,
				 "p_%lld = %.6g > 1: E = %g is too large for n = %lld with this "
				 "shape",
				 (long long)i + 1, s->p[i], job->E, (long long)job->n);
			rc = ERR_INVAL;
			goto fail;
		}
		s->density += s->p[i];
	}
	for (int64_t i = 0; i < job->n; i++)
		s->order[i] = (int32_t)i;
	qsort_r(s->order, (size_t)job->n, sizeof *s->order, cmp_desc, s->p);
	s->nblocks = 0;
	for (int64_t pos = 0; pos < job->n;) {
		double q = s->p[s->order[pos]];
		int64_t hi = pos + 1;

		if (!(q > 0))
			break; /* zero-frequency features are never active */
		while (hi < job->n && s->p[s->order[hi]] > 0.5 * q)
			hi++;
		s->blocks[s->nblocks].lo = pos;
		s->blocks[s->nblocks].hi = hi;
		s->blocks[s->nblocks].pmax = q;
		s->blocks[s->nblocks].log1mq = q < 1.0 ? log1p(-q) : 0.0;
		s->blocks[s->nblocks].pnone =
			q < 1.0 ? exp((double)(hi - pos) * s->blocks[s->nblocks].log1mq) : 0.0;
		s->nblocks++;
		pos = hi;
	}
	sampler_key(seed, job->key, s->key);
	*out = s;
	return 0;
fail:
	if (rc == ERR_NOMEM)
		snprintf(err, SPEC_ERR_LEN, "out of memory for the sampler (n = %lld)",
			 (long long)job->n);
	sampler_destroy(&s);
	return rc;
}

size_t sampler_bytes(int64_t n)
{
	return sizeof(struct sampler) +
	       (size_t)n * (sizeof(double) + sizeof(int32_t) + sizeof(struct sampler_block));
}

void sampler_destroy(struct sampler **s)
{
	if (!s || !*s)
		return;
	free((*s)->p);
	free((*s)->order);
	free((*s)->blocks);
	free(*s);
	*s = NULL;
}
