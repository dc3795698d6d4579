/* checkpoint.h - the state of an unfinished job in one small file.
 *
 * Layout (little-endian host order, the file is not meant to travel between
 * architectures): a fixed header (magic "SSWCKPT1", version, job key,
 * campaign seed, n, m, steps, step done, threads), then W (n·m f32), b (n),
 * Adam moments mW, vW (n·m), mb, vb (n), the step losses of steps
 * 0..step-1 (f64), and an XXH64 of everything before it.  Written to
 * PATH.tmp, fsync'ed, renamed over PATH, and the directory fsync'ed: a crash
 * leaves either the old file or the new one, never a torn one.
 */
#ifndef SUPERSWEEP_CHECKPOINT_H
#define SUPERSWEEP_CHECKPOINT_H

#include <stdint.h>

#define CHECKPOINT_VERSION 1

/* Identity and state of a job (arrays borrowed). */
struct checkpoint_state {
	uint64_t key;	 /* job key */
	uint64_t seed;	 /* campaign seed */
	int64_t n, m;	 /* sizes */
	int64_t steps;	 /* total steps of the job */
	int64_t step;	 /* steps done: the next step index to run */
	int64_t threads; /* thread count that produced the state (informational) */
	float *W, *b;	 /* (n, m), (n) */
	float *mW, *vW;	 /* (n, m) Adam moments of W */
	float *mb, *vb;	 /* (n) Adam moments of b */
	double *losses;	 /* (steps) step losses; the first `step` are stored */
};

/* checkpoint_save - write ST to PATH atomically.  Returns 0, ERR_IO (message
 * naming the file and errno in ERR, MSGLEN bytes) or ERR_NOMEM. */
int checkpoint_save(const char *path, const struct checkpoint_state *st, char *err, size_t msglen);

/* checkpoint_load - read PATH into ST, whose identity fields (key, seed, n,
 * m, steps) and arrays the caller set.  Returns 0 with ST->step, threads and
 * the arrays filled; 1 when PATH does not exist; ERR_CORRUPT when the file is
 * damaged (bad magic, version, size or checksum) or belongs to another job
 * (ERR gets the reason; the arrays may have been overwritten); ERR_IO when it
 * exists but cannot be read. */
int checkpoint_load(const char *path, struct checkpoint_state *st, char *err, size_t msglen);

/* checkpoint_remove - unlink PATH and PATH.tmp (the temporary file of a
 * save killed mid-write); missing files are fine.  0, ERR_IO or ERR_NOMEM. */
int checkpoint_remove(const char *path);

#endif
