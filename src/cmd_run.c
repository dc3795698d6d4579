/* cmd_run.c - `supersweep run SPEC.yaml -o CAMPAIGN.h5`: create or resume a
 * campaign under mpirun/srun (collective on the communicator main.c gives).
 *
 * Steps, with an agreement across ranks after each one that can fail:
 *   1. options (every rank parses the same argv; rank 0 prints usage errors)
 *   2. rank 0 reads the spec file and broadcasts its text; every rank parses
 *   3. rank 0 takes the campaign lock and, when the file exists, checks it
 *      read-only: a campaign of this format, the same spec (spec_diff), the
 *      same job keys row by row.  Refusals change nothing on disk.
 *   4. collective store_create (new file) or store_open (resume); a warning
 *      when the ranks that train run different OpenBLAS kernels
 *   5. sched_run (dispatch, train, commit, drain)
 *   6. collective store_close, summary on stdout, lock released
 * Exit: 0 all jobs committed (failed ones counted), 1 runtime failure,
 * 2 bad usage / bad spec / refused file (nothing written), 3 drained with
 * work left.  A failure in the middle of the run that the ranks cannot agree
 * on returns -1: main.c aborts the MPI job (the file stays resumable).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
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
		   "      --threads N      train every job with N threads instead of the spec's\n"
		   "                       `threads` (default: $SUPERSWEEP_THREADS if set; the\n"
		   "                       Slurm batch script sets it to --cpus-per-task)\n"
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
		{"threads", required_argument, NULL, 't'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	const char *threads = getenv("SUPERSWEEP_THREADS");
	const char *threads_from = "SUPERSWEEP_THREADS=";

	memset(a, 0, sizeof *a);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': a->campaign = optarg; break;
		case 'r': a->o.retry_failed = true; break;
		case 'd': a->o.dispatch_only = true; break;
		case 'q': a->o.quiet = true; break;
		case 't':
			threads = optarg;
			threads_from = "--threads ";
			break;
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
	if (threads && *threads) {
		char *end;
		errno = 0;
		a->o.threads = strtoll(threads, &end, 10);
		if (errno || end == threads || *end || a->o.threads < 1 || a->o.threads > 4096) {
			if (rank == 0)
				fprintf(stderr,
					"supersweep run: %s%s: expected a whole number of threads "
					"from 1 to 4096\n",
					threads_from, threads);
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

/* bcast_text - rank 0's TEXT (LEN bytes + NUL) to every rank; on the
 * others *TEXT is allocated here.  LEN < 0 on rank 0 means "no text": every
 * rank returns ERR_IO. */
static int bcast_text(char **text, long *len, MPI_Comm comm, int rank)
{
	int rc = 0;

	if (MPI_Bcast(len, 1, MPI_LONG, 0, comm) != MPI_SUCCESS)
		return ERR_MPI;
	if (*len < 0)
		return ERR_IO;
	if (rank != 0) {
		*text = malloc((size_t)*len + 1);
		if (!*text)
			rc = ERR_NOMEM;
	}
	/* in pieces, so that a rank without memory can take part in a stack
	 * buffer and report its failure afterwards */
	char scratch[65536];
	for (long off = 0; off <= *len; off += (long)sizeof scratch) {
		long n = *len + 1 - off;
		int cnt = (int)(n < (long)sizeof scratch ? n : (long)sizeof scratch);
		if (MPI_Bcast(*text ? *text + off : scratch, cnt, MPI_CHAR, 0, comm) != MPI_SUCCESS)
			return ERR_MPI;
	}
	return rc;
}

/* note_other_build - rank 0, on resume: a note when this build, or the
 * OpenBLAS kernels rank 0 runs, differ from those that ran the campaign last
 * (or the build is from a checkout with uncommitted changes): the result
 * columns equal an uninterrupted run's byte for byte only within one build
 * and one set of kernels, since a change to the trainer or to the kernels
 * may change the order of its float sums, and the file records only the
 * latest run's. */
static void note_other_build(const char *campaign, struct store *ro)
{
	struct store_run last;
	char now[sizeof last.version];

	cli_run_build(cli_blas_kernel(), now, sizeof now);
	if (store_read_run(ro, &last) != 0 || last.runs < 1)
		return;
	if (strcmp(last.version, now) != 0)
		fprintf(stderr,
			"supersweep run: note: %s was last run by %s (%s), this is %s: jobs "
			"finished now may differ in their last bits from what that build and "
			"those kernels give; rows already committed stay as they are\n",
			campaign, last.version, last.started, now);
	else if (strstr(cli_version(), "-dirty"))
		fprintf(stderr,
			"supersweep run: note: %s is built from a checkout with uncommitted "
			"changes; whether it trains as the build that last ran %s did cannot "
			"be told\n",
			cli_version(), campaign);
}

/* A name's hash in 31 bits (FNV-1a), for comparing names across ranks. */
static int name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return (int)(h & 0x7fffffff);
}

