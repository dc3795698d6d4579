/* spec.c - campaign specs: public functions (spec.h).
 *
 * Loading (file or string) runs spec_read (spec_yaml.c: YAML -> settings,
 * axes, filter) and spec_expand (spec_expand.c: axes -> ordered, validated
 * job points).  This file also holds the parameter tables, canonical forms
 * and keys, cost and memory predictions, feature frequencies and spec_diff.
 * Hot path: spec_canonical_cached and the key set, once per job point.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <xxhash.h>

#include "supersweep/err.h"
#include "supersweep/spec.h"
#include "spec_int.h"

#define FIELD(f) offsetof(struct job_point, f)

/* Indices into spec_params (the campaign file's column order). */
enum {
	P_N,
	P_M,
	P_DIST,
	P_ALPHA,
	P_DIST_SCALE,
	P_E,
	P_DENSITY_S,
	P_GAMMA,
	P_SEED,
	P_BATCH,
	P_STEPS,
	P_LR_W,
	P_LR_B,
	P_WARMUP,
	P_LR_MIN_RATIO,
	P_LOG_EVERY,
	P_EVAL_SAMPLES,
	P_SAVE_WEIGHTS,
	P_THREADS,
	P_COUNT
};

const struct spec_param spec_params[] = {
	{"n", SPEC_INT, FIELD(n), true, "", "number of features"},
	{"m", SPEC_INT, FIELD(m), true, "", "width (hidden dimensions)"},
	{"dist", SPEC_DIST, FIELD(dist), true, "", "feature-frequency shape"},
	{"alpha", SPEC_REAL, FIELD(alpha), true, "", "power-law exponent of the frequencies"},
	{"dist_scale", SPEC_REAL, FIELD(dist_scale), true, "ranks", "exponential scale"},
	{"E", SPEC_REAL, FIELD(E), true, "features", "expected active features per sample"},
	{"density_s", SPEC_REAL, FIELD(density_s), true, "", "density-sweep parameter s"},
	{"gamma", SPEC_REAL, FIELD(gamma), true, "", "superposition dial (signed weight decay)"},
	{"seed", SPEC_INT, FIELD(seed), true, "", "replicate seed"},
	{"batch", SPEC_INT, FIELD(batch), true, "samples", "samples per step"},
	{"steps", SPEC_INT, FIELD(steps), true, "steps", "optimiser steps"},
	{"lr_w", SPEC_REAL, FIELD(lr_w), true, "", "peak learning rate of W"},
	{"lr_b", SPEC_REAL, FIELD(lr_b), true, "", "peak learning rate of b"},
	{"warmup", SPEC_INT, FIELD(warmup), true, "steps", "linear warm-up steps"},
	{"lr_min_ratio", SPEC_REAL, FIELD(lr_min_ratio), true, "", "cosine floor / peak"},
	{"log_every", SPEC_INT, FIELD(log_every), true, "steps", "loss-curve interval"},
	{"eval_samples", SPEC_INT, FIELD(eval_samples), true, "samples", "fresh eval samples"},
	{"save_weights", SPEC_BOOL, FIELD(save_weights), true, "", "store W and b"},
	{"threads", SPEC_INT, FIELD(threads), false, "cores", "cores per job"},
};
const size_t spec_nparams = sizeof spec_params / sizeof spec_params[0];

/* key_part parameters sorted by strcmp of their names, each with its
 * "name=" prefix (a unit test checks that the order is sorted and complete). */
#define CF(p, pre)                                                                                 \
	{                                                                                          \
		p, pre, sizeof(pre) - 1                                                            \
	}
