/* test_lock.c - the campaign lock file: one holder, stale locks of dead
 * processes and of earlier Slurm attempts are taken over, live and foreign
 * holders are refused, allocation failures are clean. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "alloc_fail.h"
#include "supersweep/err.h"
#include "supersweep/lock.h"

static char dir[64], campaign[128], lockpath[160];

static void write_lock(const char *line)
{
	FILE *f = fopen(lockpath, "w");
	assert_non_null(f);
	fputs(line, f);
	fclose(f);
}

static void test_one_holder(void **state)
{
	struct lock *a = NULL, *b = NULL;
	char err[LOCK_ERR_LEN];
	(void)state;

	unsetenv("SLURM_JOB_ID");
	assert_int_equal(lock_acquire(campaign, &a, err), 0);
	assert_int_equal(access(lockpath, F_OK), 0);
	/* this process is alive: a second acquire is refused and names it */
	assert_int_equal(lock_acquire(campaign, &b, err), ERR_LOCKED);
	assert_null(b);
	char pid[32];
	snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
	assert_non_null(strstr(err, pid));
	lock_release(&a);
	assert_null(a);
	assert_int_equal(access(lockpath, F_OK), -1);
	lock_release(&a); /* NULL-safe */
	assert_int_equal(lock_acquire(campaign, &b, err), 0);
	lock_release(&b);
}

static void test_stale_and_foreign(void **state)
{
	struct lock *a = NULL;
	char err[LOCK_ERR_LEN], host[256] = "", line[512];
	pid_t dead;
	(void)state;

	unsetenv("SLURM_JOB_ID");
	gethostname(host, sizeof host - 1);
	dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	snprintf(line, sizeof line, "%s %ld 1\n", host, (long)dead);
	write_lock(line);
	assert_int_equal(lock_acquire(campaign, &a, err), 0); /* stale: taken over */
	lock_release(&a);

	write_lock("another-host.example 4242 1 -\n");
	assert_int_equal(lock_acquire(campaign, &a, err), ERR_LOCKED);
	assert_non_null(strstr(err, "another-host.example"));
	assert_non_null(strstr(err, "remove the lock file"));

	write_lock("garbage\n");
	assert_int_equal(lock_acquire(campaign, &a, err), ERR_LOCKED);
	assert_non_null(strstr(err, "unreadable"));
	unlink(lockpath);
}

static void test_slurm_requeue(void **state)
{
	struct lock *a = NULL;
	char err[LOCK_ERR_LEN];
	(void)state;

	write_lock("another-host 4242 1 77.0\n");
	setenv("SLURM_JOB_ID", "77", 1);
	setenv("SLURM_RESTART_COUNT", "0", 1);
	assert_int_equal(lock_acquire(campaign, &a, err), ERR_LOCKED); /* same attempt */
	setenv("SLURM_RESTART_COUNT", "1", 1);
	assert_int_equal(lock_acquire(campaign, &a, err), 0); /* earlier attempt */
	FILE *f = fopen(lockpath, "r");
	char line[512] = "";
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof line, f));
	fclose(f);
	assert_non_null(strstr(line, " 77.1"));
	lock_release(&a);

	write_lock("another-host 4242 1 770.0\n"); /* another job with a longer id */
	assert_int_equal(lock_acquire(campaign, &a, err), ERR_LOCKED);
	unlink(lockpath);
	unsetenv("SLURM_JOB_ID");
	unsetenv("SLURM_RESTART_COUNT");
}

static void test_alloc_failures(void **state)
{
	struct lock *a = NULL;
	char err[LOCK_ERR_LEN];
	(void)state;

	for (long n = 0; n < 10; n++) {
		alloc_fail_after(n);
		int rc = lock_acquire(campaign, &a, err);
		int hit = alloc_fail_triggered();
		alloc_fail_reset();
		if (!hit) {
			assert_int_equal(rc, 0);
			lock_release(&a);
			break;
		}
		assert_int_equal(rc, ERR_NOMEM);
		assert_null(a);
		assert_int_equal(access(lockpath, F_OK), -1); /* nothing left behind */
	}
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/test_lock.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(campaign, sizeof campaign, "%s/c.h5", dir);
	snprintf(lockpath, sizeof lockpath, "%s.lock", campaign);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_holder),
		cmocka_unit_test(test_stale_and_foreign),
		cmocka_unit_test(test_slurm_requeue),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
