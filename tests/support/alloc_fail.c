/* alloc_fail.c - allocation wrappers for failure injection (alloc_fail.h).
 * Test-only: state is process-global on purpose, tests are single-threaded
 * around the calls they inject into. */
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
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static long budget = -1; /* allocations left before failing; < 0 = never */
static long seen;
static int triggered;

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
	return should_fail() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t nmemb, size_t size)
{
	return should_fail() ? NULL : __real_calloc(nmemb, size);
}

void *__wrap_realloc(void *ptr, size_t size)
{
	return should_fail() ? NULL : __real_realloc(ptr, size);
}

char *__wrap_strdup(const char *s)
{
	return should_fail() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return should_fail() ? NULL : __real_strndup(s, n);
}
