/* test_submit.c - `supersweep submit --dry-run` in-process: every allocation
 * failure is reported and cleaned up, and the script names what it was given.
 *
 * The quoting with hostile names and the real sbatch are tested by
 * tests/slurm/submit_dry_run.sh and tests/slurm/submit_demo.sh; this test
 * covers the error paths, which only an injected failure reaches.  stdout
 * (the script) is sent to a temporary file while cmd_submit runs.
 */
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
#include "supersweep/cli.h"

static const char spec_text[] = "name: unit\n"
				"seed: 1\n"
				"model: {n: 20, alpha: 1, E: 1, dist: power}\n"
				"train: {batch: 8, steps: 10, lr: 1e-2, log_every: 5, threads: 2}\n"
				"grid: {m: [2, 3], gamma: [-1, 0.5]}\n";

struct fixture {
	char dir[64];
	char spec[128];
	char out[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	FILE *fp;

	if (!f)
		return -1;
	snprintf(f->dir, sizeof f->dir, "/tmp/ss-test-submit.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->spec, sizeof f->spec, "%s/spec.yaml", f->dir);
	snprintf(f->out, sizeof f->out, "%s/out.txt", f->dir);
	fp = fopen(f->spec, "w");
	if (!fp)
		return -1;
	fputs(spec_text, fp);
	fclose(fp);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[160];

	snprintf(path, sizeof path, "%s/spec.yaml", f->dir);
	unlink(path);
	unlink(f->out);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* submit_to_file - cmd_submit with ARGV, its stdout in F->out. */
static int submit_to_file(struct fixture *f, int argc, char **argv)
{
	int saved, fd, rc;
	FILE *fp;

	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	fp = fopen(f->out, "w");
	assert_non_null(fp);
	fd = fileno(fp);
	dup2(fd, STDOUT_FILENO);
	rc = cmd_submit(argc, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	fclose(fp);
	return rc;
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	size_t n;

	assert_non_null(fp);
	buf = calloc(1, 1 << 16);
	assert_non_null(buf);
	n = fread(buf, 1, (1 << 16) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void test_dry_run_script(void **state)
{
	struct fixture *f = *state;
	char campaign[160];
	char *argv[] = {"submit",    f->spec,	 "-o",
			campaign,    "--time",	 "2:00:00",
			"--nodes",   "2",	 "--ntasks-per-node",
			"3",	     "--module", "it's",
			"--dry-run", NULL};
	char *text;

	snprintf(campaign, sizeof campaign, "%s/c $x.h5", f->dir);
	assert_int_equal(submit_to_file(f, 13, argv), CLI_EXIT_OK);
	text = slurp(f->out);
	assert_non_null(strstr(text, "#!/bin/bash\n"));
	assert_non_null(strstr(text, "#SBATCH --job-name=\"unit\"\n"));
	assert_non_null(strstr(text, "#SBATCH --nodes=2\n"));
	assert_non_null(strstr(text, "#SBATCH --ntasks-per-node=3\n"));
	assert_non_null(strstr(text, "#SBATCH --cpus-per-task=2\n")); /* the spec's threads */
	assert_non_null(strstr(text, "#SBATCH --signal=B:USR1@120\n"));
	assert_non_null(strstr(text, "SS_MODULES=('it'\\''s')\n"));
	assert_non_null(strstr(text, "/c $x.h5'\n"));
	assert_non_null(strstr(text, "# ---- body"));
	assert_non_null(strstr(text, "scontrol requeue \"$SLURM_JOB_ID\""));
	assert_non_null(strstr(text, "# and run: sbatch "));
	free(text);
	/* nothing written beside the campaign */
	snprintf(campaign, sizeof campaign, "%s/c $x.sbatch", f->dir);
	assert_int_not_equal(access(campaign, F_OK), 0);
}

static void test_alloc_failures(void **state)
{
	struct fixture *f = *state;
	char campaign[160];
	char *argv[] = {"submit", f->spec,	    "-o",	 campaign,   "--time",
			"30",	  "--nodes",	    "1",	 "--module", "a",
			"--run",  "--retry-failed", "--dry-run", NULL};
	int failures = 0;

	snprintf(campaign, sizeof campaign, "%s/c.h5", f->dir);
	for (long n = 0; n < 10000; n++) {
		int rc;

		alloc_fail_after(n);
		rc = submit_to_file(f, 13, argv);
		if (!alloc_fail_triggered()) {
			alloc_fail_reset();
			assert_int_equal(rc, CLI_EXIT_OK);
			break;
		}
		alloc_fail_reset();
		/* out of memory is a runtime failure; the spec loader may
		 * report it as an unreadable spec (usage) */
		assert_true(rc == CLI_EXIT_FAILURE || rc == CLI_EXIT_USAGE);
		failures++;
	}
	assert_true(failures > 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dry_run_script, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
