/* cmd_export.c - `supersweep export CAMPAIGN.h5 [-o FILE]`: one CSV row per
 * job with its parameters, commit columns and metrics.
 *
 * Columns: row, key (16 hex digits), every parameter of spec_params[] (dist
 * by name, booleans true/false), status (pending/done/failed), attempt,
 * rank, host, error, then every metric of train_metric_table[] ("nan" when
 * not available).  Reals are written round-trip exact ("%.17g").  Read-only
 * and lock-free: works while the campaign runs.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supersweep/cli.h"
#include "supersweep/err.h"
#include "supersweep/store.h"

/* csv_field - S quoted when it holds a comma, quote or line break. */
static void csv_field(FILE *f, const char *s)
{
	if (!s[strcspn(s, ",\"\r\n")]) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void export_usage(FILE *f)
{
	fprintf(f, "usage: supersweep export CAMPAIGN.h5 [-o FILE.csv]\n\n"
		   "Write every job's parameters, status and metrics as CSV to FILE or stdout.\n");
}

int cmd_export(int argc, char **argv)
{
	static const char *const status_names[] = {"pending", "done", "failed"};
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct store *st = NULL;
	struct job_point *jobs = NULL;
	double *metrics = NULL;
	char err[STORE_ERR_LEN], *hosts = NULL, *errors = NULL;
	const char *out_path = NULL;
	const int8_t *status;
	int32_t *attempts = NULL, *ranks = NULL;
	FILE *out = stdout;
	size_t n, nm = train_nmetrics;
	int c, rc, ret = CLI_EXIT_FAILURE;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out_path = optarg; break;
		case 'h': export_usage(stdout); return CLI_EXIT_OK;
		default:
			fprintf(stderr, "supersweep export: unknown or incomplete option '%s'\n",
				argv[optind - 1]);
			export_usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		export_usage(stderr);
		return CLI_EXIT_USAGE;
	}
	rc = store_open_read(argv[optind], &st, err);
	if (rc) {
		fprintf(stderr, "supersweep export: %s\n", err);
		return rc == ERR_NOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
	}
	n = store_njobs(st);
	status = store_status(st);
	jobs = malloc(n * sizeof *jobs);
	metrics = malloc(n * (nm ? nm : 1) * sizeof *metrics);
	hosts = malloc(n * STORE_HOST_LEN);
	errors = malloc(n * STORE_ERROR_LEN);
	attempts = malloc(n * sizeof *attempts);
	ranks = malloc(n * sizeof *ranks);
	if (!jobs || !metrics || !hosts || !errors || !attempts || !ranks) {
		fprintf(stderr, "supersweep export: out of memory for %zu rows\n", n);
		goto out;
	}
	if (store_read_jobs(st, jobs) || store_read_metrics(st, metrics) ||
	    store_read_strings(st, "host", hosts) || store_read_strings(st, "error", errors) ||
	    store_read_attempts(st, attempts) || store_read_ranks(st, ranks)) {
		fprintf(stderr, "supersweep export: %s: cannot read the columns\n", argv[optind]);
		goto out;
	}
	if (out_path) {
		out = fopen(out_path, "w");
		if (!out) {
			perror(out_path);
			out = stdout;
			goto out;
		}
	}
	fputs("row,key", out);
	for (size_t p = 0; p < spec_nparams; p++)
		fprintf(out, ",%s", spec_params[p].name);
	fputs(",status,attempt,rank,host,error", out);
	for (size_t j = 0; j < nm; j++)
		fprintf(out, ",%s", train_metric_table[j].name);
	fputc('\n', out);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%zu,%016llx", i, (unsigned long long)jobs[i].key);
		for (size_t p = 0; p < spec_nparams; p++) {
			const char *f = (const char *)&jobs[i] + spec_params[p].offset;
			switch (spec_params[p].type) {
			case SPEC_INT: fprintf(out, ",%lld", (long long)*(const int64_t *)f); break;
			case SPEC_REAL: fprintf(out, ",%.17g", *(const double *)f); break;
			case SPEC_BOOL: fputs(*(const bool *)f ? ",true" : ",false", out); break;
			case SPEC_DIST:
				fprintf(out, ",%s", spec_dist_name(*(const enum spec_dist *)f));
				break;
			}
		}
		fprintf(out, ",%s,%d,%d,",
			status[i] >= 0 && status[i] <= 2 ? status_names[status[i]] : "?",
			attempts[i], ranks[i]);
		csv_field(out, hosts + i * STORE_HOST_LEN);
		fputc(',', out);
		csv_field(out, errors + i * STORE_ERROR_LEN);
		for (size_t j = 0; j < nm; j++)
			fprintf(out, ",%.17g", metrics[i * nm + j]);
		fputc('\n', out);
	}
	if (fflush(out) != 0 || ferror(out)) {
		perror(out_path ? out_path : "stdout");
		goto out;
	}
	ret = CLI_EXIT_OK;
out:
	if (out != stdout && fclose(out) != 0) {
		perror(out_path);
		ret = CLI_EXIT_FAILURE;
	}
	free(jobs);
	free(metrics);
	free(hosts);
	free(errors);
	free(attempts);
	free(ranks);
	store_close(&st);
	return ret;
}
