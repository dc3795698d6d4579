/* alloc_fail.c - allocation wrappers for failure injection and for the
 * peak of the live bytes (alloc_fail.h).  Test-only: state is process-global
 * on purpose, tests are single-threaded around the calls they inject into
 * or measure. */
#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_fail.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t nmemb, size_t size);
void *__real_realloc(void *ptr, size_t size);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t nmemb, size_t size);
void *__wrap_realloc(void *ptr, size_t size);
void __real_free(void *ptr);
void __wrap_free(void *ptr);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static long budget = -1; /* allocations left before failing; < 0 = never */
static long seen;
static int triggered;
static int tracking;	     /* alloc_track_start .. alloc_track_peak */
static long long live, peak; /* usable bytes allocated and not freed since the start */

void alloc_track_start(void)
{
	live = peak = 0;
	tracking = 1;
}

long long alloc_track_peak(void)
{
	tracking = 0;
	return peak;
}

static void *track(void *p)
{
	if (p && tracking) {
		live += (long long)malloc_usable_size(p);
		if (live > peak)
			peak = live;
	}
	return p;
}

static void untrack(void *p)
{
	if (p && tracking)
		live -= (long long)malloc_usable_size(p);
}

void alloc_fail_after(long n)
{
	budget = n;
	seen = 0;
	triggered = 0;
}

void alloc_fail_reset(void)
{
	alloc_fail_after(-1);
}

long alloc_fail_count(void)
{
	return seen;
}

int alloc_fail_triggered(void)
{
	return triggered;
}

static int should_fail(void)
{
	seen++;
	if (budget < 0)
		return 0;
	if (budget == 0) {
		triggered = 1;
		return 1;
	}
	budget--;
	return 0;
}

void *__wrap_malloc(size_t size)
{
	return should_fail() ? NULL : track(__real_malloc(size));
}

void *__wrap_calloc(size_t nmemb, size_t size)
{
	return should_fail() ? NULL : track(__real_calloc(nmemb, size));
}

void *__wrap_realloc(void *ptr, size_t size)
{
	const size_t old = ptr ? malloc_usable_size(ptr) : 0;
	void *p;

	if (should_fail())
		return NULL;
	p = __real_realloc(ptr, size);
	if (p && tracking) { /* the old block is gone, the new one counts */
		live -= (long long)old;
		track(p);
	}
	return p;
}

void __wrap_free(void *ptr)
{
	untrack(ptr);
	__real_free(ptr);
}

char *__wrap_strdup(const char *s)
{
	return should_fail() ? NULL : track(__real_strdup(s));
}

char *__wrap_strndup(const char *s, size_t n)
{
	return should_fail() ? NULL : track(__real_strndup(s, n));
}
