/* cmd_run.c - `supersweep run SPEC.yaml -o CAMPAIGN.h5`: create or resume a
 * campaign under mpirun/srun (collective on the communicator main.c gives).
 *
 * Steps, with an agreement across ranks after each one that can fail:
 *   1. options (every rank parses the same argv; rank 0 prints usage errors)
 *   2. rank 0 reads the spec file and broadcasts its text; every rank parses
 *   3. rank 0 takes the campaign lock and, when the file exists, checks it
 *      read-only: a campaign of this format, the same spec (spec_diff), the
 *      same job keys row by row.  Refusals change nothing on disk.
 *   4. collective store_create (new file) or store_open (resume)
 *   5. sched_run (dispatch, train, commit, drain)
 *   6. collective store_close, summary on stdout, lock released
 * Exit: 0 all jobs committed (failed ones counted), 1 runtime failure,
 * 2 bad usage / bad spec / refused file (nothing written), 3 drained with
 * work left.  A failure in the middle of the run that the ranks cannot agree
 * on returns -1: main.c aborts the MPI job (the file stays resumable).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supersweep/cli.h"
#include "supersweep/err.h"
#include "supersweep/lock.h"
#include "supersweep/sched.h"
#include "supersweep/spec.h"
#include "supersweep/store.h"

struct run_args {
	const char *spec_path;
	const char *campaign;
	struct sched_opts o;
};

static void run_usage(FILE *f)
{
	fprintf(f, "usage: mpirun -np P supersweep run SPEC.yaml -o CAMPAIGN.h5 [options]\n"
		   "\n"
		   "Run the campaign SPEC.yaml into CAMPAIGN.h5, or continue it when the file\n"
		   "exists (same spec required).  Rank 0 dispatches and trains; every other rank\n"
		   "trains.  SIGUSR1/SIGTERM/SIGINT drain: running jobs checkpoint, exit 3.\n"
		   "\n"
		   "  -o, --output FILE    campaign file (required)\n"
		   "      --retry-failed   run failed jobs again\n"
		   "      --progress SEC   seconds between progress lines (default: 1 on a\n"
		   "                       terminal, 30 otherwise)\n"
		   "      --dispatch-only  rank 0 only dispatches (needs 2 or more ranks)\n"
		   "  -q, --quiet          no progress lines\n"
		   "  -h, --help           this help\n"
		   "\n"
		   "Exit status: 0 done (failed jobs are counted in the summary), 1 runtime\n"
		   "failure, 2 bad usage, bad spec or refused campaign file, 3 interrupted with\n"
		   "work left (run the same command again).\n");
}

/* parse_args - returns 0, 1 for --help, or CLI_EXIT_USAGE (message printed
 * by rank 0). */
static int parse_args(int argc, char **argv, int rank, struct run_args *a)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"retry-failed", no_argument, NULL, 'r'},
		{"progress", required_argument, NULL, 'p'},
		{"dispatch-only", no_argument, NULL, 'd'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(a, 0, sizeof *a);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': a->campaign = optarg; break;
		case 'r': a->o.retry_failed = true; break;
		case 'd': a->o.dispatch_only = true; break;
		case 'q': a->o.quiet = true; break;
		case 'h':
			if (rank == 0)
				run_usage(stdout);
			return 1;
		case 'p': {
			char *end;
			errno = 0;
			a->o.progress_s = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(a->o.progress_s > 0)) {
				if (rank == 0)
					fprintf(stderr,
						"supersweep run: --progress %s: expected a number "
						"of seconds > 0\n",
						optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		}
		default:
			if (rank == 0)
				fprintf(stderr,
					"supersweep run: unknown or incomplete option '%s' (try "
					"--help)\n",
					argv[optind - 1]);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !a->campaign) {
		if (rank == 0) {
			fprintf(stderr, "supersweep run: %s\n",
				optind >= argc	    ? "missing SPEC.yaml"
				: optind < argc - 1 ? "more than one SPEC given"
						    : "missing -o CAMPAIGN.h5");
			run_usage(stderr);
		}
		return CLI_EXIT_USAGE;
	}
	a->spec_path = argv[optind];
	a->o.campaign = a->campaign;
	return 0;
}

/* read_text - the whole file PATH as a NUL-terminated string. */
static int read_text(const char *path, char **out, long *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	*out = NULL;
	if (!f)
		return ERR_IO;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			size_t ncap = cap ? 2 * cap : 8192;
			char *nb = realloc(buf, ncap);
			if (!nb) {
				free(buf);
				fclose(f);
				return ERR_NOMEM;
			}
			buf = nb;
			cap = ncap;
		}
		size_t r = fread(buf + n, 1, 4096, f);
		n += r;
		if (r < 4096)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return ERR_IO;
	}
	fclose(f);
	buf[n] = '\0';
	*out = buf;
	*len = (long)n;
	return 0;
}