static const struct {
	unsigned char param;
	const char *prefix;
	unsigned char len;
} canon_fields[] = {
	CF(P_E, "E="),
	CF(P_ALPHA, ";alpha="),
	CF(P_BATCH, ";batch="),
	CF(P_DENSITY_S, ";density_s="),
	CF(P_DIST, ";dist="),
	CF(P_DIST_SCALE, ";dist_scale="),
	CF(P_EVAL_SAMPLES, ";eval_samples="),
	CF(P_GAMMA, ";gamma="),
	CF(P_LOG_EVERY, ";log_every="),
	CF(P_LR_B, ";lr_b="),
	CF(P_LR_MIN_RATIO, ";lr_min_ratio="),
	CF(P_LR_W, ";lr_w="),
	CF(P_M, ";m="),
	CF(P_N, ";n="),
	CF(P_SAVE_WEIGHTS, ";save_weights="),
	CF(P_SEED, ";seed="),
	CF(P_STEPS, ";steps="),
	CF(P_WARMUP, ";warmup="),
};
#undef CF

int spec_fail(char *err, const char *path, struct spec_mark mark, int code, const char *fmt, ...)
{
	va_list ap;
	int off;

	if (!err)
		return code;
	if (mark.line > 0)
		off = snprintf(err, SPEC_ERR_LEN, "%s:%d:%d: ", path, mark.line, mark.col);
	else
		off = snprintf(err, SPEC_ERR_LEN, "%s: ", path);
	if (off < 0 || off >= SPEC_ERR_LEN)
		return code;
	va_start(ap, fmt);
	vsnprintf(err + off, SPEC_ERR_LEN - (size_t)off, fmt, ap);
	va_end(ap);
	return code;
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64], i, j;

	if (la > 48 || lb >= 63)
		return (size_t)-1;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t up = row[j], best;
			best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

const char *spec_nearest(const char *word, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t bestd = (size_t)-1, len = strlen(word), limit;

	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(word, names[i]))
			return names[i]; /* a case slip beats any edit */
	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(word, names[i]);
		if (d < bestd) {
			bestd = d;
			best = names[i];
		}
	}
	limit = len <= 2 ? 1 : len <= 6 ? 2 : 3;
	return bestd <= limit ? best : NULL;
}

int spec_param_index(const char *name)
{
	if (!strcmp(name, "lr"))
		return P_LR_W;
	for (size_t i = 0; i < spec_nparams; i++)
		if (!strcmp(name, spec_params[i].name))
			return (int)i;
	return -1;
}

const char *spec_dist_name(enum spec_dist dist)
{
	switch (dist) {
	case SPEC_DIST_POWER: return "power";
	case SPEC_DIST_EXPONENTIAL: return "exponential";
	case SPEC_DIST_LINEAR: return "linear";
	}
	return "unknown";
}

int spec_dist_parse(const char *name, enum spec_dist *out)
{
	static const enum spec_dist all[] = {SPEC_DIST_POWER, SPEC_DIST_EXPONENTIAL,
					     SPEC_DIST_LINEAR};

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (!strcmp(name, spec_dist_name(all[i]))) {
			*out = all[i];
			return 0;
		}
	return ERR_INVAL;
}

double spec_round15(double x)
{
	char buf[40];

	if (x == 0 || !isfinite(x))
		return x == 0 ? 0.0 : x;
	snprintf(buf, sizeof buf, "%.15g", x);
	return strtod(buf, NULL);
}

void spec_format_real(double x, char *buf, size_t len)
{
	if (x == 0)
		x = 0.0; /* no "-0" */
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, x);
		if (prec == 17 || strtod(buf, NULL) == x)
			return;
	}
}

/* ---- canonical form and keys ---- */

static size_t fmt_int(int64_t v, char *out)
{
	char tmp[24];
	size_t n = 0, len = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		out[len++] = '-';
	while (n)
		out[len++] = tmp[--n];
	out[len] = '\0';
	return len;
}

static size_t fmt_value(const struct job_point *job, int p, char *out, size_t outlen,
			struct spec_canon_cache *cache)
{
	const char *base = (const char *)job + spec_params[p].offset;
	int64_t iv;
	double dv;
	bool bv;
	int dist;
	uint64_t bits;
	int n;