/* warn_mixed_kernels - collective on COMM: rank 0 warns when not every
 * rank that trains (all but rank 0 when it only DISPATCHes) runs the same
 * OpenBLAS kernels (nodes of different CPU models): a job's last bits then
 * depend on the rank that runs it.  The warning names two ranks that
 * differ. */
static int warn_mixed_kernels(MPI_Comm comm, int rank, bool dispatch)
{
	const bool trains = !(dispatch && rank == 0);
	const int h = name_hash(cli_blas_kernel());
	struct {
		int hash, rank;
	} mine_lo = {trains ? h : INT_MAX, rank}, mine_hi = {trains ? h : -1, rank}, lo, hi;
	char name_lo[64], name_hi[64];

	if (MPI_Allreduce(&mine_lo, &lo, 1, MPI_2INT, MPI_MINLOC, comm) != MPI_SUCCESS ||
	    MPI_Allreduce(&mine_hi, &hi, 1, MPI_2INT, MPI_MAXLOC, comm) != MPI_SUCCESS)
		return ERR_MPI;
	if (lo.hash == hi.hash)
		return 0;
	snprintf(name_lo, sizeof name_lo, "%s", cli_blas_kernel());
	snprintf(name_hi, sizeof name_hi, "%s", cli_blas_kernel());
	if (MPI_Bcast(name_lo, sizeof name_lo, MPI_CHAR, lo.rank, comm) != MPI_SUCCESS ||
	    MPI_Bcast(name_hi, sizeof name_hi, MPI_CHAR, hi.rank, comm) != MPI_SUCCESS)
		return ERR_MPI;
	if (rank == 0)
		fprintf(stderr,
			"supersweep run: warning: rank %d runs OpenBLAS's %s kernels, rank %d "
			"its %s kernels: a job's last bits depend on the rank that runs it; "
			"set OPENBLAS_CORETYPE to one kernel for every rank (docs/MODEL.md)\n",
			lo.rank < hi.rank ? lo.rank : hi.rank,
			lo.rank < hi.rank ? name_lo : name_hi,
			lo.rank < hi.rank ? hi.rank : lo.rank,
			lo.rank < hi.rank ? name_hi : name_lo);
	return 0;
}

/* check_existing - rank 0: the campaign file RO (open read-only) was made
 * from a spec whose text differs from SPEC's: refuse it unless spec_diff
 * finds the same campaign and the job keys match row by row.  Prints the
 * reason. */
static int check_existing(const char *campaign, struct store *ro, const struct spec *spec)
{
	struct spec *old = NULL;
	char err[STORE_ERR_LEN > SPEC_ERR_LEN ? STORE_ERR_LEN : SPEC_ERR_LEN] = "";
	const char *text;
	size_t len = 0;
	uint64_t *keys = NULL;
	int rc;

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
	return rc;
}

/* spec_from_store - the campaign's job points as stored in the file
 * (resume with an identical spec text: no need to expand the spec again,
 * which is the slow part of a 10^6-job resume).  Rank 0 reads the columns
 * and broadcasts them (struct job_point holds no pointers).  Collective.
 * The result is freed with free_store_spec. */
