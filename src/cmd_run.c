/* cmd_run.c - `supersweep run` (placeholder until its module lands). */
#include <stdio.h>

#include "supersweep/cli.h"

int cmd_run(int argc, char **argv, MPI_Comm comm, volatile sig_atomic_t *stop)
{
	(void)argc;
	(void)argv;
	(void)comm; (void)stop; fprintf(stderr, "supersweep run: not implemented yet\n");
	return CLI_EXIT_FAILURE;
}