	switch (spec_params[p].type) {
	case SPEC_INT: memcpy(&iv, base, sizeof iv); return fmt_int(iv, out);
	case SPEC_BOOL:
		memcpy(&bv, base, sizeof bv);
		strcpy(out, bv ? "true" : "false");
		return strlen(out);
	case SPEC_DIST:
		memcpy(&dist, base, sizeof dist);
		strcpy(out, spec_dist_name((enum spec_dist)dist));
		return strlen(out);
	case SPEC_REAL: break;
	}
	memcpy(&dv, base, sizeof dv);
	if (dv == 0)
		dv = 0.0;
	memcpy(&bits, &dv, sizeof bits);
	if (cache && cache->valid[p] && cache->bits[p] == bits) {
		memcpy(out, cache->str[p], (size_t)cache->len[p] + 1);
		return cache->len[p];
	}
	n = snprintf(out, outlen, "%.17g", dv);
	if (n < 0)
		n = 0;
	if (cache && (size_t)n < sizeof cache->str[p]) {
		cache->bits[p] = bits;
		memcpy(cache->str[p], out, (size_t)n + 1);
		cache->len[p] = (unsigned char)n;
		cache->valid[p] = true;
	}
	return (size_t)n;
}

size_t spec_canonical_cached(const struct job_point *job, char *buf, size_t len,
			     struct spec_canon_cache *cache)
{
	char tmp[1024]; /* 18 prefixes and values of at most 24 bytes fit */
	size_t pos = 0;

	for (size_t i = 0; i < sizeof canon_fields / sizeof canon_fields[0]; i++) {
		memcpy(tmp + pos, canon_fields[i].prefix, canon_fields[i].len);
		pos += canon_fields[i].len;
		pos += fmt_value(job, canon_fields[i].param, tmp + pos, 40, cache);
	}
	tmp[pos] = '\0';
	if (buf && len) {
		size_t c = pos < len ? pos : len - 1;
		memcpy(buf, tmp, c);
		buf[c] = '\0';
	}
	return pos;
}

size_t spec_canonical(const struct job_point *job, char *buf, size_t len)
{
	return spec_canonical_cached(job, buf, len, NULL);
}

uint64_t spec_job_key(const struct job_point *job)
{
	char buf[1024];
	size_t n = spec_canonical(job, buf, sizeof buf);

	return XXH3_64bits(buf, n < sizeof buf ? n : sizeof buf - 1);
}

/* ---- costs ---- */

double spec_job_flop(const struct job_point *job)
{
	double nm = (double)job->n * (double)job->m;

	return 6.0 * (double)job->batch * nm * (double)job->steps +
	       2.0 * (double)job->eval_samples * nm;
}

int64_t spec_curve_len(const struct job_point *job)
{
	return job->log_every > 0 ? job->steps / job->log_every : 0;
}

/* ---- feature frequencies ---- */

/* Σ_{i=1..n} i^-alpha: exact up to 200 terms; beyond, the first 99 exactly
 * and the rest by Euler-Maclaurin from N = 100 with the f' and f''' terms
 * (the next term is below 1e-13 relative for every alpha >= 0). */
static double harmonic(int64_t n, double alpha)
{
	const int64_t N = 100;
	double s = 0, a = (double)N, b = (double)n, integral, d1, d3;

	if (n <= 200) {
		for (int64_t i = n; i >= 1; i--)
			s += pow((double)i, -alpha);
		return s;
	}
	for (int64_t i = N - 1; i >= 1; i--)
		s += pow((double)i, -alpha);
	/* Σ_{i=N..n} f(i) = ∫_N^n f + (f(N) + f(n))/2 + (f'(n) - f'(N))/12
	 *                   - (f'''(n) - f'''(N))/720 + ... */
	if (alpha == 1)
		integral = log(b / a);
	else
		integral = pow(a, 1 - alpha) * expm1((1 - alpha) * log(b / a)) / (1 - alpha);
	d1 = -alpha * (pow(b, -alpha - 1) - pow(a, -alpha - 1));
	d3 = -alpha * (alpha + 1) * (alpha + 2) * (pow(b, -alpha - 3) - pow(a, -alpha - 3));
	return s + integral + (pow(a, -alpha) + pow(b, -alpha)) / 2 + d1 / 12 - d3 / 720;
}