static int spec_from_store(struct store *st, MPI_Comm comm, int rank, struct spec **out)
{
	struct spec *sp = calloc(1, sizeof *sp);
	size_t n = store_njobs(st), len = 0;
	const char *text = store_spec_text(st, &len);
	int rc = 0;

	*out = NULL;
	if (sp) {
		sp->njobs = n;
		sp->jobs = malloc(n * sizeof *sp->jobs);
		sp->text = strdup(text ? text : "");
		sp->text_len = len;
	}
	if (!sp || !sp->jobs || !sp->text)
		rc = ERR_NOMEM;
	if (!rc && store_attr_u64(st, "campaign_seed", &sp->seed) != 0)
		rc = ERR_CORRUPT;
	if (!rc && rank == 0)
		rc = store_read_jobs(st, sp->jobs);
	{
		int all = rc;
		if (MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
			all = ERR_MPI;
		rc = all;
	}
	/* broadcast in pieces below 2^31 bytes */
	for (size_t off = 0; !rc && off < n * sizeof *sp->jobs; off += (size_t)1 << 30) {
		size_t left = n * sizeof *sp->jobs - off;
		int cnt = (int)(left < ((size_t)1 << 30) ? left : ((size_t)1 << 30));
		if (MPI_Bcast((char *)sp->jobs + off, cnt, MPI_BYTE, 0, comm) != MPI_SUCCESS)
			rc = ERR_MPI;
	}
	if (rc) {
		if (sp) {
			free(sp->jobs);
			free(sp->text);
		}
		free(sp);
		return rc;
	}
	*out = sp;
	return 0;
}

static void free_store_spec(struct spec **sp)
{
	if (!*sp)
		return;
	free((*sp)->jobs);
	free((*sp)->text);
	free(*sp);
	*sp = NULL;
}

static int bcast_int(int *v, MPI_Comm comm)
{
	return MPI_Bcast(v, 1, MPI_INT, 0, comm) == MPI_SUCCESS ? 0 : ERR_MPI;
}

int cmd_run(int argc, char **argv, MPI_Comm comm, volatile sig_atomic_t *stop)
{
	struct run_args a;
	struct spec *spec = NULL;
	struct store *st = NULL, *ro = NULL;
	struct lock *lk = NULL;
	struct sched_summary sum;
	char err[STORE_ERR_LEN > SCHED_ERR_LEN ? STORE_ERR_LEN : SCHED_ERR_LEN] = "";
	char serr[SPEC_ERR_LEN] = "", *text = NULL;
	long len = -1;
	int rank, size, rc, exists = 0, same = 0, status = CLI_EXIT_FAILURE;
	bool local_only = false, spec_is_stored = false;
	double t0, t_spec = 0, t_check = 0, t_open;

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

	/* rank 0: read the spec, take the lock, look at an existing file
	 * read-only (a refusal leaves it untouched) */
	t0 = MPI_Wtime();
	if (rank == 0) {
		rc = read_text(a.spec_path, &text, &len);
		if (rc) {
			fprintf(stderr, "supersweep run: %s: %s\n", a.spec_path,
				rc == ERR_NOMEM ? "out of memory" : strerror(errno));
		} else {
			rc = lock_acquire(a.campaign, &lk, err);
			if (rc)
				fprintf(stderr, "supersweep run: %s\n", err);
		}
		if (!rc && access(a.campaign, F_OK) == 0) {
			exists = 1;
			rc = store_open_read(a.campaign, &ro, err);
			if (rc) {
				fprintf(stderr,
					"supersweep run: %s\nsupersweep run: refusing to touch "
					"it\n",
					err);
			} else {
				size_t slen = 0;
				const char *stored = store_spec_text(ro, &slen);
				same = slen == (size_t)len && !memcmp(stored, text, slen);
				note_other_build(a.campaign, ro);
			}
		}
		t_check = MPI_Wtime() - t0;
	}
	if (bcast_int(&rc, comm) || bcast_int(&exists, comm) || bcast_int(&same, comm)) {
		status = -1;
		goto out;
	}
	if (rc) {
		status = rc == ERR_NOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
		goto out;
	}

	/* a new campaign or a different spec text: everyone parses; rank 0
	 * compares with the campaign's spec */
	if (!same) {
		t0 = MPI_Wtime();
		rc = bcast_text(&text, &len, comm, rank);
		if (!rc) {
			rc = spec_load_string(text, (size_t)len, a.spec_path, &spec, serr);
			if (rc && rank == 0)
				fprintf(stderr, "supersweep run: %s\n", serr);
		}
		t_spec = MPI_Wtime() - t0;
		if (!rc && rank == 0 && exists)
			rc = check_existing(a.campaign, ro, spec);
		{
			int all = rc;
			if (MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS) {
				status = -1;
				goto out;
			}
			rc = all;
		}
		if (rc) {
			status = rc == ERR_NOMEM || rc == ERR_MPI ? CLI_EXIT_FAILURE
								  : CLI_EXIT_USAGE;
			goto out;
		}
	}
	store_close(&ro);

	t0 = MPI_Wtime();
	if (exists)
		rc = store_open(a.campaign, comm, &st, err);
	else
		rc = store_create(a.campaign, spec, comm, &st, err);
	if (!rc && same) {
		/* the same text as stored: take the job points from the file */
		rc = spec_from_store(st, comm, rank, &spec);
		spec_is_stored = rc == 0;
		if (rc)
			snprintf(err, sizeof err, "%s: cannot read the job columns (%s)",
				 a.campaign, err_name(rc));
		if (rc)
			store_close(&st);
	}
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
			"supersweep: spec text read and campaign file checked in %.3f s, spec %s "
			"in "
			"%.3f s, file %s in %.3f s\n",
			t_check, same ? "taken from the file" : "parsed", t_spec,
			exists ? "opened" : "created", t_open);
	if (warn_mixed_kernels(comm, rank, a.o.dispatch_only) != 0) {
		store_close(&st);
		status = -1;
		goto out;
	}
	rc = sched_run(spec, st, &a.o, comm, stop, &sum, &local_only, err);
	if (rc && local_only) {
		fprintf(stderr, "supersweep run[%d]: %s\n", rank, err);
		lock_release(&lk);
		if (spec_is_stored)
			free_store_spec(&spec);
		spec_destroy(&spec);
		free(text);
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
		       "%.2f s on %d rank%s; rank 0 CPU: event loop %.3f s, process %.3f s; "
		       "training busy %.1f%%\n",
		       (long long)sum.ran, (long long)sum.stopped, sum.wall_s, size,
		       size > 1 ? "s" : "", sum.rank0_cpu_s, sum.rank0_proc_cpu_s,
		       100.0 * sum.busy_frac);
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
	store_close(&ro);
	lock_release(&lk);
	if (spec_is_stored)
		free_store_spec(&spec);
	spec_destroy(&spec);
	free(text);
	return status;
}
