/* cmd_plan.c - `supersweep plan`: validate a spec, count and cost its jobs.
 *
 * Loads the spec (every error names file:line:column, exit status 2),
 * prints the number of jobs, the predicted cost (FLOP of the 6·B·n·m-per-
 * step model plus the eval pass, and core-hours at a stated rate), the peak
 * memory of the largest job, and with --list one tab-separated line per job
 * in dispatch order.  Writes nothing.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supersweep/cli.h"
#include "supersweep/err.h"
#include "supersweep/spec.h"

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

/* Formatted reals of the previous line, per column: consecutive jobs share
 * most values and printing a double exactly is the slow part of --list. */
struct real_cache {
	uint64_t bits[64];
	char str[64][32];
	bool valid[64];
};

static void print_value(FILE *out, const struct job_point *j, size_t p, struct real_cache *rc)
{
	const char *base = (const char *)j + spec_params[p].offset;
	int64_t iv;
	double dv;
	bool bv;
	int dist;
	uint64_t bits;

	switch (spec_params[p].type) {
	case SPEC_INT:
		memcpy(&iv, base, sizeof iv);
		fprintf(out, "%" PRId64, iv);
		return;
	case SPEC_BOOL:
		memcpy(&bv, base, sizeof bv);
		fputs(bv ? "true" : "false", out);
		return;
	case SPEC_DIST:
		memcpy(&dist, base, sizeof dist);
		fputs(spec_dist_name((enum spec_dist)dist), out);
		return;
	case SPEC_REAL: break;
	}
	memcpy(&dv, base, sizeof dv);
	memcpy(&bits, &dv, sizeof bits);
	if (p >= 64) {
		char buf[32];
		spec_format_real(dv, buf, sizeof buf);
		fputs(buf, out);
		return;
	}
	if (!rc->valid[p] || rc->bits[p] != bits) {
		spec_format_real(dv, rc->str[p], sizeof rc->str[p]);
		rc->bits[p] = bits;
		rc->valid[p] = true;
	}
	fputs(rc->str[p], out);
}

static int print_list(FILE *out, const struct spec *s)
{
	struct real_cache *rc = calloc(1, sizeof *rc);

	if (!rc)
		return ERR_NOMEM;
	fputs("row\tkey", out);
	for (size_t p = 0; p < spec_nparams; p++)
		fprintf(out, "\t%s", spec_params[p].name);
	fputs("\tflop\tpeak_bytes\n", out);
	for (size_t i = 0; i < s->njobs; i++) {
		const struct job_point *j = &s->jobs[i];
		fprintf(out, "%zu\t%016" PRIx64, i, j->key);
		for (size_t p = 0; p < spec_nparams; p++) {
			fputc('\t', out);
			print_value(out, j, p, rc);
		}
		fprintf(out, "\t%.6g\t%.0f\n", spec_job_flop(j), spec_job_peak_bytes(j));
	}
	free(rc);
	return 0;
}

int cmd_plan(int argc, char **argv)
{
	const char *path = NULL;
	bool list = false;
	double gflops = DEFAULT_GFLOPS, total = 0, peak = 0;
	size_t peak_row = 0;
	struct spec *s = NULL;
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
	for (size_t i = 0; i < s->njobs; i++) {
		double b = spec_job_peak_bytes(&s->jobs[i]);
		total += spec_job_flop(&s->jobs[i]);
		if (b > peak) {
			peak = b;
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
	if (list && print_list(stdout, s) != 0) {
		spec_destroy(&s);
		fprintf(stderr, "supersweep plan: out of memory\n");
		return CLI_EXIT_FAILURE;
	}
	spec_destroy(&s);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "supersweep plan: cannot write the output: %s\n", strerror(errno));
		return CLI_EXIT_FAILURE;
	}
	return CLI_EXIT_OK;
}
