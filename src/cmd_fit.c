/* cmd_fit.c - `supersweep fit`: power-law exponents per group of a campaign.
 *
 * Reads the grouping columns, x (default m) and y (default final_loss) of a
 * campaign file (campaign_read.h), keeps the rows whose status is done,
 * fits log y against log x per group (fit.h), prints a table on stdout and
 * writes the same fits as CSV beside the campaign file (CAMPAIGN.fit.csv,
 * replaced atomically on every run; --no-store skips it) and, with --csv,
 * to a file of the user's choice.  The campaign file itself is never
 * written: it may belong to a running campaign.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supersweep/campaign_read.h"
#include "supersweep/cli.h"
#include "supersweep/err.h"
#include "supersweep/fit.h"

#define FIT_MAX_KEYS 16

struct fit_args {
	const char *campaign;	      /* CAMPAIGN.h5 */
	const char *x;		      /* regressor column */
	const char *y;		      /* loss column */
	const char *by[FIT_MAX_KEYS]; /* grouping columns (point into by_buf) */
	size_t nby;
	char *by_buf;	 /* owned copy of the --by argument */
	const char *csv; /* --csv FILE or NULL */
	bool store;	 /* write CAMPAIGN.fit.csv */
	struct fit_options opt;
};

static void fit_usage(FILE *out)
{
	fprintf(out, "usage: supersweep fit CAMPAIGN.h5 [--by COL,COL...] [--x COL] [--y COL]\n"
		     "                      [--min-x X] [--seeds mean|pool] [--r2-min R]\n"
		     "                      [--min-points K] [--csv FILE] [--no-store]\n"
		     "\n"
		     "Fit log y = c - alpha_x log x by least squares in every group of done jobs\n"
		     "that share the values of the --by columns (none: one group).\n"
		     "  --x COL          regressor column (default m)\n"
		     "  --y COL          loss column (default final_loss; e.g. eval_loss)\n"
		     "  --min-x X        leave out rows with x < X (e.g. 32 for the large models)\n"
		     "  --seeds mean     average replicates at each x first, as a geometric mean\n"
		     "                   (mean of log y), and fit one point per x (default)\n"
		     "  --seeds pool     fit every row as its own point\n"
		     "  --r2-min R       flag low_r2 below R (default 0.95)\n"
		     "  --min-points K   flag few_points and fit nothing below K distinct x "
		     "(default 3)\n"
		     "  --csv FILE       also write the fits as CSV to FILE ('-' = stdout)\n"
		     "  --no-store       do not write CAMPAIGN.fit.csv beside the campaign file\n"
		     "Flags: few_points, low_r2, non_monotone (the mean loss rises between two\n"
		     "consecutive x), dropped_rows (non-positive or non-finite loss left out).\n"
		     "Columns are named as in the file: jobs/<param>, metrics/<name>, or bare.\n");
}

static int parse_double(const char *opt, const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(*out)) {
		fprintf(stderr, "supersweep fit: %s: '%s' is not a number\n", opt, s);
		return -1;
	}
	return 0;
}

