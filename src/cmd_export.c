/* cmd_export.c - `supersweep export` (placeholder until its module lands). */
#include <stdio.h>

#include "supersweep/cli.h"

int cmd_export(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "supersweep export: not implemented yet\n");
	return CLI_EXIT_FAILURE;
}
