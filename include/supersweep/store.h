/* store.h - the campaign file: one parallel-HDF5 file per campaign.
 *
 * Rows are job points in the spec's dispatch order (spec->jobs[i] is row i).
 * Every dataset is created collectively at creation time and sized for every
 * job (contiguous, space allocated early, fill values written), so that while
 * a campaign runs only raw data changes: a worker writes its job's payload
 * (metrics, curve, weights) with independent I/O and rank 0 alone writes the
 * commit (checksum, attempt, rank, host, error, and status last).  A crash can
 * leave payload bytes without a commit, never a commit without its payload.
 * docs/FORMAT.md lists every dataset and attribute.
 *
 * Two ways in: store_create/store_open are collective on a communicator and
 * open the file for writing through MPI-IO (cmd_run); store_open_read is a
 * serial, read-only, lock-free open (status, export, verify, and rank 0's
 * check of an existing file before the collective open).  Functions marked
 * "independent" may be called by any one rank of a collective store; the
 * "read" functions work on both kinds.
 */
#ifndef SUPERSWEEP_STORE_H
#define SUPERSWEEP_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#include "supersweep/spec.h"
#include "supersweep/train.h"

/* Format version 1: /jobs, /metrics, /curves, /weights and /run (docs/FORMAT.md). */
#define STORE_FORMAT_NAME    "supersweep-campaign"
#define STORE_FORMAT_VERSION 1
#define STORE_HOST_LEN	     64	  /* bytes of /jobs/host, NUL included */
#define STORE_ERROR_LEN	     128  /* bytes of /jobs/error, NUL included */
#define STORE_ERR_LEN	     1024 /* size of an error message buffer */
#define STORE_HOSTS_LEN	     2048 /* bytes of /run hosts, NUL included */

/* /jobs/status values (HDF5 enum over int8). */
enum store_status {
	STORE_PENDING = 0, /* not committed (never run, running, or interrupted) */
	STORE_DONE = 1,	   /* committed with its payload */
	STORE_FAILED = 2,  /* committed as failed; /jobs/error says why */
};

/* What rank 0 writes when it commits a job. */
struct store_commit {
	enum store_status status; /* STORE_DONE or STORE_FAILED */
	uint64_t checksum;	  /* store_payload_checksum of the payload (0 if failed) */
	int32_t attempt;	  /* the attempt that produced it, >= 1 */
	int32_t rank;		  /* rank that ran it */
	const char *host;	  /* host that ran it (truncated to STORE_HOST_LEN - 1) */
	const char *error;	  /* reason when failed, "" when done (truncated) */
};

/* Counts of a campaign's rows by status. */
struct store_counts {
	int64_t pending, done, failed;
};

/* The latest run, as recorded in the dataset /run (raw data, rewritten in
 * place: after creation a campaign's HDF5 metadata never changes). */
struct store_run {
	int64_t runs;		     /* runs that opened the file (0 = none yet) */
	int64_t ranks;		     /* MPI ranks of the latest run */
	int64_t done_at_start;	     /* rows done when it started */
	int64_t failed_at_start;     /* rows failed when it started */
	double started_unix;	     /* start, s since 1970 (NaN before the first run) */
	double ended_unix;	     /* end, s since 1970; NaN while running or after a kill */
	char started[32];	     /* start, UTC ISO 8601 ("" before the first run) */
	char ended[32];		     /* end, UTC ISO 8601; "" while running or after a kill */
	char version[128];	     /* its build and its ranks' OpenBLAS kernels (cli_run_build) */
	char hosts[STORE_HOSTS_LEN]; /* distinct hosts, comma-separated, rank order (truncated) */
};

struct store; /* opaque: an open campaign file */

/* store_create - create the campaign file PATH for SPEC (borrowed).
 * Collective on COMM.  The file is built under PATH.part and renamed to PATH
 * when complete (rank 0 renames; PATH must not exist: the caller holds the
 * campaign lock and checked that), then reopened for writing as store_open.
 * Writes the parameter and key columns, fill values everywhere else, and the
 * provenance attributes.  Returns 0 and *OUT (given; close with store_close),
 * or a negative code agreed by all ranks with a message in ERR
 * (STORE_ERR_LEN) on rank 0. */
int store_create(const char *path, const struct spec *spec, MPI_Comm comm, struct store **out,
		 char *err);

/* store_open - open the existing campaign PATH for writing.  Collective on
 * COMM.  Checks the format attributes and dataset sizes, reads the status
 * column on rank 0 (store_status) and records the start of a run in /run
 * (rank 0, raw data: the file's metadata is not modified).  The caller must have
 * validated the file with store_open_read first: a file that is not a
 * campaign is refused here too, but HDF5 itself might touch it.  Returns 0
 * or a negative code agreed by all ranks, message in ERR on rank 0. */
int store_open(const char *path, MPI_Comm comm, struct store **out, char *err);

