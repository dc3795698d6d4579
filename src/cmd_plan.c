/* cmd_plan.c - `supersweep plan`: validate a spec, count and cost its jobs.
 *
 * Loads the spec (every error names file:line:column, exit status 2),
 * prints the number of jobs, the predicted cost (FLOP of the 6·B·n·m-per-
 * step model plus the eval pass, and core-hours at a stated rate), the peak
 * memory of the largest job (train_peak_bytes: the engine's own layout, sized
 * without allocating it), and with --list one tab-separated line per job in
 * dispatch order.  Writes nothing.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supersweep/cli.h"
#include "supersweep/err.h"
#include "supersweep/spec.h"
#include "supersweep/train.h"

/* The jobs' peak memory depends on few of their parameters, and a grid has
 * few distinct combinations of them: one sizing per combination (a sizing
 * builds the job's sampler, O(n log n)), kept in a small direct-mapped
 * table. */
#define PEAK_SLOTS 256
struct peak_cache {
	struct job_point shape[PEAK_SLOTS]; /* the fields that set the size; the rest 0 */
	double bytes[PEAK_SLOTS];
	bool used[PEAK_SLOTS];
};

static struct job_point shape_of(const struct job_point *j)
{
	struct job_point s;

	memset(&s, 0, sizeof s); /* padding too: shapes compare with memcmp */
	s.n = j->n;
	s.m = j->m;
	s.dist = j->dist;
	s.alpha = j->alpha;
	s.dist_scale = j->dist_scale;
	s.E = j->E;
	s.density_s = j->density_s;
	s.batch = j->batch;
	s.steps = j->steps;
	s.log_every = j->log_every;
	s.save_weights = j->save_weights;
	s.threads = j->threads;
	/* the rest only has to pass train_peak_bytes's checks */
	s.lr_w = s.lr_b = 1;
	return s;
}

/* The peak memory of job ROW of S (train_peak_bytes), or -1 with a message
 * naming the row in ERR. */
static double job_peak(struct peak_cache *c, const struct spec *s, size_t row, char *err)
{
	const struct job_point sh = shape_of(&s->jobs[row]);
	const unsigned char *b = (const unsigned char *)&sh;
	uint64_t h = 1469598103934665603ULL;
	char msg[SPEC_ERR_LEN];
	double bytes;

	for (size_t i = 0; i < sizeof sh; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	h %= PEAK_SLOTS;
	if (c->used[h] && memcmp(&c->shape[h], &sh, sizeof sh) == 0)
		return c->bytes[h];
	if (train_peak_bytes(&sh, &bytes, msg) != 0) {
		snprintf(err, SPEC_ERR_LEN, "job row %zu (n=%" PRId64 " m=%" PRId64 "): %.900s",
			 row, sh.n, sh.m, msg);
		return -1;
	}
	c->shape[h] = sh;
	c->bytes[h] = bytes;
	c->used[h] = true;
	return bytes;
}

#define DEFAULT_GFLOPS 30.0

static void plan_usage(FILE *out)
{
	fprintf(out,
		"usage: supersweep plan SPEC.yaml [--list] [--gflops R]\n"
		"\n"
		"Validate a campaign spec, expand its grid and predict its cost.  Nothing is\n"
		"written.  Prints the number of jobs, the total predicted cost in FLOP\n"
		"(6·batch·n·m per step plus 2·n·m per eval sample) and in core-hours at\n"
		"R GFLOP/s per core, and the predicted peak memory of the largest job.\n"
		"\n"
		"Options:\n"
		"  --list        also print one line per job in dispatch order (longest\n"
		"                first), tab-separated, after a header line: row, key (hex),\n"
		"                every parameter (the campaign file's /jobs columns), flop,\n"
		"                peak_bytes\n"
		"  --gflops R    sustained GFLOP/s of one core used for core-hours\n"
		"                (default %.0f; measure yours with `make bench`)\n"
		"  -h, --help    show this help\n"
		"\n"
		"Exit status: 0 valid, 2 bad usage or bad spec (the message names the file,\n"
		"line and column), 1 out of memory or a write error.\n"
		"The spec format is described in docs/SPEC.md.\n",
		DEFAULT_GFLOPS);
}

static void human_bytes(double b, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	size_t u = 0;

	while (b >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
		b /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", b, units[u]);
}

/* --list writes about 10^6 lines a second: each line is built in a buffer
 * with a hand-rolled integer formatter, and the formatted reals of the
 * previous line are reused per column (consecutive jobs share most values;
 * printing a double exactly is the slow part). */
struct line_cache {
	uint64_t bits[64]; /* per column (parameters, then flop, peak_bytes) */
	char str[64][40];
	bool valid[64];
};

static char *put_uint(char *p, uint64_t u)
{
	char tmp[24];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_int(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return put_uint(p, (uint64_t)0 - (uint64_t)v);
	}
	return put_uint(p, (uint64_t)v);
}

static char *put_str(char *p, const char *str)
{
	size_t n = strlen(str);

	memcpy(p, str, n);
	return p + n;
}

/* A real in column COL: FMT 0 = shortest exact, 1 = %.6g, 2 = %.0f. */
static char *put_real(char *p, double v, size_t col, int fmt, struct line_cache *lc)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof bits);
	if (!lc->valid[col] || lc->bits[col] != bits) {
		if (fmt == 0)
			spec_format_real(v, lc->str[col], sizeof lc->str[col]);
		else
			snprintf(lc->str[col], sizeof lc->str[col], fmt == 1 ? "%.6g" : "%.0f", v);
		lc->bits[col] = bits;
		lc->valid[col] = true;
	}
	return put_str(p, lc->str[col]);
}

