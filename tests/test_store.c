/* test_store.c - the campaign file: create, reopen, payload, commit, checksum,
 * refusal of files that are not campaigns, allocation failures.
 *
 * A single-process MPI program (MPI_COMM_WORLD of size 1); the multi-rank
 * behaviour is tested by tests/mpi/ with real mpirun ranks.  Job points are
 * built by hand, so this test does not depend on the spec parser.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <hdf5.h>
#include <mpi.h>

#include "alloc_fail.h"
#include "supersweep/err.h"
#include "supersweep/store.h"

#define NJOBS 5

static char dir[64];

static void make_spec(struct spec *s, struct job_point *jobs, size_t n)
{
	static char text[] = "name: t\nseed: 7\ngrid: {m: [2, 3, 4, 5, 6]}\n";

	memset(s, 0, sizeof *s);
	s->path = "t.yaml";
	s->text = text;
	s->text_len = strlen(text);
	s->text_hash = 0x1234;
	s->name = "t";
	s->seed = 7;
	s->njobs = n;
	s->jobs = jobs;
	for (size_t i = 0; i < n; i++) {
		struct job_point *j = &jobs[i];
		memset(j, 0, sizeof *j);
		j->n = 8;
		j->m = (int64_t)(n - i) + 1;
		j->dist = (enum spec_dist)(i % 3);
		j->alpha = 0.5 * (double)i;
		j->E = 1.0;
		j->gamma = -1.0 + 0.25 * (double)i;
		j->seed = (int64_t)i;
		j->batch = 4;
		j->steps = 10 + (int64_t)i;
		j->lr_w = j->lr_b = 1e-2;
		j->log_every = 2;
		j->save_weights = (i % 2) == 0;
		j->threads = 1;
		j->key = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
	}
}

static void fake_result(const struct job_point *j, struct train_result *r, float base)
{
	memset(r, 0, sizeof *r);
	r->metrics.final_loss = 0.5 + base;
	r->metrics.eval_loss = 0.25 + base;
	r->metrics.phi_half = 0.125;
	r->metrics.steps_done = (double)j->steps;
	r->metrics.wall_s = 0.01;
	r->ncurve = spec_curve_len(j);
	r->curve = malloc((size_t)r->ncurve * sizeof *r->curve);
	for (int64_t k = 0; k < r->ncurve; k++)
		r->curve[k] = base + (float)k;
	if (j->save_weights) {
		r->W = malloc((size_t)(j->n * j->m) * sizeof *r->W);
		r->b = malloc((size_t)j->n * sizeof *r->b);
		for (int64_t k = 0; k < j->n * j->m; k++)
			r->W[k] = base * (float)k;
		for (int64_t k = 0; k < j->n; k++)
			r->b[k] = -base * (float)k;
	}
}

static void free_result(struct train_result *r)
{
	free(r->curve);
	free(r->W);
	free(r->b);
	memset(r, 0, sizeof *r);
}

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void test_create_write_commit_reopen(void **state)
{
	struct job_point jobs[NJOBS], back[NJOBS];
	struct spec s;
	struct store *st = NULL;
	char path[128], err[STORE_ERR_LEN] = "";
	uint64_t sum = 0, sum2 = 0, keys[NJOBS], sums[NJOBS];
	struct train_result r;
	(void)state;

	make_spec(&s, jobs, NJOBS);
	path_of(path, sizeof path, "a.h5");
	assert_int_equal(store_create(path, &s, MPI_COMM_WORLD, &st, err), 0);
	assert_non_null(st);
	assert_int_equal(store_njobs(st), NJOBS);
	assert_int_equal(store_curve_len(st), spec_curve_len(&jobs[NJOBS - 1]));
	assert_int_equal(store_count(st).pending, NJOBS);

	/* row 0 and row 1: payload then commit; row 2: payload only (a crash) */
	for (size_t i = 0; i < 3; i++) {
		fake_result(&jobs[i], &r, (float)i);
		assert_int_equal(store_write_payload(st, i, &jobs[i], &r, &sum), 0);
		free_result(&r);
		if (i < 2) {
			struct store_commit c = {STORE_DONE, sum, 1, 0, "hostA", ""};
			assert_int_equal(store_commit(st, i, &c), 0);
		}
	}
	{
		struct store_commit c = {STORE_FAILED, 0, 2, 0, "hostB", "diverged at step 3"};
		assert_int_equal(store_commit(st, 3, &c), 0);
	}
	assert_int_equal(store_count(st).done, 2);
	assert_int_equal(store_close(&st), 0);
	assert_null(st);

	/* serial read-only open sees the commits, parameters and checksums */
	assert_int_equal(store_open_read(path, &st, err), 0);
	const int8_t *status = store_status(st);
	assert_int_equal(status[0], STORE_DONE);
	assert_int_equal(status[1], STORE_DONE);
	assert_int_equal(status[2], STORE_PENDING);
	assert_int_equal(status[3], STORE_FAILED);
	assert_int_equal(status[4], STORE_PENDING);
	size_t len = 0;
	assert_string_equal(store_spec_text(st, &len), s.text);
	assert_int_equal(len, s.text_len);
	assert_string_equal(store_attr_string(st, "format"), STORE_FORMAT_NAME);
	assert_non_null(store_attr_string(st, "hdf5_version"));
	struct store_run run;
	assert_int_equal(store_read_run(st, &run), 0);
	assert_int_equal(run.runs, 1);
	assert_int_equal(run.ranks, 1);
	assert_true(run.ended[0] != '\0' && !isnan(run.ended_unix) &&
		    run.ended_unix >= run.started_unix);
	assert_int_equal(store_read_jobs(st, back), 0);
	for (size_t i = 0; i < NJOBS; i++) {
		for (size_t p = 0; p < spec_nparams; p++) {
			const struct spec_param *sp = &spec_params[p];
			size_t w = sp->type == SPEC_BOOL   ? sizeof(bool)
				   : sp->type == SPEC_DIST ? sizeof(enum spec_dist)
							   : 8;
			assert_memory_equal((char *)&back[i] + sp->offset,
					    (char *)&jobs[i] + sp->offset, w);
		}
		assert_true(back[i].key == jobs[i].key);
	}
	assert_int_equal(store_read_keys(st, keys), 0);
	assert_true(keys[4] == jobs[4].key);
	assert_int_equal(store_read_checksums(st, sums), 0);
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(store_row_checksum(st, i, &jobs[i], &sum2), 0);
		assert_true(sum2 == sums[i]);
	}
	char errors[NJOBS * STORE_ERROR_LEN];
	assert_int_equal(store_read_strings(st, "error", errors), 0);
	assert_string_equal(errors + 3 * STORE_ERROR_LEN, "diverged at step 3");
	double *m = calloc(NJOBS * train_nmetrics, sizeof *m);
	assert_int_equal(store_read_metrics(st, m), 0);
	assert_true(m[1 * train_nmetrics + 0] == 1.5); /* final_loss of row 1 */
	assert_true(isnan(m[4 * train_nmetrics + 0]));
	free(m);
	assert_int_equal(store_close(&st), 0);

	/* collective reopen counts the run and keeps the commits */
	assert_int_equal(store_open(path, MPI_COMM_WORLD, &st, err), 0);
	assert_int_equal(store_count(st).done, 2);
	assert_int_equal(store_count(st).failed, 1);
	assert_int_equal(store_close(&st), 0);
	assert_int_equal(store_open_read(path, &st, err), 0);
	assert_int_equal(store_read_run(st, &run), 0);
	assert_int_equal(run.runs, 2);
	assert_int_equal(run.done_at_start, 2);
	assert_int_equal(run.failed_at_start, 1);
	assert_int_equal(store_close(&st), 0);
}

