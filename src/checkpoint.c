/* checkpoint.c - atomic save and checked load of a job's training state.
 *
 * Not on the hot path: written once when a job stops on request, read once
 * when it starts.  See checkpoint.h for the layout.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "supersweep/checkpoint.h"
#include "supersweep/err.h"

static const char magic[8] = {'S', 'S', 'W', 'C', 'K', 'P', 'T', '1'};

#define NHEADER 9 /* u64 words: magic, version, key, seed, n, m, steps, step, threads */

static int write_all(int fd, const void *buf, size_t len, XXH64_state_t *h)
{
	const char *p = buf;

	if (h)
		XXH64_update(h, buf, len);
	while (len > 0) {
		ssize_t k = write(fd, p, len);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len, XXH64_state_t *h)
{
	char *p = buf;
	size_t left = len;

	while (left > 0) {
		ssize_t k = read(fd, p, left);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (k == 0) {
			errno = EIO;
			return -1;
		}
		p += k;
		left -= (size_t)k;
	}
	if (h)
		XXH64_update(h, buf, len);
	return 0;
}

static void header_words(const struct checkpoint_state *st, uint64_t w[NHEADER])
{
	memcpy(&w[0], magic, 8);
	w[1] = CHECKPOINT_VERSION;
	w[2] = st->key;
	w[3] = st->seed;
	w[4] = (uint64_t)st->n;
	w[5] = (uint64_t)st->m;
	w[6] = (uint64_t)st->steps;
	w[7] = (uint64_t)st->step;
	w[8] = (uint64_t)st->threads;
}

/* fsync the directory holding PATH so that the rename is durable. */
static int sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd, rc;

	if (!slash)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return ERR_NOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	free(dir);
	if (fd < 0)
		return ERR_IO;
	rc = fsync(fd) == 0 || errno == EINVAL ? 0 : ERR_IO;
	close(fd);
	return rc;
}

