/* lock.c - the campaign's single-writer lock file (lock.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supersweep/err.h"
#include "supersweep/lock.h"

struct lock {
	char *path; /* CAMPAIGN.lock */
};

static void lmsg(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void lmsg(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, LOCK_ERR_LEN, fmt, ap);
	va_end(ap);
}

/* proc_start - start time of PID in clock ticks since boot (field 22 of
 * /proc/PID/stat), or 0 if unknown. */
static unsigned long long proc_start(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command name may contain spaces */
	if (!p)
		return 0;
	/* after ")": state is field 3; starttime is field 22 */
	if (sscanf(p + 1,
		   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
		   "%*d %*d %llu",
		   &start) != 1)
		return 0;
	return start;
}

/* read_holder - parse the lock file: 0, 1 when it vanished, < 0 when
 * unreadable. */
static int read_holder(const char *path, char *host, size_t hlen, long *pid,
		       unsigned long long *start, char *job, size_t jlen)
{
	char line[512];
	FILE *f = fopen(path, "r");
	int ok, n;

	if (!f)
		return errno == ENOENT ? 1 : -1;
	ok = fgets(line, sizeof line, f) != NULL;
	fclose(f);
	if (hlen < 256 || jlen < 64)
		return -2;
	job[0] = '\0';
	if (!ok)
		return -2;
	n = sscanf(line, "%255s %ld %llu %63s", host, pid, start, job);
	if (n < 3)
		return -2; /* unreadable content */
	if (n == 3)
		snprintf(job, jlen, "-");
	return 0;
}

/* slurm_attempt - "JOBID.RESTARTS" of the Slurm job we run in, or "-". */
static void slurm_attempt(char *buf, size_t len)
{
	const char *id = getenv("SLURM_JOB_ID"), *rs = getenv("SLURM_RESTART_COUNT");

	if (!id || !*id)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.30s.%.20s", id, rs && *rs ? rs : "0");
}

/* same_job_earlier - whether the holder's Slurm attempt THEM is an earlier
 * attempt (smaller restart count) of the job of attempt ME: Slurm starts a
 * requeued job only after the previous attempt has ended, so that holder is
 * gone whatever its host. */
static int same_job_earlier(const char *them, const char *me)
{
	const char *dt = strrchr(them, '.'), *dm = strrchr(me, '.');

	if (!dt || !dm || dt - them != dm - me || strncmp(them, me, (size_t)(dt - them)) != 0)
		return 0;
	return strtol(dt + 1, NULL, 10) < strtol(dm + 1, NULL, 10);
}

int lock_acquire(const char *campaign, struct lock **out, char *err)
{
	char me[256] = "", host[256] = "", tmp[4096], line[512], job[64], myjob[64];
	struct lock *lk = NULL;
	long pid;
	unsigned long long start;
	int fd = -1, rc = 0, attempts;
	size_t plen = strlen(campaign) + 6;

	*out = NULL;
	gethostname(me, sizeof me - 1);
	lk = calloc(1, sizeof *lk);
	if (lk)
		lk->path = malloc(plen);
	if (!lk || !lk->path) {
		rc = ERR_NOMEM;
		lmsg(err, "%s: out of memory", campaign);
		goto out;
	}
	snprintf(lk->path, plen, "%s.lock", campaign);
	snprintf(tmp, sizeof tmp, "%s.%s.%ld", lk->path, me, (long)getpid());
	slurm_attempt(myjob, sizeof myjob);
	snprintf(line, sizeof line, "%s %ld %llu %s\n", me, (long)getpid(), proc_start(getpid()),
		 myjob);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line) || fsync(fd) != 0) {
		lmsg(err, "%s: cannot write the lock file: %s", tmp, strerror(errno));
		rc = ERR_IO;
		goto out;
	}
	for (attempts = 0; attempts < 3; attempts++) {
		if (link(tmp, lk->path) == 0)
			goto out; /* ours */
		if (errno != EEXIST) {
			lmsg(err, "%s: cannot create the lock file: %s", lk->path, strerror(errno));
			rc = ERR_IO;
			goto out;
		}
		int r = read_holder(lk->path, host, sizeof host, &pid, &start, job, sizeof job);
		if (r == 1)
			continue; /* released meanwhile */
		if (r < 0) {
			snprintf(err, LOCK_ERR_LEN,
				 "%s: the campaign is locked and the lock file is unreadable; "
				 "remove it if no run is using the campaign",
				 lk->path);
			rc = ERR_LOCKED;
			goto out;
		}
		if (same_job_earlier(job, myjob)) {
			fprintf(stderr,
				"supersweep: removing the lock %s of an earlier attempt (%s) of "
				"this "
				"Slurm job\n",
				lk->path, job);
			unlink(lk->path);
			continue;
		}
		if (strcmp(host, me) != 0) {
			snprintf(err, LOCK_ERR_LEN,
				 "%s: the campaign is being written by pid %ld on host %s; if that "
				 "run is gone (crashed node), remove the lock file and run again",
				 lk->path, pid, host);
			rc = ERR_LOCKED;
			goto out;
		}
		if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM) &&
		    (start == 0 || proc_start(pid) == start || proc_start(pid) == 0)) {
			snprintf(err, LOCK_ERR_LEN,
				 "%s: the campaign is being written by another run (pid %ld on "
				 "this host %s)",
				 lk->path, pid, host);
			rc = ERR_LOCKED;
			goto out;
		}
		fprintf(stderr, "supersweep: removing stale lock %s (pid %ld on %s is gone)\n",
			lk->path, pid, host);
		unlink(lk->path);
	}
	lmsg(err, "%s: cannot take the lock (contended)", lk->path);
	rc = ERR_LOCKED;
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	if (rc) {
		if (lk)
			free(lk->path);
		free(lk);
		return rc;
	}
	*out = lk;
	return 0;
}

void lock_release(struct lock **lock)
{
	if (!lock || !*lock)
		return;
	unlink((*lock)->path);
	free((*lock)->path);
	free(*lock);
	*lock = NULL;
}
