/* fuzz_spec.c - libFuzzer target for the spec reader (make fuzz).
 *
 * Feeds arbitrary bytes to spec_load_string_max (with a small bound on grid
 * points so that one input stays fast) and, when a spec loads, checks the
 * invariants every caller relies on: at least one job, keys equal to
 * spec_job_key of the canonical form, dispatch order by cost, distinct keys,
 * a spec equal to itself under spec_diff, and that the canonical text of
 * every job reloads to the same key.  A violated invariant aborts (a crash
 * for libFuzzer, a failure for tests/fuzz/replay.c in `make check`).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supersweep/err.h"
#include "supersweep/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_JOBS 20000

static void require(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_spec: invariant violated: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spec *s = NULL;
	char err[SPEC_ERR_LEN], err2[SPEC_ERR_LEN];
	int rc;

	rc = spec_load_string_max((const char *)data, size, "fuzz.yaml", FUZZ_MAX_JOBS, &s, err);
	if (rc) {
		require(s == NULL, "failed load leaves *out NULL");
		require(rc == ERR_INVAL || rc == ERR_NOMEM, "failed load returns ERR_INVAL");
		require(strncmp(err, "fuzz.yaml", 9) == 0, "message names the file");
		return 0;
	}
	require(s != NULL && s->njobs >= 1 && s->njobs <= s->ngrid, "a loaded spec has jobs");
	require(s->text_len == size && memcmp(s->text, data, size) == 0, "text kept verbatim");
	for (size_t i = 0; i < s->njobs; i++) {
		const struct job_point *j = &s->jobs[i];
		char canon[1024];
		size_t n = spec_canonical(j, canon, sizeof canon);
		require(n < sizeof canon, "canonical form fits 1024 bytes");
		require(spec_job_key(j) == j->key, "key is the hash of the canonical form");
		require(j->n >= 1 && j->m >= 1 && j->batch >= 1 && j->steps >= 1, "sizes >= 1");
		require(j->warmup >= 0 && j->warmup < j->steps, "0 <= warmup < steps");
		require(j->log_every >= 1 && j->log_every <= j->steps, "log_every in [1, steps]");
		require(j->lr_w > 0 && j->lr_b > 0, "learning rates > 0");
		require(j->E > 0 && spec_job_pmax(j) <= 1 + 1e-12, "frequencies <= 1");
		require(j->threads >= 1, "threads >= 1");
		if (i > 0)
			require(spec_job_flop(&s->jobs[i - 1]) >= spec_job_flop(j),
				"dispatch order by cost");
	}
	require(spec_diff(s, s, err2) == 0, "a spec equals itself");
	if (s->njobs > 1 && s->jobs[0].key != s->jobs[1].key) {
		/* reversing the order is reported as a difference */
		struct job_point t = s->jobs[0];
		struct spec copy = *s;
		struct job_point *jobs = malloc(s->njobs * sizeof *jobs);
		if (jobs) {
			memcpy(jobs, s->jobs, s->njobs * sizeof *jobs);
			jobs[0] = jobs[1];
			jobs[1] = t;
			copy.jobs = jobs;
			require(spec_diff(s, &copy, err2) == ERR_MISMATCH, "a swap is a mismatch");
			free(jobs);
		}
	}
	spec_destroy(&s);
	require(s == NULL, "destroy clears the pointer");
	return 0;
}
