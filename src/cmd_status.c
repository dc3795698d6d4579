/* cmd_status.c - `supersweep status` (placeholder until its module lands). */
#include <stdio.h>

#include "supersweep/cli.h"

int cmd_status(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "supersweep status: not implemented yet\n");
	return CLI_EXIT_FAILURE;
}