/* load_spec - rank 0 reads, everyone parses the same text. */
static int load_spec(const char *path, MPI_Comm comm, int rank, struct spec **out)
{
	char *text = NULL, err[SPEC_ERR_LEN] = "";
	long len = -1;
	int rc = 0;

	*out = NULL;
	if (rank == 0) {
		rc = read_text(path, &text, &len);
		if (rc) {
			fprintf(stderr, "supersweep run: %s: %s\n", path,
				rc == ERR_NOMEM ? "out of memory" : strerror(errno));
			len = -1;
		}
	}
	if (MPI_Bcast(&len, 1, MPI_LONG, 0, comm) != MPI_SUCCESS)
		return ERR_MPI;
	if (len < 0) {
		free(text);
		return ERR_IO;
	}
	if (rank != 0) {
		text = malloc((size_t)len + 1);
		if (!text)
			rc = ERR_NOMEM;
	}
	/* a rank without memory still takes part in the broadcast */
	if (!text) {
		char dummy;
		for (long off = 0; off < len; off++)
			MPI_Bcast(&dummy, 1, MPI_CHAR, 0, comm);
	} else if (MPI_Bcast(text, (int)len + 1, MPI_CHAR, 0, comm) != MPI_SUCCESS) {
		rc = ERR_MPI;
	}
	if (!rc) {
		rc = spec_load_string(text, (size_t)len, path, out, err);
		if (rc && rank == 0)
			fprintf(stderr, "supersweep run: %s\n", err);
	}
	free(text);
	return rc;
}

/* check_existing - rank 0: the campaign file exists; refuse it unless it is
 * a campaign of this format for the same spec.  Prints the reason. */
static int check_existing(const char *campaign, const struct spec *spec)
{
	struct store *ro = NULL;
	struct spec *old = NULL;
	char err[STORE_ERR_LEN > SPEC_ERR_LEN ? STORE_ERR_LEN : SPEC_ERR_LEN] = "";
	const char *text;
	size_t len = 0;
	uint64_t *keys = NULL;
	int rc;

	rc = store_open_read(campaign, &ro, err);
	if (rc) {
		fprintf(stderr, "supersweep run: %s\nsupersweep run: refusing to touch it\n", err);
		return rc;
	}
	text = store_spec_text(ro, &len);
	if (len != spec->text_len || memcmp(text, spec->text, len) != 0) {
		rc = spec_load_string(text, len, campaign, &old, err);
		if (rc) {
			fprintf(stderr,
				"supersweep run: %s: the campaign's stored spec no longer parses: "
				"%s\n",
				campaign, err);
			rc = ERR_MISMATCH;
			goto out;
		}
		rc = spec_diff(old, spec, err);
		if (rc) {
			fprintf(stderr,
				"supersweep run: %s was created from a different spec; what "
				"changed:\n%s\n"
				"supersweep run: use a new campaign file for the new spec\n",
				campaign, err);
			rc = ERR_MISMATCH;
			goto out;
		}
	}
	if (store_njobs(ro) != spec->njobs) {
		fprintf(stderr, "supersweep run: %s has %zu rows, the spec %zu jobs\n", campaign,
			store_njobs(ro), spec->njobs);
		rc = ERR_MISMATCH;
		goto out;
	}
	keys = malloc(spec->njobs * sizeof *keys);
	if (!keys || store_read_keys(ro, keys) != 0) {
		fprintf(stderr, "supersweep run: %s: cannot read /jobs/key\n", campaign);
		rc = keys ? ERR_CORRUPT : ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < spec->njobs; i++)
		if (keys[i] != spec->jobs[i].key) {
			fprintf(stderr,
				"supersweep run: %s: row %zu has job key %016llx, the spec %016llx "
				"(a different spec or supersweep version)\n",
				campaign, i, (unsigned long long)keys[i],
				(unsigned long long)spec->jobs[i].key);
			rc = ERR_MISMATCH;
			goto out;
		}
out:
	free(keys);
	spec_destroy(&old);
	store_close(&ro);
	return rc;
}

static int bcast_int(int *v, MPI_Comm comm)
{
	return MPI_Bcast(v, 1, MPI_INT, 0, comm) == MPI_SUCCESS ? 0 : ERR_MPI;
}

