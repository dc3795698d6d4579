/* cmd_verify.c - `supersweep verify` (placeholder until its module lands). */
#include <stdio.h>

#include "supersweep/cli.h"

int cmd_verify(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "supersweep verify: not implemented yet\n");
	return CLI_EXIT_FAILURE;
}