static char *put_value(char *p, const struct job_point *j, size_t col, struct line_cache *lc)
{
	const char *base = (const char *)j + spec_params[col].offset;
	int64_t iv;
	double dv;
	bool bv;
	int dist;

	switch (spec_params[col].type) {
	case SPEC_INT: memcpy(&iv, base, sizeof iv); return put_int(p, iv);
	case SPEC_BOOL: memcpy(&bv, base, sizeof bv); return put_str(p, bv ? "true" : "false");
	case SPEC_DIST:
		memcpy(&dist, base, sizeof dist);
		return put_str(p, spec_dist_name((enum spec_dist)dist));
	case SPEC_REAL: break;
	}
	memcpy(&dv, base, sizeof dv);
	return put_real(p, dv, col, 0, lc);
}

static int print_list(FILE *out, const struct spec *s, const double *peaks)
{
	struct line_cache *lc = calloc(1, sizeof *lc);
	static const char hex[] = "0123456789abcdef";
	char line[2048]; /* 23 columns of at most 40 bytes */

	assert(spec_nparams + 2 <= sizeof lc->bits / sizeof lc->bits[0]);
	if (!lc)
		return ERR_NOMEM;
	fputs("row\tkey", out);
	for (size_t p = 0; p < spec_nparams; p++)
		fprintf(out, "\t%s", spec_params[p].name);
	fputs("\tflop\tpeak_bytes\n", out);
	for (size_t i = 0; i < s->njobs; i++) {
		const struct job_point *j = &s->jobs[i];
		char *p = put_uint(line, i);
		*p++ = '\t';
		for (int b = 60; b >= 0; b -= 4)
			*p++ = hex[(j->key >> b) & 15];
		for (size_t c = 0; c < spec_nparams; c++) {
			*p++ = '\t';
			p = put_value(p, j, c, lc);
		}
		*p++ = '\t';
		p = put_real(p, spec_job_flop(j), spec_nparams, 1, lc);
		*p++ = '\t';
		p = put_real(p, peaks[i], spec_nparams + 1, 2, lc);
		*p++ = '\n';
		fwrite(line, 1, (size_t)(p - line), out);
	}
	free(lc);
	return 0;
}