/* a flipped payload byte is found by the checksum */
static void test_checksum_detects_damage(void **state)
{
	struct job_point jobs[NJOBS];
	struct spec s;
	struct store *st = NULL;
	struct train_result r;
	char path[128], err[STORE_ERR_LEN];
	uint64_t sum = 0, again = 0;
	(void)state;

	make_spec(&s, jobs, NJOBS);
	path_of(path, sizeof path, "d.h5");
	assert_int_equal(store_create(path, &s, MPI_COMM_WORLD, &st, err), 0);
	fake_result(&jobs[0], &r, 3.0f);
	assert_int_equal(store_write_payload(st, 0, &jobs[0], &r, &sum), 0);
	free_result(&r);
	assert_int_equal(store_close(&st), 0);

	/* damage one element of W of row 0 with plain HDF5 */
	hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
	hid_t d = H5Dopen2(f, "/weights/W", H5P_DEFAULT);
	hid_t fs = H5Dget_space(d);
	hsize_t off = 5, one = 1;
	hid_t ms = H5Screate_simple(1, &one, NULL);
	float v = 1234.5f;
	H5Sselect_hyperslab(fs, H5S_SELECT_SET, &off, NULL, &one, NULL);
	assert_true(H5Dwrite(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, &v) >= 0);
	H5Sclose(ms);
	H5Sclose(fs);
	H5Dclose(d);
	H5Fclose(f);

	assert_int_equal(store_open_read(path, &st, err), 0);
	assert_int_equal(store_row_checksum(st, 0, &jobs[0], &again), 0);
	assert_true(again != sum);
	assert_int_equal(store_close(&st), 0);
}

static void slurp(const char *path, char **buf, long *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*len = ftell(f);
	fseek(f, 0, SEEK_SET);
	*buf = malloc((size_t)*len + 1);
	assert_int_equal(fread(*buf, 1, (size_t)*len, f), (size_t)*len);
	fclose(f);
}