/* parse_args - returns 0, CLI_EXIT_USAGE (message printed) or -1 for --help. */
static int parse_args(int argc, char **argv, struct fit_args *a)
{
	a->x = "m";
	a->y = "final_loss";
	a->store = true;
	a->opt = fit_options_default();
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		double d;

		if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0)
			return -1;
		if (strcmp(o, "--no-store") == 0) {
			a->store = false;
			continue;
		}
		if (o[0] == '-' && o[1] == '-') {
			if (v == NULL) {
				fprintf(stderr, "supersweep fit: %s needs a value\n", o);
				return CLI_EXIT_USAGE;
			}
			i++;
			if (strcmp(o, "--x") == 0) {
				a->x = v;
			} else if (strcmp(o, "--y") == 0) {
				a->y = v;
			} else if (strcmp(o, "--csv") == 0) {
				a->csv = v;
			} else if (strcmp(o, "--by") == 0) {
				char *save = NULL, *tok;

				free(a->by_buf);
				a->by_buf = strdup(v);
				if (a->by_buf == NULL) {
					fprintf(stderr, "supersweep fit: out of memory\n");
					return CLI_EXIT_FAILURE;
				}
				a->nby = 0;
				for (tok = strtok_r(a->by_buf, ",", &save); tok != NULL;
				     tok = strtok_r(NULL, ",", &save)) {
					if (a->nby == FIT_MAX_KEYS) {
						fprintf(stderr,
							"supersweep fit: --by: at most %d "
							"columns\n",
							FIT_MAX_KEYS);
						return CLI_EXIT_USAGE;
					}
					a->by[a->nby++] = tok;
				}
			} else if (strcmp(o, "--seeds") == 0) {
				if (strcmp(v, "mean") == 0) {
					a->opt.seeds = FIT_SEEDS_MEAN;
				} else if (strcmp(v, "pool") == 0) {
					a->opt.seeds = FIT_SEEDS_POOL;
				} else {
					fprintf(stderr,
						"supersweep fit: --seeds: '%s' is not mean or "
						"pool\n",
						v);
					return CLI_EXIT_USAGE;
				}
			} else if (strcmp(o, "--min-x") == 0) {
				if (parse_double(o, v, &d) != 0)
					return CLI_EXIT_USAGE;
				a->opt.min_x = d;
			} else if (strcmp(o, "--r2-min") == 0) {
				if (parse_double(o, v, &d) != 0)
					return CLI_EXIT_USAGE;
				a->opt.r2_min = d;
			} else if (strcmp(o, "--min-points") == 0) {
				if (parse_double(o, v, &d) != 0)
					return CLI_EXIT_USAGE;
				if (d < 2 || d > 1e9 || d != floor(d)) {
					fprintf(stderr,
						"supersweep fit: --min-points: '%s' is not an "
						"integer >= 2\n",
						v);
					return CLI_EXIT_USAGE;
				}
				a->opt.min_points = (size_t)d;
			} else {
				fprintf(stderr, "supersweep fit: unknown option '%s'\n", o);
				return CLI_EXIT_USAGE;
			}
			continue;
		}
		if (a->campaign != NULL) {
			fprintf(stderr, "supersweep fit: unexpected argument '%s'\n", o);
			return CLI_EXIT_USAGE;
		}
		a->campaign = o;
	}
	if (a->campaign == NULL) {
		fprintf(stderr, "supersweep fit: missing CAMPAIGN.h5 (see --help)\n");
		return CLI_EXIT_USAGE;
	}
	return 0;
}

/* key_text - the value of grouping column K as text (enum member name when
 * the column is an enum, else %.6g for the table or %.17g for CSV). */
static void key_text(struct campaign_reader *r, const char *col, double v, bool exact, char *buf,
		     size_t len)
{
	if (campaign_read_is_enum(r, col) && v == floor(v) &&
	    campaign_read_enum_name(r, col, (long)v, buf, len) == 0)
		return;
	snprintf(buf, len, exact ? "%.17g" : "%.6g", v);
}

/* bare - a column name as a CSV header field: "jobs/m" -> "m". */
static const char *bare(const char *col)
{
	const char *s = strrchr(col, '/');

	return s ? s + 1 : col;
}

