/* campaign_read.h - a small serial, read-only reader of campaign-file columns.
 *
 * For the analysis commands (fit): opens a campaign file (docs/FORMAT.md)
 * with the serial HDF5 interface, read-only and without file locking, so it
 * can read a campaign that is still running (it then sees the rows committed
 * so far; a row's status is written last, so a row read as done has its
 * payload).  It reads the one-dimensional columns /jobs/<param> and
 * /metrics/<name> of any numeric, boolean or enum type as doubles (enum
 * columns as their integer values, e.g. dist: power=0, exponential=1,
 * linear=2) and knows nothing of the spec or trainer tables, so a file
 * written by a newer version with more columns still reads.  Not collective;
 * needs no MPI.
 */
#ifndef SUPERSWEEP_CAMPAIGN_READ_H
#define SUPERSWEEP_CAMPAIGN_READ_H

#include <stdbool.h>
#include <stddef.h>

#define CAMPAIGN_READ_ERR_LEN 1024 /* size of an error message buffer */

struct campaign_reader;

/* campaign_read_open - open the campaign file PATH (borrowed) read-only.
 * On success returns 0 and sets *OUT (given; close with campaign_read_close).
 * On failure returns ERR_IO (cannot open, not HDF5), ERR_CORRUPT (no /jobs
 * group or no /jobs/status column, or not one-dimensional) or ERR_NOMEM,
 * leaves *OUT NULL and writes one message naming PATH into ERR. */
int campaign_read_open(const char *path, struct campaign_reader **out, char *err);

/* campaign_read_close - close *R and set it NULL; accepts NULL and *R == NULL. */
void campaign_read_close(struct campaign_reader **r);

/* campaign_read_nrows - rows (job points) in the file: the length of /jobs/status. */
size_t campaign_read_nrows(const struct campaign_reader *r);

/* campaign_read_column - read column NAME into OUT (nrows doubles, borrowed).
 * NAME is "jobs/<x>", "metrics/<x>" or a bare "<x>", looked up in /jobs first,
 * then /metrics.  Returns 0, or ERR_INVAL (no such column: ERR lists the
 * columns there are; or a column that is not numeric), ERR_CORRUPT (wrong
 * shape or length), ERR_HDF5 or ERR_NOMEM, with one message in ERR. */
int campaign_read_column(struct campaign_reader *r, const char *name, double *out, char *err);

/* campaign_read_is_enum - true if column NAME exists and is an HDF5 enum. */
bool campaign_read_is_enum(struct campaign_reader *r, const char *name);

/* campaign_read_enum_name - the name of member VALUE of enum column NAME into
 * BUF (LEN bytes).  Returns 0, or ERR_INVAL when NAME is not an enum column
 * or VALUE is not a member (BUF then holds VALUE in decimal). */
int campaign_read_enum_name(struct campaign_reader *r, const char *name, long value, char *buf,
			    size_t len);

/* campaign_read_done - set DONE[i] (nrows, borrowed) to whether row i's
 * status is the enum member "done".  Returns 0, or ERR_CORRUPT when
 * /jobs/status has no member "done", ERR_HDF5, ERR_NOMEM. */
int campaign_read_done(struct campaign_reader *r, bool *done, char *err);

#endif