double spec_job_pmax(const struct job_point *job)
{
	double p1;

	switch (job->dist) {
	case SPEC_DIST_EXPONENTIAL:
		/* Σ_{i=0}^{n-1} r^i = (1 - r^n)/(1 - r), r = exp(-1/scale) */
		p1 = job->E * expm1(-1.0 / job->dist_scale) /
		     expm1(-(double)job->n / job->dist_scale);
		break;
	case SPEC_DIST_LINEAR:
		p1 = 2.0 * job->E / ((double)job->n + 1.0); /* Σ (n-i)/n = (n+1)/2 */
		break;
	case SPEC_DIST_POWER:
	default: p1 = job->E / harmonic(job->n, job->alpha); break;
	}
	return p1 + job->density_s * (1.0 - p1);
}

void spec_job_freqs(const struct job_point *job, double *p)
{
	int64_t n = job->n;
	double sum = 0, scale;

	for (int64_t i = 0; i < n; i++) {
		switch (job->dist) {
		case SPEC_DIST_EXPONENTIAL: p[i] = exp(-(double)i / job->dist_scale); break;
		case SPEC_DIST_LINEAR: p[i] = (double)(n - i) / (double)n; break;
		case SPEC_DIST_POWER:
		default: p[i] = pow((double)(i + 1), -job->alpha); break;
		}
	}
	for (int64_t i = n - 1; i >= 0; i--)
		sum += p[i];
	scale = job->E / sum;
	for (int64_t i = 0; i < n; i++)
		p[i] *= scale;
	if (job->density_s > 0) {
		double f = 1 + job->density_s * (1 / p[0] - 1);
		for (int64_t i = 0; i < n; i++)
			p[i] *= f;
	}
	for (int64_t i = 0; i < n; i++)
		if (p[i] > 1)
			p[i] = 1;
}

/* ---- loading ---- */

static char *default_name(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t len;

	base = base ? base + 1 : path;
	len = strlen(base);
	if (len > 5 && !strcmp(base + len - 5, ".yaml"))
		len -= 5;
	else if (len > 4 && !strcmp(base + len - 4, ".yml"))
		len -= 4;
	if (len == 0)
		return strdup("campaign");
	return strndup(base, len);
}

int spec_load_string_max(const char *text, size_t len, const char *name, size_t max_jobs,
			 struct spec **out, char *err)
{
	struct spec_src src;
	struct spec *s = NULL;
	const struct spec_mark none = {0, 0};
	int rc;

	memset(&src, 0, sizeof src);
	*out = NULL;
	if (err)
		err[0] = '\0';
	if (!name)
		name = "<spec>";
	if (!text)
		len = 0;
	if (max_jobs == 0)
		max_jobs = SPEC_MAX_JOBS;
	s = calloc(1, sizeof *s);
	if (!s)
		goto nomem;
	s->path = strdup(name);
	s->text = malloc(len + 1);
	if (!s->path || !s->text)
		goto nomem;
	if (len)
		memcpy(s->text, text, len);
	text = s->text;
	s->text[len] = '\0';
	s->text_len = len;
	s->text_hash = XXH3_64bits(s->text, len);
	rc = spec_read(text, len, name, max_jobs, &src, err);
	if (rc)
		goto fail;
	s->seed = src.seed;
	if (src.name) {
		s->name = src.name;
		src.name = NULL;
	} else {
		s->name = default_name(name);
		if (!s->name)
			goto nomem;
	}
	rc = spec_expand(&src, name, max_jobs, s, err);
	if (rc)
		goto fail;
	spec_src_free(&src);
	*out = s;
	return 0;
nomem:
	rc = spec_fail(err, name, none, ERR_NOMEM, "out of memory");
fail:
	spec_src_free(&src);
	spec_destroy(&s);
	return rc;
}

int spec_load_string(const char *text, size_t len, const char *name, struct spec **out, char *err)
{
	return spec_load_string_max(text, len, name, 0, out, err);
}

#define SPEC_MAX_FILE (64u << 20)

