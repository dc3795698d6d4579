/* test_campaign_read.c - the read-only column reader and `supersweep fit`
 * end to end, on tests/data/fit_small.h5.
 *
 * The fixture follows the campaign-file conventions exactly; it was written
 * by tools/campaign_fixture.py (kind small: gamma -1 / 0.5, alpha 0.5..2,
 * m = 10..100, seeds 0 and 1; n = 200; rows 0 and 5 pending, row 3 failed,
 * no weights).  Strong rows (gamma < 0) have L = 0.7 (m/10)^-1 exactly.
 * Regenerate with:
 *   sh tools/python -c 'import sys; sys.path.insert(0, "tools"); import campaign_fixture as c;
 *     c.build("tests/data/fit_small.h5", "small", n=200, steps=100, log_every=50,
 *             pending=[0, 5], failed=[3], weights=False)'
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "supersweep/campaign_read.h"
#include "supersweep/cli.h"
#include "supersweep/err.h"

#define FIXTURE "tests/data/fit_small.h5"
#define NROWS	96

static void test_open_and_columns(void **state)
{
	struct campaign_reader *r = NULL;
	char err[CAMPAIGN_READ_ERR_LEN], name[32];
	double v[NROWS];
	bool done[NROWS];
	size_t ndone = 0;

	(void)state;
	assert_int_equal(campaign_read_open(FIXTURE, &r, err), 0);
	assert_int_equal(campaign_read_nrows(r), NROWS);

	assert_int_equal(campaign_read_column(r, "m", v, err), 0); /* int64 */
	assert_true(v[0] == 10 && v[1] == 10 && v[2] == 15 && v[11] == 100);
	assert_int_equal(campaign_read_column(r, "jobs/gamma", v, err), 0); /* float64 */
	assert_true(v[0] == -1.0 && v[NROWS - 1] == 0.5);
	assert_int_equal(campaign_read_column(r, "metrics/final_loss", v, err), 0);
	assert_true(isnan(v[0]));					      /* pending: NaN */
	assert_true(fabs(v[1] - 0.7) < 1e-15);				      /* m = 10, strong */
	assert_true(fabs(v[11] - 0.07) < 1e-15);			      /* m = 100 */
	assert_int_equal(campaign_read_column(r, "save_weights", v, err), 0); /* uint8 */
	assert_true(v[0] == 0.0);

	assert_int_equal(campaign_read_column(r, "dist", v, err), 0); /* enum over int8 */
	assert_true(v[0] == 0.0);
	assert_true(campaign_read_is_enum(r, "dist"));
	assert_false(campaign_read_is_enum(r, "m"));
	assert_false(campaign_read_is_enum(r, "nope"));
	assert_int_equal(campaign_read_enum_name(r, "dist", 1, name, sizeof name), 0);
	assert_string_equal(name, "exponential");
	assert_int_equal(campaign_read_enum_name(r, "jobs/status", 2, name, sizeof name), 0);
	assert_string_equal(name, "failed");
	assert_int_equal(campaign_read_enum_name(r, "dist", 9, name, sizeof name), ERR_INVAL);
	assert_string_equal(name, "9");
	assert_int_equal(campaign_read_enum_name(r, "m", 1, name, sizeof name), ERR_INVAL);

	assert_int_equal(campaign_read_done(r, done, err), 0);
	assert_false(done[0]);
	assert_false(done[3]);
	assert_false(done[5]);
	assert_true(done[1] && done[2] && done[4] && done[NROWS - 1]);
	for (size_t i = 0; i < NROWS; i++)
		ndone += done[i];
	assert_int_equal(ndone, NROWS - 3);
	campaign_read_close(&r);
	assert_null(r);
	campaign_read_close(&r);
	campaign_read_close(NULL);
}