int cmd_run(int argc, char **argv, MPI_Comm comm, volatile sig_atomic_t *stop)
{
	struct run_args a;
	struct spec *spec = NULL;
	struct store *st = NULL;
	struct lock *lk = NULL;
	struct sched_summary sum;
	char err[STORE_ERR_LEN > SCHED_ERR_LEN ? STORE_ERR_LEN : SCHED_ERR_LEN] = "";
	int rank, size, rc, exists = 0, status = CLI_EXIT_FAILURE;
	bool local_only = false;
	double t0, t_spec, t_check = 0, t_open;

	MPI_Comm_rank(comm, &rank);
	MPI_Comm_size(comm, &size);
	rc = parse_args(argc, argv, rank, &a);
	if (rc)
		return rc == 1 ? CLI_EXIT_OK : rc;
	if (a.o.dispatch_only && size < 2) {
		if (rank == 0)
			fprintf(stderr, "supersweep run: --dispatch-only needs 2 or more ranks\n");
		return CLI_EXIT_USAGE;
	}

	t0 = MPI_Wtime();
	rc = load_spec(a.spec_path, comm, rank, &spec);
	t_spec = MPI_Wtime() - t0;
	{
		int all = rc;
		MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MIN, comm);
		rc = all;
	}
	if (rc) {
		spec_destroy(&spec);
		return rc == ERR_NOMEM || rc == ERR_MPI ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
	}

	/* rank 0: lock, then look at an existing file without writing it */
	if (rank == 0) {
		rc = lock_acquire(a.campaign, &lk, err);
		if (rc)
			fprintf(stderr, "supersweep run: %s\n", err);
		else if (access(a.campaign, F_OK) == 0) {
			exists = 1;
			t0 = MPI_Wtime();
			rc = check_existing(a.campaign, spec);
			t_check = MPI_Wtime() - t0;
		}
	}
	if (bcast_int(&rc, comm) || bcast_int(&exists, comm)) {
		status = -1;
		goto out;
	}
	if (rc) {
		status = (rc == ERR_NOMEM || rc == ERR_IO) && rc != ERR_LOCKED ? CLI_EXIT_FAILURE
									       : CLI_EXIT_USAGE;
		goto out;
	}

	t0 = MPI_Wtime();
	if (exists)
		rc = store_open(a.campaign, comm, &st, err);
	else
		rc = store_create(a.campaign, spec, comm, &st, err);
	t_open = MPI_Wtime() - t0;
	if (rc) {
		if (rank == 0)
			fprintf(stderr, "supersweep run: %s\n", err);
		goto out;
	}
	if (rank == 0) {
		char dir[4096];
		snprintf(dir, sizeof dir, "%s.ckpt", a.campaign);
		rc = (mkdir(dir, 0755) == 0 || errno == EEXIST) ? 0 : ERR_IO;
		if (rc)
			fprintf(stderr, "supersweep run: %s: %s\n", dir, strerror(errno));
	}
	if (bcast_int(&rc, comm) || rc) {
		store_close(&st);
		goto out;
	}

	if (rank == 0 && !a.o.quiet)
		fprintf(stderr,
			"supersweep: spec %.3f s, existing file checked in %.3f s, %s in %.3f s\n",
			t_spec, t_check, exists ? "opened" : "created", t_open);
	rc = sched_run(spec, st, &a.o, comm, stop, &sum, &local_only, err);
	if (rc && local_only) {
		fprintf(stderr, "supersweep run[%d]: %s\n", rank, err);
		lock_release(&lk);
		spec_destroy(&spec);
		return -1; /* main.c aborts; the campaign file stays resumable */
	}
	if (rc && rank == 0)
		fprintf(stderr, "supersweep run: %s\n", err);
	{
		int crc = store_close(&st);
		if (!rc)
			rc = crc;
	}
	if (rc)
		goto out;
	if (rank == 0) {
		printf("supersweep run: %s: %lld jobs: %lld done, %lld failed, %lld pending\n",
		       a.campaign, (long long)sum.njobs, (long long)sum.done, (long long)sum.failed,
		       (long long)sum.pending);
		printf("supersweep run: this run: %lld committed, %lld checkpointed by the drain "
		       "in "
		       "%.2f s on %d rank%s; rank 0 event loop CPU %.3f s; training busy %.1f%%\n",
		       (long long)sum.ran, (long long)sum.stopped, sum.wall_s, size,
		       size > 1 ? "s" : "", sum.rank0_cpu_s, 100.0 * sum.busy_frac);
		if (sum.pending > 0)
			printf("supersweep run: interrupted with %lld jobs left: run the same "
			       "command "
			       "again to continue\n",
			       (long long)sum.pending);
		fflush(stdout);
		if (sum.pending == 0) {
			char dir[4096];
			snprintf(dir, sizeof dir, "%s.ckpt", a.campaign);
			rmdir(dir); /* empty once every job is committed */
		}
	}
	status = sum.pending > 0 ? CLI_EXIT_INTERRUPTED : CLI_EXIT_OK;
out:
	if (status == CLI_EXIT_FAILURE && rc == 0)
		status = CLI_EXIT_FAILURE;
	lock_release(&lk);
	spec_destroy(&spec);
	return status;
}
