/* cmd_train.c - `supersweep train` (placeholder until its module lands). */
#include <stdio.h>

#include "supersweep/cli.h"

int cmd_train(int argc, char **argv, volatile sig_atomic_t *stop)
{
	(void)argc;
	(void)argv;
	(void)stop; fprintf(stderr, "supersweep train: not implemented yet\n");
	return CLI_EXIT_FAILURE;
}