int cmd_plan(int argc, char **argv)
{
	const char *path = NULL;
	bool list = false;
	double gflops = DEFAULT_GFLOPS, total = 0, peak = 0;
	size_t peak_row = 0;
	struct spec *s = NULL;
	struct peak_cache *pc = NULL;
	double *peaks = NULL;
	char err[SPEC_ERR_LEN], mem[32];
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			plan_usage(stdout);
			return CLI_EXIT_OK;
		} else if (!strcmp(a, "--list")) {
			list = true;
		} else if (!strcmp(a, "--gflops") || !strncmp(a, "--gflops=", 9)) {
			const char *v = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
			char *end;
			if (!v) {
				fprintf(stderr, "supersweep plan: --gflops needs a value\n");
				return CLI_EXIT_USAGE;
			}
			errno = 0;
			gflops = strtod(v, &end);
			if (errno || end == v || *end || !(gflops > 0) || !isfinite(gflops)) {
				fprintf(stderr,
					"supersweep plan: --gflops must be a positive number, got "
					"'%s'\n",
					v);
				return CLI_EXIT_USAGE;
			}
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "supersweep plan: unknown option '%s' (try --help)\n", a);
			return CLI_EXIT_USAGE;
		} else if (!path) {
			path = a;
		} else {
			fprintf(stderr, "supersweep plan: one spec at a time ('%s' and '%s')\n",
				path, a);
			return CLI_EXIT_USAGE;
		}
	}
	if (!path) {
		plan_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	rc = spec_load_file(path, &s, err);
	if (rc) {
		fprintf(stderr, "%s\n", err);
		return rc == ERR_NOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
	}
	peaks = malloc(s->njobs * sizeof *peaks);
	pc = calloc(1, sizeof *pc);
	if (!peaks || !pc) {
		fprintf(stderr, "supersweep plan: out of memory\n");
		rc = CLI_EXIT_FAILURE;
		goto out;
	}
	for (size_t i = 0; i < s->njobs; i++) {
		peaks[i] = job_peak(pc, s, i, err);
		if (peaks[i] < 0) {
			fprintf(stderr, "supersweep plan: %s: %s\n", path, err);
			rc = CLI_EXIT_USAGE;
			goto out;
		}
		total += spec_job_flop(&s->jobs[i]);
		if (peaks[i] > peak) {
			peak = peaks[i];
			peak_row = i;
		}
	}
	human_bytes(peak, mem, sizeof mem);
	printf("spec:           %s (name %s, campaign seed %" PRIu64 ")\n", path, s->name, s->seed);
	if (s->ngrid != s->njobs)
		printf("jobs:           %zu (%zu grid points, %zu removed by the filter)\n",
		       s->njobs, s->ngrid, s->ngrid - s->njobs);
	else
		printf("jobs:           %zu\n", s->njobs);
	printf("predicted cost: %.3g FLOP = %.3g core-hours at %g GFLOP/s per core\n", total,
	       total / (gflops * 1e9) / 3600.0, gflops);
	printf("largest job:    %s peak memory (row %zu: n=%" PRId64 " m=%" PRId64 " batch=%" PRId64
	       ")\n",
	       mem, peak_row, s->jobs[peak_row].n, s->jobs[peak_row].m, s->jobs[peak_row].batch);
	printf("longest job:    %.3g FLOP = %.3g core-hours (row 0)\n", spec_job_flop(&s->jobs[0]),
	       spec_job_flop(&s->jobs[0]) / (gflops * 1e9) / 3600.0);
	rc = CLI_EXIT_OK;
	if (list && print_list(stdout, s, peaks) != 0) {
		fprintf(stderr, "supersweep plan: out of memory\n");
		rc = CLI_EXIT_FAILURE;
	} else if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "supersweep plan: cannot write the output: %s\n", strerror(errno));
		rc = CLI_EXIT_FAILURE;
	}
out:
	free(peaks);
	free(pc);
	spec_destroy(&s);
	return rc;
}