/* store_open_read - open PATH read-only, serially, without HDF5 file locking
 * (works while a campaign writes it).  Validates that it is a campaign of
 * this format with consistent dataset sizes and reads the status column.
 * Returns 0 and *OUT, or ERR_IO (missing/unreadable), ERR_CORRUPT (not a
 * campaign, truncated, damaged) or ERR_NOMEM with a message naming PATH in
 * ERR.  Does not need MPI. */
int store_open_read(const char *path, struct store **out, char *err);

/* store_close - close *ST and set it NULL; accepts NULL.  For a collective
 * store this is collective on its communicator and first records the end of
 * the run in /run (rank 0).  Returns 0 or ERR_HDF5 (agreed by all
 * ranks for a collective store). */
int store_close(struct store **st);

/* Sizes. */
size_t store_njobs(const struct store *st);
int64_t store_curve_len(const struct store *st); /* K of /curves/loss */

/* store_spec_text - the stored spec text (borrowed, NUL terminated) and its
 * length in bytes. */
const char *store_spec_text(const struct store *st, size_t *len);

/* store_attr_string - root attribute NAME as a string (borrowed, NUL
 * terminated, valid until close), or NULL if absent or not a string. */
const char *store_attr_string(const struct store *st, const char *name);

/* store_attr_double - root attribute NAME converted to double; returns
 * ERR_INVAL if absent or not numeric. */
int store_attr_double(const struct store *st, const char *name, double *out);

/* store_attr_u64 - integer root attribute NAME (e.g. campaign_seed) exactly;
 * ERR_INVAL if absent or not an integer. */
int store_attr_u64(const struct store *st, const char *name, uint64_t *out);

/* store_read_run - the /run record (latest run).  Returns 0 or ERR_HDF5. */
int store_read_run(struct store *st, struct store_run *out);

/* store_status - the status column as read at open (int8 per row, borrowed;
 * kept current by store_commit on the committing rank).  NULL on ranks other
 * than 0 of a collective store. */
const int8_t *store_status(const struct store *st);
struct store_counts store_count(const struct store *st);

/* store_read_keys / _attempts / _ranks / _jobs - read whole
 * columns into caller arrays of store_njobs entries.  store_read_jobs
 * rebuilds every row's job point from the parameter columns (threads, key
 * included).  Independent.  Return 0 or ERR_HDF5. */
int store_read_keys(struct store *st, uint64_t *keys);
int store_read_attempts(struct store *st, int32_t *attempts);
int store_read_ranks(struct store *st, int32_t *ranks);
int store_read_jobs(struct store *st, struct job_point *jobs);

/* store_read_metrics - every metric column into OUT, (njobs, train_nmetrics)
 * row-major, in train_metric_table order.  Independent. */
int store_read_metrics(struct store *st, double *out);

/* store_read_strings - the /jobs/host (WHICH = "host") or /jobs/error
 * ("error") column into OUT, njobs fixed-size fields of the column's width
 * (STORE_HOST_LEN or STORE_ERROR_LEN), each NUL terminated. */
int store_read_strings(struct store *st, const char *which, char *out);

/* store_write_payload - write the payload of row ROW for JOB (the job point
 * of that row) from RES: metrics, the NaN-padded curve row and, if the job
 * saves weights, its W and b slices.  Sets *CHECKSUM to the payload's
 * checksum (store_payload_checksum).  Independent; called by the rank that
 * ran the job.  Returns 0, ERR_INVAL (row out of range, sizes that do not
 * match the file) or ERR_HDF5. */
int store_write_payload(struct store *st, size_t row, const struct job_point *job,
			const struct train_result *res, uint64_t *checksum);

/* store_set_attempt - write /jobs/attempt of ROW (rank 0 at dispatch). */
int store_set_attempt(struct store *st, size_t row, int32_t attempt);

/* store_commit - commit ROW: checksum, attempt, rank, host, error, then
 * status.  Independent; rank 0 only.  Returns 0 or ERR_HDF5. */
int store_commit(struct store *st, size_t row, const struct store_commit *c);

/* store_row_checksum - recompute the checksum of ROW from the payload bytes
 * in the file (verify).  Needs the job point of the row (store_read_jobs). */
int store_row_checksum(struct store *st, size_t row, const struct job_point *job,
		       uint64_t *checksum);

/* store_read_checksums - the /jobs/checksum column (njobs entries). */
int store_read_checksums(struct store *st, uint64_t *sums);

/* store_payload_checksum - XXH3-64 seeded with the job key over the
 * payload bytes in file order: the nmetrics doubles, the K curve floats
 * (NaN padding included), then W (n*m floats) and b (n floats) when saved.
 * METRICS has train_nmetrics entries, CURVE K entries; W and B may be NULL
 * when the job saves no weights. */
uint64_t store_payload_checksum(uint64_t key, const double *metrics, size_t nmetrics,
				const float *curve, size_t ncurve, const float *W, size_t nW,
				const float *b, size_t nb);

#endif