int checkpoint_save(const char *path, const struct checkpoint_state *st, char *err, size_t msglen)
{
	const size_t nm = (size_t)(st->n * st->m), n = (size_t)st->n;
	uint64_t hdr[NHEADER], sum;
	XXH64_state_t h;
	char *tmp = NULL;
	int fd = -1, rc = ERR_IO;

	tmp = malloc(strlen(path) + 5);
	if (!tmp) {
		snprintf(err, msglen, "out of memory writing checkpoint %s", path);
		return ERR_NOMEM;
	}
	sprintf(tmp, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto io_fail;
	XXH64_reset(&h, 0);
	header_words(st, hdr);
	if (write_all(fd, hdr, sizeof hdr, &h) || write_all(fd, st->W, nm * 4, &h) ||
	    write_all(fd, st->b, n * 4, &h) || write_all(fd, st->mW, nm * 4, &h) ||
	    write_all(fd, st->vW, nm * 4, &h) || write_all(fd, st->mb, n * 4, &h) ||
	    write_all(fd, st->vb, n * 4, &h) ||
	    write_all(fd, st->losses, (size_t)st->step * sizeof(double), &h))
		goto io_fail;
	sum = XXH64_digest(&h);
	if (write_all(fd, &sum, sizeof sum, NULL) || fsync(fd) != 0)
		goto io_fail;
	if (close(fd) != 0) {
		fd = -1;
		goto io_fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto io_fail;
	rc = sync_dir(path);
	if (rc != 0) {
		snprintf(err, msglen, "cannot sync the directory of checkpoint %s", path);
		goto out;
	}
	rc = 0;
	goto out;
io_fail:
	snprintf(err, msglen, "cannot write checkpoint %s: %s", tmp, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	rc = ERR_IO;
out:
	free(tmp);
	return rc;
}

int checkpoint_load(const char *path, struct checkpoint_state *st, char *err, size_t msglen)
{
	const size_t nm = (size_t)(st->n * st->m), n = (size_t)st->n;
	uint64_t hdr[NHEADER], want[NHEADER], sum;
	XXH64_state_t h;
	struct stat sb;
	int fd, rc = ERR_CORRUPT;
	size_t size;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, msglen, "cannot open checkpoint %s: %s", path, strerror(errno));
		return ERR_IO;
	}
	if (fstat(fd, &sb) != 0) {
		snprintf(err, msglen, "cannot stat checkpoint %s: %s", path, strerror(errno));
		rc = ERR_IO;
		goto out;
	}
	XXH64_reset(&h, 0);
	if ((size_t)sb.st_size < sizeof hdr || read_all(fd, hdr, sizeof hdr, &h)) {
		snprintf(err, msglen, "checkpoint %s is truncated (%lld bytes)", path,
			 (long long)sb.st_size);
		goto out;
	}
	header_words(st, want);
	if (memcmp(&hdr[0], &want[0], 8) != 0) {
		snprintf(err, msglen, "%s is not a supersweep checkpoint (bad magic)", path);
		goto out;
	}
	if (hdr[1] != want[1]) {
		snprintf(err, msglen, "checkpoint %s has version %llu, expected %llu", path,
			 (unsigned long long)hdr[1], (unsigned long long)want[1]);
		goto out;
	}
	if (hdr[2] != want[2] || hdr[3] != want[3] || hdr[4] != want[4] || hdr[5] != want[5] ||
	    hdr[6] != want[6]) {
		snprintf(err, msglen,
			 "checkpoint %s belongs to another job (key %016llx seed %llu n %llu m "
			 "%llu steps %llu)",
			 path, (unsigned long long)hdr[2], (unsigned long long)hdr[3],
			 (unsigned long long)hdr[4], (unsigned long long)hdr[5],
			 (unsigned long long)hdr[6]);
		goto out;
	}
	if (hdr[7] > (uint64_t)st->steps) {
		snprintf(err, msglen, "checkpoint %s: step %llu beyond the job's %lld steps", path,
			 (unsigned long long)hdr[7], (long long)st->steps);
		goto out;
	}
	size = sizeof hdr + 4 * (3 * nm + 3 * n) + 8 * (size_t)hdr[7] + 8;
	if ((size_t)sb.st_size != size) {
		snprintf(err, msglen, "checkpoint %s has %lld bytes, expected %zu", path,
			 (long long)sb.st_size, size);
		goto out;
	}
	if (read_all(fd, st->W, nm * 4, &h) || read_all(fd, st->b, n * 4, &h) ||
	    read_all(fd, st->mW, nm * 4, &h) || read_all(fd, st->vW, nm * 4, &h) ||
	    read_all(fd, st->mb, n * 4, &h) || read_all(fd, st->vb, n * 4, &h) ||
	    read_all(fd, st->losses, 8 * (size_t)hdr[7], &h) ||
	    read_all(fd, &sum, sizeof sum, NULL)) {
		snprintf(err, msglen, "cannot read checkpoint %s: %s", path, strerror(errno));
		rc = ERR_IO;
		goto out;
	}
	if (sum != XXH64_digest(&h)) {
		snprintf(err, msglen, "checkpoint %s fails its checksum", path);
		goto out;
	}
	st->step = (int64_t)hdr[7];
	st->threads = (int64_t)hdr[8];
	rc = 0;
out:
	close(fd);
	return rc;
}

int checkpoint_remove(const char *path)
{
	char *tmp = malloc(strlen(path) + 5);
	int rc = 0;

	if (!tmp)
		return ERR_NOMEM;
	/* PATH.tmp: what checkpoint_save left when killed (-9) mid-write */
	sprintf(tmp, "%s.tmp", path);
	if ((unlink(path) != 0 && errno != ENOENT) || (unlink(tmp) != 0 && errno != ENOENT))
		rc = ERR_IO;
	free(tmp);
	return rc;
}
