/* cmd_plan.c - `supersweep plan` (placeholder until its module lands). */
#include <stdio.h>

#include "supersweep/cli.h"

int cmd_plan(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "supersweep plan: not implemented yet\n");
	return CLI_EXIT_FAILURE;
}