int spec_load_file(const char *path, struct spec **out, char *err)
{
	const struct spec_mark none = {0, 0};
	FILE *f = NULL;
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0, got;
	int rc;

	*out = NULL;
	f = fopen(path, "rb");
	if (!f)
		return spec_fail(err, path, none, ERR_IO, "cannot open: %s", strerror(errno));
	for (;;) {
		if (len == cap) {
			if (cap >= SPEC_MAX_FILE) {
				rc = spec_fail(err, path, none, ERR_INVAL,
					       "larger than %u MiB: not a campaign spec",
					       SPEC_MAX_FILE >> 20);
				goto out;
			}
			cap = cap ? 2 * cap : 16384;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = spec_fail(err, path, none, ERR_NOMEM, "out of memory");
				goto out;
			}
			buf = nb;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		rc = spec_fail(err, path, none, ERR_IO, "cannot read: %s", strerror(errno));
		goto out;
	}
	rc = spec_load_string(buf ? buf : "", len, path, out, err);
out:
	free(buf);
	fclose(f);
	return rc;
}

void spec_destroy(struct spec **spec)
{
	struct spec *s;

	if (!spec || !*spec)
		return;
	s = *spec;
	free(s->path);
	free(s->text);
	free(s->name);
	free(s->jobs);
	free(s);
	*spec = NULL;
}

/* ---- diff ---- */

struct keyslot {
	uint64_t key;
	size_t idx1; /* index + 1; 0 = empty */
};

struct spec_keyset {
	struct keyslot *slots;
	size_t cap; /* power of two */
	size_t n;
};

static int keyset_grow(struct spec_keyset *s, size_t cap)
{
	struct keyslot *ns = calloc(cap, sizeof *ns);

	if (!ns)
		return ERR_NOMEM;
	for (size_t i = 0; i < s->cap; i++) {
		size_t h;
		if (!s->slots[i].idx1)
			continue;
		h = (size_t)s->slots[i].key & (cap - 1);
		while (ns[h].idx1)
			h = (h + 1) & (cap - 1);
		ns[h] = s->slots[i];
	}
	free(s->slots);
	s->slots = ns;
	s->cap = cap;
	return 0;
}

int spec_keyset_reserve(struct spec_keyset *s, size_t n)
{
	size_t cap = 1024;

	while (cap < 2 * n)
		cap *= 2;
	return cap > s->cap ? keyset_grow(s, cap) : 0;
}

int spec_keyset_add(struct spec_keyset *s, uint64_t key, size_t idx, size_t *prev)
{
	size_t h;

	if (2 * (s->n + 1) > s->cap) {
		int rc = keyset_grow(s, s->cap ? 2 * s->cap : 1024);
		if (rc)
			return rc;
	}
	h = (size_t)key & (s->cap - 1);
	while (s->slots[h].idx1) {
		if (s->slots[h].key == key) {
			*prev = s->slots[h].idx1 - 1;
			return 1;
		}
		h = (h + 1) & (s->cap - 1);
	}
	s->slots[h].key = key;
	s->slots[h].idx1 = idx + 1;
	s->n++;
	return 0;
}

static bool keyset_has(const struct spec_keyset *s, uint64_t key, size_t *idx)
{
	size_t h;

	if (!s->cap)
		return false;
	h = (size_t)key & (s->cap - 1);
	while (s->slots[h].idx1) {
		if (s->slots[h].key == key) {
			*idx = s->slots[h].idx1 - 1;
			return true;
		}
		h = (h + 1) & (s->cap - 1);
	}
	return false;
}

static int keyset_fill(struct spec_keyset *s, const struct spec *spec)
{
	size_t prev;

	for (size_t i = 0; i < spec->njobs; i++) {
		int rc = spec_keyset_add(s, spec->jobs[i].key, i, &prev);
		if (rc < 0)
			return rc;
	}
	return 0;
}

struct msgbuf {
	char *buf;
	size_t len, pos;
};