static void test_bad_columns(void **state)
{
	struct campaign_reader *r = NULL;
	char err[CAMPAIGN_READ_ERR_LEN];
	double v[NROWS];

	(void)state;
	assert_int_equal(campaign_read_open(FIXTURE, &r, err), 0);
	err[0] = '\0';
	assert_int_equal(campaign_read_column(r, "nope", v, err), ERR_INVAL);
	assert_non_null(strstr(err, FIXTURE));
	assert_non_null(strstr(err, "no column 'nope'"));
	assert_non_null(strstr(err, "final_loss")); /* the message lists what exists */
	assert_non_null(strstr(err, "gamma"));
	assert_int_equal(campaign_read_column(r, "jobs/final_loss", v, err), ERR_INVAL);
	assert_int_equal(campaign_read_column(r, "../jobs/m", v, err), ERR_INVAL);
	assert_int_equal(campaign_read_column(r, "curves/loss", v, err), ERR_INVAL);
	assert_int_equal(campaign_read_column(r, "jobs/m/x", v, err), ERR_INVAL);
	assert_int_equal(campaign_read_column(r, "", v, err), ERR_INVAL);
	assert_int_equal(campaign_read_column(r, "host", v, err), ERR_INVAL);
	assert_non_null(strstr(err, "not numeric"));
	campaign_read_close(&r);
}

static void test_open_failures(void **state)
{
	struct campaign_reader *r = NULL;
	char err[CAMPAIGN_READ_ERR_LEN];
	long n;

	(void)state;
	assert_int_equal(campaign_read_open("tests/data/no-such-file.h5", &r, err), ERR_IO);
	assert_null(r);
	assert_non_null(strstr(err, "no-such-file.h5"));
	assert_int_equal(campaign_read_open("Makefile", &r, err), ERR_IO); /* not HDF5 */
	assert_null(r);
	for (n = 0;; n++) {
		int rc;

		alloc_fail_after(n);
		rc = campaign_read_open(FIXTURE, &r, err);
		if (!alloc_fail_triggered()) {
			assert_int_equal(rc, 0);
			break;
		}
		assert_int_equal(rc, ERR_NOMEM);
		assert_null(r);
	}
	alloc_fail_reset();
	assert_true(n >= 2);
	campaign_read_close(&r);
}

