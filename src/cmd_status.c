/* cmd_status.c - `supersweep status CAMPAIGN.h5`: progress, failures, ETA.
 *
 * Read-only and lock-free (store_open_read), so it works while a campaign
 * runs: it reads the status column and the /run record that `run` writes
 * when it opens the file.  The ETA is cost-weighted: the predicted cost of
 * the pending jobs divided by the rate at which this run has been committing
 * cost (jobs committed since the run started times their mean predicted cost,
 * per second).
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "supersweep/cli.h"
#include "supersweep/err.h"
#include "supersweep/store.h"

#define STATUS_MAX_FAILURES 20

static void fmt_duration(char *buf, size_t len, double s)
{
	if (isnan(s) || s < 0)
		snprintf(buf, len, "unknown");
	else if (s < 120)
		snprintf(buf, len, "%.0f s", s);
	else if (s < 7200)
		snprintf(buf, len, "%.1f min", s / 60);
	else
		snprintf(buf, len, "%.1f h", s / 3600);
}

/* lock_holder - the content of CAMPAIGN.lock ("HOST PID START") or "". */
static void lock_holder(const char *campaign, char *out, size_t len)
{
	char path[4096];
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof path, "%s.lock", campaign);
	f = fopen(path, "r");
	if (!f)
		return;
	if (!fgets(out, (int)len, f))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

int cmd_status(int argc, char **argv)
{
	struct store *st = NULL;
	struct job_point *jobs = NULL;
	char err[STORE_ERR_LEN], *errors = NULL, holder[512], when[32];
	const char *path, *name;
	const int8_t *status;
	struct store_counts c;
	struct store_run run;
	double cost_left = 0, cost_committed = 0;
	int64_t committed;
	size_t n, shown = 0;
	int rc, ret = CLI_EXIT_FAILURE;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: supersweep status CAMPAIGN.h5\n\n"
		       "Progress, failures with their reasons and the ETA of a campaign; "
		       "read-only,\n"
		       "also while the campaign runs.\n");
		return CLI_EXIT_OK;
	}
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: supersweep status CAMPAIGN.h5\n");
		return CLI_EXIT_USAGE;
	}
	path = argv[1];
	rc = store_open_read(path, &st, err);
	if (rc) {
		fprintf(stderr, "supersweep status: %s\n", err);
		return rc == ERR_NOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
	}
	n = store_njobs(st);
	status = store_status(st);
	c = store_count(st);
	jobs = malloc(n * sizeof *jobs);
	errors = malloc(n * STORE_ERROR_LEN);
	if (!jobs || !errors || store_read_jobs(st, jobs) ||
	    store_read_strings(st, "error", errors)) {
		fprintf(stderr, "supersweep status: %s: cannot read the job columns\n", path);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		double f = spec_job_flop(&jobs[i]);
		if (status[i] == STORE_PENDING)
			cost_left += f;
		else
			cost_committed += f;
	}
	name = store_attr_string(st, "name");
	printf("campaign %s (%s): %zu jobs\n", name ? name : "?", path, n);
	printf("  done %lld, failed %lld, pending %lld (%.1f%% committed)\n", (long long)c.done,
	       (long long)c.failed, (long long)c.pending,
	       100.0 * (double)(c.done + c.failed) / (double)n);
	if (store_read_run(st, &run) != 0) {
		fprintf(stderr, "supersweep status: %s: cannot read /run\n", path);
		goto out;
	}
	lock_holder(path, holder, sizeof holder);
	committed = c.done + c.failed - (run.done_at_start + run.failed_at_start);
	if (holder[0] && isnan(run.ended_unix)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		double el = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec - run.started_unix;
		double mean = (c.done + c.failed) > 0 ? cost_committed / (double)(c.done + c.failed)
						      : NAN;
		double rate = el > 0 ? (double)committed * mean / el : NAN; /* FLOP/s */
		fmt_duration(when, sizeof when, el);
		printf("  running: lock held by %s; this run started %s ago (%s) on %lld rank(s) "
		       "and committed %lld jobs (%.0f jobs/h)\n",
		       holder, when, run.started, (long long)run.ranks, (long long)committed,
		       el > 0 ? (double)committed / el * 3600 : 0.0);
		fmt_duration(when, sizeof when,
			     (c.pending == 0) ? 0 : (rate > 0 ? cost_left / rate : NAN));
		printf("  ETA: %s (cost-weighted)\n", when);
	} else if (holder[0]) {
		printf("  a lock file is present (%s) but the last run recorded its end; "
		       "the lock is stale if that process is gone\n",
		       holder);
	} else if (run.runs == 0) {
		printf("  never run\n");
	} else {
		printf("  not running; last run (%lld in all) %s .. %s on %lld rank(s) (%s)\n",
		       (long long)run.runs, run.started,
		       run.ended[0] ? run.ended : "(ended without closing the file)",
		       (long long)run.ranks, run.hosts);
		if (c.pending > 0)
			printf("  %lld jobs left: run the same `supersweep run` command to "
			       "continue\n",
			       (long long)c.pending);
	}
	if (run.runs > 0) { /* which builds wrote the file (see docs/CAMPAIGNS.md, Resume) */
		const char *created = store_attr_string(st, "created_by");
		const size_t cl = created ? strlen(created) : 0;
		/* the run's version: the build, then its kernels (older files: the build) */
		const bool same = !created || (!strncmp(created, run.version, cl) &&
					       (run.version[cl] == '\0' || run.version[cl] == ','));

		if (!same)
			printf("  created by %s, last run by %s\n", created, run.version);
		else
			printf("  created and last run by %s\n", run.version);
	}
	if (c.failed > 0) {
		printf("failures:\n");
		for (size_t i = 0; i < n && shown < STATUS_MAX_FAILURES; i++) {
			if (status[i] != STORE_FAILED)
				continue;
			printf("  row %zu (key %016llx, n=%lld m=%lld gamma=%g alpha=%g "
			       "seed=%lld): %s\n",
			       i, (unsigned long long)jobs[i].key, (long long)jobs[i].n,
			       (long long)jobs[i].m, jobs[i].gamma, jobs[i].alpha,
			       (long long)jobs[i].seed, errors + i * STORE_ERROR_LEN);
			shown++;
		}
		if ((int64_t)shown < c.failed)
			printf("  ... and %lld more (supersweep export lists them all)\n",
			       (long long)(c.failed - (int64_t)shown));
	}
	ret = CLI_EXIT_OK;
out:
	free(jobs);
	free(errors);
	store_close(&st);
	return ret;
}
