/* cli.h - the subcommands of the supersweep program.
 *
 * main.c parses the command name, sets up signals and (for `run`) MPI, and
 * calls one cmd_* function; only main.c exits.  Each cmd_* parses its own
 * options (argv[0] is the command name), prints results on stdout and
 * diagnostics on stderr, and returns one of the exit statuses below.
 */
#ifndef SUPERSWEEP_CLI_H
#define SUPERSWEEP_CLI_H

#include <stddef.h>
#include <mpi.h>
#include <signal.h>

/* Exit statuses of the program (documented in docs/GUIDE.md). */
enum cli_exit {
	CLI_EXIT_OK = 0,	  /* done (a campaign may still count failed jobs) */
	CLI_EXIT_FAILURE = 1,	  /* runtime failure (I/O, MPI, HDF5, ...) */
	CLI_EXIT_USAGE = 2,	  /* bad usage or bad spec; nothing written */
	CLI_EXIT_INTERRUPTED = 3, /* drained on a signal with work left: requeue */
};

/* Every command: ARGC/ARGV start at the command name.  STOP is set non-zero
 * by SIGUSR1, SIGTERM or SIGINT (borrowed; commands that drain watch it). */
int cmd_plan(int argc, char **argv);
int cmd_train(int argc, char **argv, volatile sig_atomic_t *stop);
/* cmd_run - collective on COMM (MPI is initialised by main.c). */
int cmd_run(int argc, char **argv, MPI_Comm comm, volatile sig_atomic_t *stop);
int cmd_status(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_fit(int argc, char **argv);
int cmd_submit(int argc, char **argv);

/* cli_version - "supersweep VERSION (git COMMIT)"; a static string. */
const char *cli_version(void);
/* cli_git_commit - the git commit the binary was built from, or "unknown". */
const char *cli_git_commit(void);
/* cli_blas_kernel - the kernels OpenBLAS runs here ("Haswell", "SkylakeX",
 * ...): chosen by the CPU, or by OPENBLAS_CORETYPE.  Kernels may sum in
 * different orders, so a job's last bits depend on them as on the build. */
const char *cli_blas_kernel(void);
/* cli_run_build - "supersweep VERSION (git COMMIT), OpenBLAS KERNELS" into
 * OUT (CAP bytes, truncated): what a job's bits depend on, as recorded for
 * a run (KERNELS: one name, or the ranks' distinct names, comma-separated). */
void cli_run_build(const char *kernels, char *out, size_t cap);

#endif
