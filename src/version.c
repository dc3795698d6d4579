/* version.c - version and git commit of the build (set by the Makefile),
 * and the BLAS kernels it runs on this CPU. */
#include <stdio.h>

#include <cblas.h>

#include "supersweep/cli.h"

#ifndef SS_VERSION
#define SS_VERSION "0.0.0"
#endif
#ifndef SS_GIT_COMMIT
#define SS_GIT_COMMIT "unknown"
#endif

const char *cli_version(void)
{
	return "supersweep " SS_VERSION " (git " SS_GIT_COMMIT ")";
}

const char *cli_git_commit(void)
{
	return SS_GIT_COMMIT;
}

const char *cli_blas_kernel(void)
{
	const char *k = openblas_get_corename();

	return k && *k ? k : "unknown";
}

void cli_run_build(const char *kernels, char *out, size_t cap)
{
	snprintf(out, cap, "%s, OpenBLAS %s", cli_version(), kernels);
}
