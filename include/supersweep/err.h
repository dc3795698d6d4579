/* err.h - the project's error codes and their names.
 *
 * Functions that act return int: 0 on success or one of the negative codes
 * below.  Library conventions (libyaml, HDF5, MPI, errno) are converted to
 * these at the module boundary.  Exit statuses of the program are a separate
 * matter, decided in main.c (see cli.h).
 */
#ifndef SUPERSWEEP_ERR_H
#define SUPERSWEEP_ERR_H

enum err_code {
	ERR_OK = 0,
	ERR_NOMEM = -1,	   /* an allocation failed */
	ERR_INVAL = -2,	   /* bad input: spec, argument, job point */
	ERR_IO = -3,	   /* a file operation failed (errno-level) */
	ERR_HDF5 = -4,	   /* an HDF5 call failed */
	ERR_MPI = -5,	   /* an MPI call failed */
	ERR_DIVERGED = -6, /* training produced NaN/Inf */
	ERR_STOPPED = -7,  /* stopped on request at a step boundary (drain) */
	ERR_MISMATCH = -8, /* spec differs from the campaign file's */
	ERR_LOCKED = -9,   /* another writer holds the campaign */
	ERR_CORRUPT = -10, /* a file is damaged or not what it claims */
	ERR_RANGE = -11,   /* a size or count does not fit its type */
};

/* err_name - a short lower-case name for CODE ("out of memory", ...).
 * Returns a static string; never NULL, also for unknown codes. */
const char *err_name(int code);

#endif