static int write_csv(FILE *f, const struct fit_args *a, struct campaign_reader *r,
		     const struct fit_result *res, bool *enum_key)
{
	char buf[128];

	for (size_t k = 0; k < a->nby; k++)
		fprintf(f, "%s,", bare(a->by[k]));
	fprintf(f,
		"x,y,seeds,alpha_x,alpha_x_se,r2,intercept,npoints,nrows,nx,x_min,x_max,flags\n");
	for (size_t g = 0; g < res->ngroups; g++) {
		const struct fit_group *gr = &res->groups[g];

		for (size_t k = 0; k < a->nby; k++) {
			if (enum_key[k])
				key_text(r, a->by[k], gr->key[k], true, buf, sizeof buf);
			else
				snprintf(buf, sizeof buf, "%.17g", gr->key[k]);
			fprintf(f, "%s,", buf);
		}
		fprintf(f, "%s,%s,%s,%.17g,%.17g,%.17g,%.17g,%zu,%zu,%zu,%.17g,%.17g,", bare(a->x),
			bare(a->y), a->opt.seeds == FIT_SEEDS_POOL ? "pool" : "mean", gr->alpha,
			gr->alpha_se, gr->line.r2, gr->line.intercept, gr->line.npoints, gr->nrows,
			gr->nx, gr->x_min, gr->x_max);
		fit_flags_string(gr->flags, buf, sizeof buf);
		/* several flags are one field: quoted, as CSV wants */
		fprintf(f, strchr(buf, ',') ? "\"%s\"\n" : "%s\n", buf);
	}
	return ferror(f) ? ERR_IO : 0;
}

