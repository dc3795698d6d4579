/* cmd_verify.c - `supersweep verify CAMPAIGN.h5`: recompute the checksum of
 * every committed (done) job from the payload bytes in the file and compare
 * it with /jobs/checksum.  Read-only.  Exit 0 when all match, 1 when any
 * mismatches (each listed), 2 when the file is not a campaign.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supersweep/cli.h"
#include "supersweep/err.h"
#include "supersweep/store.h"

int cmd_verify(int argc, char **argv)
{
	struct store *st = NULL;
	struct job_point *jobs = NULL;
	uint64_t *sums = NULL;
	char err[STORE_ERR_LEN];
	const int8_t *status;
	size_t n, checked = 0, bad = 0;
	int rc, ret = CLI_EXIT_FAILURE;

	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: supersweep verify CAMPAIGN.h5\n\n"
		       "Recompute the payload checksum of every done job and report mismatches.\n");
		return CLI_EXIT_OK;
	}
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: supersweep verify CAMPAIGN.h5\n");
		return CLI_EXIT_USAGE;
	}
	rc = store_open_read(argv[1], &st, err);
	if (rc) {
		fprintf(stderr, "supersweep verify: %s\n", err);
		return rc == ERR_NOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
	}
	n = store_njobs(st);
	status = store_status(st);
	jobs = malloc(n * sizeof *jobs);
	sums = malloc(n * sizeof *sums);
	if (!jobs || !sums || store_read_jobs(st, jobs) || store_read_checksums(st, sums)) {
		fprintf(stderr, "supersweep verify: %s: cannot read the job columns\n", argv[1]);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t got = 0;
		if (status[i] != STORE_DONE)
			continue;
		checked++;
		rc = store_row_checksum(st, i, &jobs[i], &got);
		if (rc) {
			printf("row %zu (key %016llx): cannot read its payload (%s)\n", i,
			       (unsigned long long)jobs[i].key, err_name(rc));
			bad++;
		} else if (got != sums[i]) {
			printf("row %zu (key %016llx): checksum mismatch: stored %016llx, payload "
			       "%016llx\n",
			       i, (unsigned long long)jobs[i].key, (unsigned long long)sums[i],
			       (unsigned long long)got);
			bad++;
		}
	}
	printf("%s: %zu committed jobs checked, %zu mismatch%s\n", argv[1], checked, bad,
	       bad == 1 ? "" : "es");
	ret = bad ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
out:
	free(jobs);
	free(sums);
	store_close(&st);
	return ret;
}
