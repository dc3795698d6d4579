/* main.c - the supersweep program: command dispatch, signals, MPI, exit.
 *
 * This is the only file that exits or aborts.  It picks the subcommand,
 * installs the drain signals (SIGUSR1, SIGTERM, SIGINT set a flag that the
 * commands watch; handlers are installed without SA_RESTART so blocking
 * waits return EINTR), initialises MPI for `run` only, and turns the
 * command's return value into the exit status (cli.h).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "supersweep/cli.h"

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	stop_requested = sig;
}

static int install_stop_signals(void)
{
	static const int sigs[] = {SIGUSR1, SIGTERM, SIGINT};
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: blocking waits see EINTR */
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		if (sigaction(sigs[i], &sa, NULL) != 0) {
			perror("supersweep: sigaction");
			return -1;
		}
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: supersweep COMMAND [OPTIONS] [ARGS]\n"
		"\n"
		"Run scaling-law campaigns of the superposition toy model on a cluster.\n"
		"\n"
		"Commands:\n"
		"  plan SPEC.yaml [--list]          validate a spec; count jobs, predict cost\n"
		"  run SPEC.yaml -o CAMPAIGN.h5     run or resume a campaign (mpirun or srun)\n"
		"  status CAMPAIGN.h5               progress, failures, ETA (also while running)\n"
		"  export CAMPAIGN.h5 [-o FILE]     parameters, status and metrics as CSV\n"
		"  verify CAMPAIGN.h5               re-check the checksum of every committed job\n"
		"  fit CAMPAIGN.h5 --by a,b         fit loss ~ m^-alpha_m per group\n"
		"  train key=value ...              train one job without MPI, print JSON\n"
		"  submit SPEC.yaml -o CAMPAIGN.h5  write and submit a Slurm batch script\n"
		"\n"
		"Options:\n"
		"  -h, --help      show this help (or `supersweep COMMAND --help`)\n"
		"  -V, --version   show version and git commit\n"
		"\n"
		"Exit status: 0 done, 1 runtime failure, 2 bad usage or spec,\n"
		"3 interrupted with work left (requeue and run the same command again).\n");
}

/* run_mpi_command - MPI_Init, cmd_run on MPI_COMM_WORLD, MPI_Finalize.
 * A rank whose command failed while others are stuck in a collective would
 * hang the job; cmd_run agrees on errors collectively, and anything it could
 * not agree on ends here with MPI_Abort. */
static int run_mpi_command(int argc, char **argv)
{
	int provided = 0, rc;
	sigset_t block;

	/* Block the stop signals before MPI starts its threads, so that every
	 * thread inherits the mask: cmd_run unblocks them only inside ppoll(2),
	 * where a signal always interrupts the wait (sched.h). */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, NULL);
	if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
		fprintf(stderr, "supersweep: MPI_Init failed\n");
		return CLI_EXIT_FAILURE;
	}
	/* Open MPI installs its own handlers for some signals during init:
	 * ours must win so that a drain is a drain, not a kill. */
	if (install_stop_signals() != 0) {
		MPI_Abort(MPI_COMM_WORLD, CLI_EXIT_FAILURE);
		return CLI_EXIT_FAILURE;
	}
	rc = cmd_run(argc - 1, argv + 1, MPI_COMM_WORLD, &stop_requested);
	if (rc < 0) {
		fprintf(stderr, "supersweep: ranks disagree after a failure; aborting\n");
		MPI_Abort(MPI_COMM_WORLD, CLI_EXIT_FAILURE);
		return CLI_EXIT_FAILURE;
	}
	MPI_Finalize();
	return rc;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
		printf("%s\n", cli_version());
		return CLI_EXIT_OK;
	}
	if (!strcmp(cmd, "run"))
		return run_mpi_command(argc, argv);
	if (install_stop_signals() != 0)
		return CLI_EXIT_FAILURE;
	if (!strcmp(cmd, "plan"))
		return cmd_plan(argc - 1, argv + 1);
	if (!strcmp(cmd, "train"))
		return cmd_train(argc - 1, argv + 1, &stop_requested);
	if (!strcmp(cmd, "status"))
		return cmd_status(argc - 1, argv + 1);
	if (!strcmp(cmd, "export"))
		return cmd_export(argc - 1, argv + 1);
	if (!strcmp(cmd, "verify"))
		return cmd_verify(argc - 1, argv + 1);
	if (!strcmp(cmd, "fit"))
		return cmd_fit(argc - 1, argv + 1);
	if (!strcmp(cmd, "submit"))
		return cmd_submit(argc - 1, argv + 1);
	fprintf(stderr, "supersweep: unknown command '%s' (try `supersweep --help`)\n", cmd);
	return CLI_EXIT_USAGE;
}