/* copy FIXTURE into a fresh temporary directory; returns the copy's path. */
static void copy_fixture(char *dir, size_t dlen, char *path, size_t plen)
{
	FILE *in, *out;
	char buf[8192];
	size_t k;

	snprintf(dir, dlen, "/tmp/ss-test-fit-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, plen, "%s/camp.h5", dir);
	in = fopen(FIXTURE, "rb");
	out = fopen(path, "wb");
	assert_non_null(in);
	assert_non_null(out);
	while ((k = fread(buf, 1, sizeof buf, in)) > 0)
		assert_int_equal(fwrite(buf, 1, k, out), k);
	fclose(in);
	assert_int_equal(fclose(out), 0);
}

static int run_fit(int argc, const char **argv)
{
	return cmd_fit(argc, (char **)argv);
}

static void test_cmd_fit(void **state)
{
	char dir[64], path[128], stored[160], csv[160], line[512];
	FILE *f;
	int nlines = 0, nstrong = 0;

	(void)state;
	copy_fixture(dir, sizeof dir, path, sizeof path);
	snprintf(stored, sizeof stored, "%s/camp.fit.csv", dir);
	snprintf(csv, sizeof csv, "%s/out.csv", dir);
	{
		const char *argv[] = {"fit", path, "--by", "gamma,alpha", "--csv", csv};

		assert_int_equal(run_fit(6, argv), CLI_EXIT_OK);
	}
	/* the stored copy and --csv hold the same fits */
	f = fopen(stored, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof line, f));
	assert_string_equal(line, "gamma,alpha,x,y,seeds,alpha_x,alpha_x_se,r2,intercept,npoints,"
				  "nrows,nx,x_min,x_max,flags\n");
	while (fgets(line, sizeof line, f) != NULL) {
		double g, a, ax;
		int np;

		nlines++;
		assert_int_equal(sscanf(line,
					"%lf,%lf,m,final_loss,mean,%lf,%*[^,],%*[^,],%*[^,],%d", &g,
					&a, &ax, &np),
				 4);
		assert_int_equal(np, 6);
		if (g < 0) {
			nstrong++;
			assert_true(fabs(ax - 1.0) < 1e-12); /* exact in the fixture */
			assert_non_null(strstr(line, ",ok\n"));
		}
		if (g < 0 && a == 0.5) /* rows 0, 3, 5 are not done */
			assert_non_null(strstr(line, ",9,6,10,100,ok"));
	}
	fclose(f);
	assert_int_equal(nlines, 8);
	/* several flags make one quoted CSV field */
	{
		/* phi_half = m/n rises with m in the weak rows: non_monotone */
		const char *argv[] = {"fit",   path,	   "--by",	   "gamma,alpha",
				      "--y",   "phi_half", "--min-points", "7",
				      "--csv", csv,	   "--no-store"};
		int quoted = 0;

		assert_int_equal(run_fit(11, argv), CLI_EXIT_OK);
		f = fopen(csv, "r");
		assert_non_null(f);
		while (fgets(line, sizeof line, f) != NULL)
			quoted += strstr(line, ",\"few_points,non_monotone\"\n") != NULL;
		fclose(f);
		assert_int_equal(quoted, 4); /* the four weak groups */
	}
	assert_int_equal(nstrong, 4);
	f = fopen(csv, "r");
	assert_non_null(f);
	fclose(f);

	/* pooled, min-x, enum grouping column, no store */
	unlink(stored);
	{
		const char *argv[] = {"fit",	 path, "--by",	"dist,gamma", "--seeds",   "pool",
				      "--min-x", "32", "--csv", csv,	      "--no-store"};

		assert_int_equal(run_fit(11, argv), CLI_EXIT_OK);
	}
	assert_int_equal(access(stored, F_OK), -1);
	f = fopen(csv, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof line, f));
	assert_non_null(fgets(line, sizeof line, f));
	{
		double ax;

		assert_int_equal(sscanf(line, "power,-1,m,final_loss,pool,%lf,", &ax), 1);
		assert_true(fabs(ax - 1.0) < 1e-12);
	}
	assert_non_null(strstr(line, ",24,24,3,39,100,ok")); /* 4 alphas x 3 widths x 2 seeds */
	fclose(f);

	/* usage errors and runtime failures */
	{
		const char *a1[] = {"fit", path, "--seeds", "median"};
		const char *a2[] = {"fit", path, "--by", "gamma,nope"};
		const char *a3[] = {"fit", "/nonexistent/x.h5"};
		const char *a4[] = {"fit", path, "--min-points", "1"};
		const char *a5[] = {"fit", path, "--min-x"};
		const char *a6[] = {"fit"};
		const char *a7[] = {"fit", "--help"};
		const char *a8[] = {"fit", path, "--y", "host"};

		assert_int_equal(run_fit(4, a1), CLI_EXIT_USAGE);
		assert_int_equal(run_fit(4, a2), CLI_EXIT_USAGE);
		assert_int_equal(run_fit(2, a3), CLI_EXIT_FAILURE);
		assert_int_equal(run_fit(4, a4), CLI_EXIT_USAGE);
		assert_int_equal(run_fit(3, a5), CLI_EXIT_USAGE);
		assert_int_equal(run_fit(1, a6), CLI_EXIT_USAGE);
		assert_int_equal(run_fit(2, a7), CLI_EXIT_OK);
		assert_int_equal(run_fit(4, a8), CLI_EXIT_USAGE);
	}
	unlink(csv);
	unlink(stored);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_and_columns),
		cmocka_unit_test(test_bad_columns),
		cmocka_unit_test(test_open_failures),
		cmocka_unit_test(test_cmd_fit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
