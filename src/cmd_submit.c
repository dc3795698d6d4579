/* cmd_submit.c - `supersweep submit` (placeholder until its module lands). */
#include <stdio.h>

#include "supersweep/cli.h"

int cmd_submit(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "supersweep submit: not implemented yet\n");
	return CLI_EXIT_FAILURE;
}