/* write_csv_file - write the CSV to PATH atomically (PATH.tmp, then rename). */
static int write_csv_file(const char *path, const struct fit_args *a, struct campaign_reader *r,
			  const struct fit_result *res, bool *enum_key)
{
	char *tmp = NULL;
	FILE *f = NULL;
	int rc = ERR_IO;

	if (strcmp(path, "-") == 0)
		return write_csv(stdout, a, r, res, enum_key);
	if (asprintf(&tmp, "%s.tmp", path) < 0) {
		tmp = NULL;
		fprintf(stderr, "supersweep fit: out of memory\n");
		return ERR_NOMEM;
	}
	f = fopen(tmp, "w");
	if (f == NULL) {
		fprintf(stderr, "supersweep fit: %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	rc = write_csv(f, a, r, res, enum_key);
	if (fclose(f) != 0)
		rc = ERR_IO;
	f = NULL;
	if (rc != 0) {
		fprintf(stderr, "supersweep fit: %s: write failed\n", tmp);
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		fprintf(stderr, "supersweep fit: %s: %s\n", path, strerror(errno));
		unlink(tmp);
		rc = ERR_IO;
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

static void print_table(const struct fit_args *a, struct campaign_reader *r,
			const struct fit_result *res, size_t nrows, size_t ndone)
{
	char buf[128];
	size_t nflag = 0;

	printf("# %s: %zu rows, %zu done; log %s on log %s", a->campaign, nrows, ndone, bare(a->y),
	       bare(a->x));
	if (a->opt.min_x > 0)
		printf(" (%s >= %g)", bare(a->x), a->opt.min_x);
	printf("; %s; %zu groups\n",
	       a->opt.seeds == FIT_SEEDS_POOL ? "replicates pooled"
					      : "replicates averaged (geometric mean per x)",
	       res->ngroups);
	for (size_t k = 0; k < a->nby; k++)
		printf("%-12s ", bare(a->by[k]));
	snprintf(buf, sizeof buf, "alpha_%s", bare(a->x));
	printf("%9s %8s %8s %10s %6s %5s %11s  %s\n", buf, "se", "R2", "intercept", "points",
	       "rows", "x range", "flags");
	for (size_t g = 0; g < res->ngroups; g++) {
		const struct fit_group *gr = &res->groups[g];
		char range[48];

		for (size_t k = 0; k < a->nby; k++) {
			key_text(r, a->by[k], gr->key[k], false, buf, sizeof buf);
			printf("%-12s ", buf);
		}
		snprintf(range, sizeof range, "%g-%g", gr->x_min, gr->x_max);
		printf("%9.4f %8.4f %8.5f %10.4f %6zu %5zu %11s  %s\n", gr->alpha, gr->alpha_se,
		       gr->line.r2, gr->line.intercept, gr->line.npoints, gr->nrows, range,
		       fit_flags_string(gr->flags, buf, sizeof buf));
		nflag += gr->flags != 0;
	}
	printf("# %zu of %zu groups flagged (not shown to be power laws or rows left out)\n", nflag,
	       res->ngroups);
}

/* store_path - CAMPAIGN.h5 -> CAMPAIGN.fit.csv (".h5"/".hdf5" replaced, else appended). */
static char *store_path(const char *campaign)
{
	size_t n = strlen(campaign);
	char *p;

	if (n > 3 && strcmp(campaign + n - 3, ".h5") == 0)
		n -= 3;
	else if (n > 5 && strcmp(campaign + n - 5, ".hdf5") == 0)
		n -= 5;
	if (asprintf(&p, "%.*s.fit.csv", (int)n, campaign) < 0)
		return NULL;
	return p;
}

int cmd_fit(int argc, char **argv)
{
	struct fit_args a = {0};
	struct campaign_reader *r = NULL;
	struct fit_result *res = NULL;
	double *keys = NULL, *col = NULL, *x = NULL, *y = NULL;
	bool *done = NULL, enum_key[FIT_MAX_KEYS] = {false};
	char err[CAMPAIGN_READ_ERR_LEN], *stored = NULL;
	size_t nrows, ndone = 0;
	int rc, status = CLI_EXIT_FAILURE;

	rc = parse_args(argc, argv, &a);
	if (rc == -1) {
		fit_usage(stdout);
		status = CLI_EXIT_OK;
		goto out;
	}
	if (rc != 0) {
		status = rc;
		goto out;
	}
	rc = campaign_read_open(a.campaign, &r, err);
	if (rc != 0) {
		fprintf(stderr, "supersweep fit: %s\n", err);
		goto out;
	}
	nrows = campaign_read_nrows(r);
	x = malloc((nrows + 1) * sizeof *x);
	y = malloc((nrows + 1) * sizeof *y);
	col = malloc((nrows + 1) * sizeof *col);
	done = malloc((nrows + 1) * sizeof *done);
	keys = malloc((nrows * a.nby + 1) * sizeof *keys);
	if (x == NULL || y == NULL || col == NULL || done == NULL || keys == NULL) {
		fprintf(stderr, "supersweep fit: out of memory for %zu rows\n", nrows);
		goto out;
	}
	rc = campaign_read_done(r, done, err);
	if (rc == 0)
		rc = campaign_read_column(r, a.x, x, err);
	if (rc == 0)
		rc = campaign_read_column(r, a.y, y, err);
	for (size_t k = 0; k < a.nby && rc == 0; k++) {
		rc = campaign_read_column(r, a.by[k], col, err);
		enum_key[k] = rc == 0 && campaign_read_is_enum(r, a.by[k]);
		for (size_t i = 0; i < nrows && rc == 0; i++)
			keys[i * a.nby + k] = col[i];
	}
	if (rc != 0) {
		fprintf(stderr, "supersweep fit: %s\n", err);
		if (rc == ERR_INVAL)
			status = CLI_EXIT_USAGE;
		goto out;
	}
	for (size_t i = 0; i < nrows; i++)
		ndone += done[i];
	rc = fit_groups(nrows, a.nby, keys, x, y, done, &a.opt, &res);
	if (rc != 0) {
		fprintf(stderr, "supersweep fit: %s\n", err_name(rc));
		goto out;
	}
	print_table(&a, r, res, nrows, ndone);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "supersweep fit: writing the table failed\n");
		goto out;
	}
	if (a.csv != NULL && write_csv_file(a.csv, &a, r, res, enum_key) != 0)
		goto out;
	if (a.store) {
		stored = store_path(a.campaign);
		if (stored == NULL) {
			fprintf(stderr, "supersweep fit: out of memory\n");
			goto out;
		}
		if (write_csv_file(stored, &a, r, res, enum_key) != 0)
			goto out;
		fprintf(stderr, "supersweep fit: fits stored in %s\n", stored);
	}
	status = CLI_EXIT_OK;
out:
	free(stored);
	fit_result_destroy(&res);
	campaign_read_close(&r);
	free(keys);
	free(col);
	free(x);
	free(y);
	free(done);
	free(a.by_buf);
	return status;
}