/* refused_untouched - store_open_read refuses PATH as ERR_CORRUPT with a
 * message containing NEEDLE, and leaves the file byte-identical. */
static void refused_untouched(const char *path, const char *needle)
{
	struct store *st = NULL;
	char err[STORE_ERR_LEN], *before, *after;
	long n1, n2;

	slurp(path, &before, &n1);
	assert_int_equal(store_open_read(path, &st, err), ERR_CORRUPT);
	assert_null(st);
	assert_non_null(strstr(err, needle));
	slurp(path, &after, &n2);
	assert_int_equal(n1, n2);
	assert_memory_equal(before, after, (size_t)n1);
	free(before);
	free(after);
}

/* not HDF5, HDF5 but not a campaign, truncated, without /run: clear error,
 * file untouched */
static void test_refuses_non_campaigns(void **state)
{
	struct job_point jobs[NJOBS];
	struct spec s;
	struct store *st = NULL;
	char path[128], err[STORE_ERR_LEN];
	(void)state;

	path_of(path, sizeof path, "text.h5");
	FILE *f = fopen(path, "w");
	fputs("hello, not a campaign\n", f);
	fclose(f);
	refused_untouched(path, "not an HDF5 file");

	path_of(path, sizeof path, "plain.h5");
	hid_t h = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
	assert_true(h >= 0);
	H5Fclose(h);
	refused_untouched(path, "not a supersweep campaign");

	path_of(path, sizeof path, "missing.h5");
	assert_int_equal(store_open_read(path, &st, err), ERR_IO);

	/* a real campaign cut in half */
	make_spec(&s, jobs, NJOBS);
	path_of(path, sizeof path, "trunc.h5");
	assert_int_equal(store_create(path, &s, MPI_COMM_WORLD, &st, err), 0);
	assert_int_equal(store_close(&st), 0);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(truncate(path, sb.st_size / 2), 0);
	refused_untouched(path, "truncated");

	/* format version 1 includes /run: a file without it is refused */
	path_of(path, sizeof path, "norun.h5");
	assert_int_equal(store_create(path, &s, MPI_COMM_WORLD, &st, err), 0);
	assert_int_equal(store_close(&st), 0);
	hid_t rw = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
	assert_true(rw >= 0);
	assert_true(H5Ldelete(rw, "/run", H5P_DEFAULT) >= 0);
	H5Fclose(rw);
	refused_untouched(path, "dataset /run is missing");
}

/* every allocation of store_open_read may fail: clean error, no leak */
static void test_alloc_failures(void **state)
{
	struct job_point jobs[NJOBS];
	struct spec s;
	struct store *st = NULL;
	char path[128], err[STORE_ERR_LEN];
	(void)state;

	make_spec(&s, jobs, NJOBS);
	path_of(path, sizeof path, "alloc.h5");
	assert_int_equal(store_create(path, &s, MPI_COMM_WORLD, &st, err), 0);
	assert_int_equal(store_close(&st), 0);
	for (long n = 0; n < 50; n++) {
		alloc_fail_after(n);
		int rc = store_open_read(path, &st, err);
		int hit = alloc_fail_triggered();
		alloc_fail_reset();
		if (!hit) {
			assert_int_equal(rc, 0);
			assert_int_equal(store_close(&st), 0);
			break;
		}
		assert_true(rc < 0);
		assert_null(st);
	}
}

/* Under LeakSanitizer: Open MPI (MPI_Init in this process) leaks about
 * 120 KB by design; suppress its libraries, not ours (ENV.md). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libmpi.so\nleak:libopen-pal.so\nleak:libopen-rte.so\nleak:libhwloc.so\n"
	       "leak:libpmix.so\nleak:libevent\nleak:mca_\nleak:libhdf5_openmpi.so\n"
	       "leak:<unknown module>\n";
}

/* LeakSanitizer's scan of dynamic TLS crashes on the TLS blocks of the
 * libraries Open MPI loads as plugins ("Tracer caught signal 11", every time
 * on some machines: google/sanitizers#1353); nothing of ours lives in TLS,
 * so the scan leaves TLS out (a planted heap leak is still reported). */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
	return "use_tls=0";
}

const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/test_store.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_write_commit_reopen),
		cmocka_unit_test(test_checksum_detects_damage),
		cmocka_unit_test(test_refuses_non_campaigns),
		cmocka_unit_test(test_alloc_failures),
	};
	int rc;

	setenv("HDF5_USE_FILE_LOCKING", "FALSE", 1);
	MPI_Init(&argc, &argv);
	rc = cmocka_run_group_tests(tests, setup, teardown);
	MPI_Finalize();
	return rc;
}
