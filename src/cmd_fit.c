/* cmd_fit.c - `supersweep fit` (placeholder until its module lands). */
#include <stdio.h>

#include "supersweep/cli.h"

int cmd_fit(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "supersweep fit: not implemented yet\n");
	return CLI_EXIT_FAILURE;
}
