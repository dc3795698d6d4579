/* alloc_fail.h - make the N-th allocation of the project's code fail.
 *
 * Test binaries are linked with -Wl,--wrap=malloc,calloc,realloc,strdup,
 * strndup,free: calls from the project's objects (not from shared libraries such
 * as libyaml or HDF5) go through the wrappers in alloc_fail.c. */
#ifndef SUPERSWEEP_TESTS_ALLOC_FAIL_H
#define SUPERSWEEP_TESTS_ALLOC_FAIL_H

/* alloc_fail_after - let N more allocations succeed, then fail every one
 * until alloc_fail_reset.  N < 0 disables failures (the default). */
void alloc_fail_after(long n);
/* alloc_fail_reset - disable failures. */
void alloc_fail_reset(void);
/* alloc_fail_count - allocations seen since the last alloc_fail_after/reset. */
long alloc_fail_count(void);
/* alloc_fail_triggered - true if a failure was injected since the last set. */
int alloc_fail_triggered(void);
/* alloc_track_start / alloc_track_peak - the peak, between the two calls,
 * of the bytes the project's code allocated (usable sizes) and had not
 * freed; single-threaded allocations only. */
void alloc_track_start(void);
long long alloc_track_peak(void);

#endif