static void msg_add(struct msgbuf *mb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void msg_add(struct msgbuf *mb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (mb->pos + 1 >= mb->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(mb->buf + mb->pos, mb->len - mb->pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		mb->pos += (size_t)n < mb->len - mb->pos ? (size_t)n : mb->len - mb->pos - 1;
}

static void describe_point(struct msgbuf *mb, const struct job_point *j)
{
	char a[32], g[32], e[32];

	spec_format_real(j->alpha, a, sizeof a);
	spec_format_real(j->gamma, g, sizeof g);
	spec_format_real(j->E, e, sizeof e);
	msg_add(mb,
		"key %016" PRIx64 " (n=%" PRId64 " m=%" PRId64
		" %s alpha=%s gamma=%s E=%s seed=%" PRId64 ")",
		j->key, j->n, j->m, spec_dist_name(j->dist), a, g, e, j->seed);
}

#define DIFF_SHOW 3

int spec_diff(const struct spec *old, const struct spec *new, char *err)
{
	struct spec_keyset ko = {0}, kn = {0};
	struct msgbuf mb = {err, SPEC_ERR_LEN, 0};
	size_t added = 0, removed = 0, threads = 0, idx;
	int rc = 0;

	err[0] = '\0';
	if (keyset_fill(&ko, old) || keyset_fill(&kn, new)) {
		snprintf(err, SPEC_ERR_LEN, "spec comparison: out of memory");
		rc = ERR_NOMEM;
		goto out;
	}
	msg_add(&mb, "the spec does not match the campaign:");
	if (old->seed != new->seed) {
		msg_add(&mb, "\n  campaign seed changed: %" PRIu64 " -> %" PRIu64, old->seed,
			new->seed);
		rc = ERR_MISMATCH;
	}
	for (size_t i = 0; i < new->njobs; i++) {
		if (keyset_has(&ko, new->jobs[i].key, &idx)) {
			if (old->jobs[idx].threads != new->jobs[i].threads &&
			    threads++ < DIFF_SHOW) {
				msg_add(&mb, "\n  threads changed %" PRId64 " -> %" PRId64 ": ",
					old->jobs[idx].threads, new->jobs[i].threads);
				describe_point(&mb, &new->jobs[i]);
			}
			continue;
		}
		if (added++ < DIFF_SHOW) {
			msg_add(&mb, "\n  added: ");
			describe_point(&mb, &new->jobs[i]);
		}
	}
	if (added > DIFF_SHOW)
		msg_add(&mb, "\n  ... and %zu more added", added - DIFF_SHOW);
	if (threads > DIFF_SHOW)
		msg_add(&mb, "\n  ... and %zu more with threads changed", threads - DIFF_SHOW);
	for (size_t i = 0; i < old->njobs; i++) {
		if (keyset_has(&kn, old->jobs[i].key, &idx))
			continue;
		if (removed++ < DIFF_SHOW) {
			msg_add(&mb, "\n  removed: ");
			describe_point(&mb, &old->jobs[i]);
		}
	}
	if (removed > DIFF_SHOW)
		msg_add(&mb, "\n  ... and %zu more removed", removed - DIFF_SHOW);
	if (added || removed || threads)
		rc = ERR_MISMATCH;
	if (!added && !removed) {
		for (size_t i = 0; i < new->njobs; i++)
			if (old->jobs[i].key != new->jobs[i].key) {
				msg_add(&mb,
					"\n  same %zu points in a different dispatch order (from "
					"row %zu; "
					"was the YAML reordered?)",
					new->njobs, i);
				rc = ERR_MISMATCH;
				break;
			}
	}
	if (added || removed)
		msg_add(&mb, "\n  %zu points added, %zu removed (campaign has %zu, spec has %zu)",
			added, removed, old->njobs, new->njobs);
	if (rc == 0)
		err[0] = '\0';
out:
	free(ko.slots);
	free(kn.slots);
	return rc;
}

struct spec_keyset *spec_keyset_new(void)
{
	return calloc(1, sizeof(struct spec_keyset));
}

void spec_keyset_free(struct spec_keyset **set)
{
	if (!set || !*set)
		return;
	free((*set)->slots);
	free(*set);
	*set = NULL;
}
