/* cmd_submit.c - `supersweep submit`: write a campaign's Slurm batch script and submit it.
 *
 * supersweep submit SPEC.yaml -o CAMPAIGN.h5 --time T --nodes N [options]
 *
 * Validates the spec, then writes one batch script (by default beside the
 * campaign file, CAMPAIGN.sbatch) and runs `sbatch` on it, or with --dry-run
 * prints the script and the sbatch command without writing or submitting
 * anything.  The script is slurm/supersweep.sbatch with the #SBATCH lines and
 * settings filled in: nodes x tasks per node are the MPI ranks, cpus per task
 * the threads of every job, `--signal=B:USR1@margin` asks Slurm to warn the
 * batch shell before the time limit, and the shell forwards the warning to
 * the job step, waits for the drain and requeues while work is left.
 *
 * Quoting: every path, module name and argument goes into the script as a
 * single-quoted bash word (any byte but NUL survives), and values on #SBATCH
 * lines are double-quoted the way sbatch's own parser reads them (backslash
 * escapes; a newline cannot be expressed there and is refused).  sbatch is
 * run with execvp, never through a shell.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supersweep/cli.h"
#include "supersweep/err.h"
#include "supersweep/spec.h"

#define SUBMIT_DEFAULT_MARGIN	 120   /* s; Slurm may deliver the signal ~30 s late */
#define SUBMIT_MIN_SAFE_MARGIN	 60    /* s; below this a warning */
#define SUBMIT_DEFAULT_REQUEUES	 10    /* generations after the first */
#define SUBMIT_MAX_SIGNAL_MARGIN 65535 /* s; the largest --signal time Slurm takes */

/* The fixed part of every script: slurm/supersweep.sbatch from its "body"
 * marker to the end, verbatim (tests/slurm/submit_dry_run.sh checks that
 * both agree).  Regenerate after editing the template with
 *   sed -n '/^# ---- body/,$p' slurm/supersweep.sbatch |
 *   sed 's/\\/\\\\/g; s/"/\\"/g; s/\t/\\t/g; s/^/\t"/; s/$/\\n",/'
 */
static const char *const script_body[] = {
	/* BEGIN BODY */
	"# ---- body: the same in every script (supersweep submit writes it verbatim) ----\n",
	"ss_log() {\n",
	"\tprintf 'supersweep-batch: %s %s\\n' \"$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)\" \"$*\"\n",
	"}\n",
	"\n",
	"# Drain requests: USR1 (sent by Slurm before the time limit), TERM (scancel,\n",
	"# time limit, node shutdown) and INT.  The first one is forwarded to the job\n",
	"# step as USR1, which srun and mpirun pass on to every rank.  Traps are set\n",
	"# before anything else so that an early signal cannot kill this shell.\n",
	"ss_step=\n",
	"ss_drain_sig=\n",
	"ss_drain_t0=\n",
	"ss_interrupted=0\n",
	"ss_stopped=\n",
	"ss_on_signal() {\n",
	"\tss_interrupted=1\n",
	"\tif [ \"$1\" != USR1 ]; then\n",
	"\t\tss_stopped=$1 # TERM or INT, even during a drain: no requeue\n",
	"\tfi\n",
	"\tif [ -n \"$ss_drain_sig\" ]; then\n",
	"\t\tss_log \"SIG$1 received (drain already requested)\"\n",
	"\t\treturn\n",
	"\tfi\n",
	"\tss_drain_sig=$1\n",
	"\tss_drain_t0=$(date +%s.%N)\n",
	"\tif [ -n \"$ss_step\" ]; then\n",
	"\t\tss_log \"SIG$1 received: forwarding USR1 to the job step (pid $ss_step) to drain\"\n",
	"\t\tkill -USR1 \"$ss_step\" 2>/dev/null\n",
	"\telse\n",
	"\t\tss_log \"SIG$1 received before the job step started\"\n",
	"\tfi\n",
	"}\n",
	"trap 'ss_on_signal USR1' USR1\n",
	"trap 'ss_on_signal TERM' TERM\n",
	"trap 'ss_on_signal INT' INT\n",
	"\n",
	"ss_gen=${SLURM_RESTART_COUNT:-0}\n",
	"ss_log \"job ${SLURM_JOB_ID:-?} generation $ss_gen on ${SLURM_JOB_NODELIST:-?}:\" \\\n",
	"\t\"${SLURM_NTASKS:-1} rank(s), ${SLURM_CPUS_PER_TASK:-1} cpu(s) per rank\"\n",
	"\n",
	"# Environment modules (site software stacks).\n",
	"if [ ${#SS_MODULES[@]} -gt 0 ]; then\n",
	"\tif ! type module >/dev/null 2>&1; then\n",
	"\t\tfor ss_f in /etc/profile.d/lmod.sh /etc/profile.d/modules.sh \\\n",
	"\t\t\t/usr/share/lmod/lmod/init/bash /usr/share/modules/init/bash; do\n",
	"\t\t\tif [ -r \"$ss_f\" ]; then\n",
	"\t\t\t\t. \"$ss_f\"\n",
	"\t\t\t\tbreak\n",
	"\t\t\tfi\n",
	"\t\tdone\n",
	"\tfi\n",
	"\tif ! module load \"${SS_MODULES[@]}\"; then\n",
	"\t\tss_log \"module load ${SS_MODULES[*]} failed\"\n",
	"\t\texit 1\n",
	"\tfi\n",
	"fi\n",
	"\n",
	"# Threads per job: every rank trains one job at a time with this many\n",
	"# threads.  `supersweep run` reads SUPERSWEEP_THREADS and trains every job\n",
	"# with it instead of the spec's train.threads (an execution setting, not part\n",
	"# of job keys; docs/SLURM.md, \"Ranks and threads\").\n",
	"ss_cpus=${SLURM_CPUS_PER_TASK:-1}\n",
	"ss_threads=${SS_THREADS:-$ss_cpus}\n",
	"export SUPERSWEEP_THREADS=$ss_threads\n",
	"export OPENBLAS_NUM_THREADS=$ss_threads OMP_NUM_THREADS=$ss_threads\n",
	"\n",
	"case $SS_LAUNCHER in\n",
	"srun)\n",
	"\t# Slurm >= 22.05: srun no longer inherits --cpus-per-task from the\n",
	"\t# allocation; pass it on explicitly.\n",
	"\tss_launch=(srun --mpi=pmix --kill-on-bad-exit=1 --cpus-per-task=\"$ss_cpus\")\n",
	"\t;;\n",
	"mpirun)\n",
	"\tss_launch=(mpirun -np \"${SLURM_NTASKS:-1}\" --bind-to none\n",
	"\t\t-x SUPERSWEEP_THREADS -x OPENBLAS_NUM_THREADS -x OMP_NUM_THREADS)\n",
	"\t;;\n",
	"*)\n",
	"\tss_log \"unknown launcher '$SS_LAUNCHER' (srun or mpirun)\"\n",
	"\texit 2\n",
	"\t;;\n",
	"esac\n",
	"\n",
	"if [ -n \"$ss_drain_sig\" ]; then\n",
	"\tss_log \"drain requested before start: no step launched\"\n",
	"\tss_rc=3\n",
	"else\n",
	"\tss_cmd=(\"${ss_launch[@]}\" \"$SS_PROGRAM\" run \"$SS_SPEC\" -o \"$SS_CAMPAIGN\")\n",
	"\tss_cmd+=(\"${SS_RUN_ARGS[@]}\")\n",
	"\tss_log \"launching: ${ss_cmd[*]}\"\n",
	"\t\"${ss_cmd[@]}\" &\n",
	"\tss_step=$!\n",
	"\t# A signal that arrived between the fork and now has not been forwarded.\n",
	"\tif [ -n \"$ss_drain_sig\" ]; then\n",
	"\t\tkill -USR1 \"$ss_step\" 2>/dev/null\n",
	"\tfi\n",
	"\t# `wait` returns early (status > 128) when a trapped signal arrives:\n",
	"\t# then wait again for the step.  A second wait on a step that was already\n",
	"\t# reaped reports 127; the status from before stands.\n",
	"\tss_rc=\n",
	"\twhile :; do\n",
	"\t\tss_interrupted=0\n",
	"\t\twait \"$ss_step\"\n",
	"\t\tss_r=$?\n",
	"\t\tif [ \"$ss_r\" -eq 127 ] && [ -n \"$ss_rc\" ]; then\n",
	"\t\t\tbreak\n",
	"\t\tfi\n",
	"\t\tss_rc=$ss_r\n",
	"\t\tif [ \"$ss_interrupted\" -eq 0 ] || [ \"$ss_r\" -le 128 ]; then\n",
	"\t\t\tbreak\n",
	"\t\tfi\n",
	"\tdone\n",
	"\tif [ -n \"$ss_drain_t0\" ]; then\n",
	"\t\tss_t1=$(date +%s.%N)\n",
	"\t\tss_dt=$(awk -v a=\"$ss_drain_t0\" -v b=\"$ss_t1\" 'BEGIN { printf \"%.2f\", b - a "
	"}')\n",
	"\t\tss_log \"job step exited with status $ss_rc, $ss_dt s after SIG$ss_drain_sig\"\n",
	"\telse\n",
	"\t\tss_log \"job step exited with status $ss_rc\"\n",
	"\tfi\n",
	"\t# srun can report 0 for a step whose tasks never launched.\n",
	"\tif [ \"$ss_rc\" -eq 0 ] && [ ! -e \"$SS_CAMPAIGN\" ]; then\n",
	"\t\tss_log \"the job step reported success but the campaign file does not exist:\" \\\n",
	"\t\t\t\"did the launch fail? (see above)\"\n",
	"\t\tss_rc=1\n",
	"\tfi\n",
	"fi\n",
	"\n",
	"# Exit status: 0 campaign done, 3 work left (requeued when allowed), anything\n",
	"# else the step's failure (not requeued: a rerun would fail the same way).\n",
	"# A drain on TERM or INT (scancel, a time limit reached without warning, a\n",
	"# shutdown) is never requeued: `scancel JOB` must stop the campaign.\n",
	"case $ss_rc in\n",
	"0)\n",
	"\tss_log \"campaign done\"\n",
	"\texit 0\n",
	"\t;;\n",
	"3)\n",
	"\tif [ -n \"$ss_stopped\" ]; then\n",
	"\t\tss_log \"work left; not requeued after SIG$ss_stopped; submit again to continue\"\n",
	"\t\texit 3\n",
	"\tfi\n",
	"\tif [ \"$ss_gen\" -ge \"$SS_MAX_REQUEUES\" ]; then\n",
	"\t\tss_log \"work left; not requeued: generation $ss_gen reached the cap\" \\\n",
	"\t\t\t\"(SS_MAX_REQUEUES=$SS_MAX_REQUEUES); submit again to continue\"\n",
	"\t\texit 3\n",
	"\tfi\n",
	"\tif [ -z \"${SLURM_JOB_ID:-}\" ]; then\n",
	"\t\tss_log \"work left (not under Slurm: run again to continue)\"\n",
	"\t\texit 3\n",
	"\tfi\n",
	"\tss_log \"work left: requeueing job $SLURM_JOB_ID (generation $((ss_gen + 1)))\"\n",
	"\tif ! scontrol requeue \"$SLURM_JOB_ID\"; then\n",
	"\t\tss_log \"scontrol requeue failed: submit again to continue\"\n",
	"\tfi\n",
	"\texit 3\n",
	"\t;;\n",
	"*)\n",
	"\tss_log \"job step failed with status $ss_rc: not requeued\"\n",
	"\texit \"$ss_rc\"\n",
	"\t;;\n",
	"esac\n",
	/* END BODY */
	NULL,
};

/* A growable text buffer; ERR sticks once an allocation failed. */
struct sbuf {
	char *p;    /* NUL-terminated text (owned) */
	size_t len; /* bytes in p, excluding the NUL */
	size_t cap; /* bytes allocated */
	int err;    /* 0 or ERR_NOMEM */
};

static void sbuf_reserve(struct sbuf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->err || b->len + more + 1 <= b->cap)
		return;
	cap = b->cap ? b->cap : 1024;
	while (cap < b->len + more + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->err = ERR_NOMEM;
		return;
	}
	b->p = p;
	b->cap = cap;
}

static void sbuf_putn(struct sbuf *b, const char *s, size_t n)
{
	sbuf_reserve(b, n);
	if (b->err)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sbuf_puts(struct sbuf *b, const char *s)
{
	sbuf_putn(b, s, strlen(s));
}

static void sbuf_putc(struct sbuf *b, char c)
{
	sbuf_putn(b, &c, 1);
}

__attribute__((format(printf, 2, 3))) static void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = ERR_INVAL;
		return;
	}
	sbuf_reserve(b, (size_t)n);
	if (b->err)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* sbuf_shell_word - append S as one single-quoted bash word: 'it'\''s'. */
static void sbuf_shell_word(struct sbuf *b, const char *s)
{
	sbuf_putc(b, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			sbuf_puts(b, "'\\''");
		else
			sbuf_putc(b, *s);
	}
	sbuf_putc(b, '\'');
}

/* sbuf_sbatch_word - append S as one argument of an #SBATCH line, the way
 * sbatch parses those lines: double quotes group (also spaces and '#'),
 * a backslash escapes the next character.  S must hold no newline. */
static void sbuf_sbatch_word(struct sbuf *b, const char *s)
{
	sbuf_putc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			sbuf_putc(b, '\\');
		sbuf_putc(b, *s);
	}
	sbuf_putc(b, '"');
}

static void sbuf_free(struct sbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* What the user asked for; strings are borrowed from argv. */
struct submit_opts {
	const char *spec_path; /* SPEC.yaml as given */
	const char *campaign;  /* -o CAMPAIGN.h5 as given */
	const char *time;      /* --time in a Slurm format */
	long time_s;	       /* the time limit, s */
	long nodes;	       /* --nodes, >= 1 */
	long ntasks_per_node;  /* --ntasks-per-node: ranks per node, >= 1 */
	long cpus_per_task;    /* --cpus-per-task: cores per rank, >= 1 */
	long threads;	       /* --threads per job; 0 = cpus per task */
	long margin;	       /* --margin: USR1 this many s before the limit */
	long max_requeues;     /* --max-requeues: generations after the first */
	const char *partition; /* --partition or NULL */
	const char *account;   /* --account or NULL */
	const char *job_name;  /* --job-name or NULL (from the spec) */
	const char *script;    /* --script PATH or NULL (CAMPAIGN.sbatch) */
	const char *log;       /* --log PATH or NULL (CAMPAIGN.slurm-%j.log) */
	const char *launcher;  /* "srun" or "mpirun" */
	const char **modules;  /* (nmodules) --module names */
	size_t nmodules;
	const char **sbatch_args; /* (nsbatch) --sbatch options, passed to sbatch */
	size_t nsbatch;
	const char **run_args; /* (nrun) --run options, passed to `supersweep run` */
	size_t nrun;
	bool dry_run; /* print, do not write or submit */
	bool wait;    /* sbatch --wait */
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: supersweep submit SPEC.yaml -o CAMPAIGN.h5 --time T --nodes N [options]\n"
		"\n"
		"Write a Slurm batch script that runs or resumes the campaign and submit it.\n"
		"Ranks = nodes x tasks per node; every job trains with cpus-per-task threads.\n"
		"\n"
		"  -o, --output CAMPAIGN.h5    the campaign file (created or resumed)\n"
		"  --time T                    time limit per generation (Slurm format:\n"
		"                              MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS)\n"
		"  --nodes N                   nodes\n"
		"  --ntasks-per-node K         MPI ranks per node (default 1)\n"
		"  --cpus-per-task C           cores per rank (default: the spec's threads)\n"
		"  --threads T                 threads per job (default: cpus per task)\n"
		"  --partition P, --account A  site settings (docs/SLURM.md)\n"
		"  --module M                  environment module to load (repeatable)\n"
		"  --margin SECONDS            drain this long before the limit (default %d;\n"
		"                              0: no warning, the job is killed at its limit)\n"
		"  --max-requeues N            requeue at most N times (default %d)\n"
		"  --launcher srun|mpirun      srun --mpi=pmix (default) or mpirun\n"
		"  --job-name NAME             (default: the spec's name)\n"
		"  --script PATH               where to write the script (default "
		"CAMPAIGN.sbatch)\n"
		"  --log PATH                  Slurm output (default CAMPAIGN.slurm-%%j.log)\n"
		"  --sbatch OPTION             pass OPTION to sbatch (repeatable)\n"
		"  --run OPTION                pass OPTION to `supersweep run` (repeatable)\n"
		"  --wait                      wait for the job to end (sbatch --wait)\n"
		"  --dry-run                   print the script and the sbatch command only\n"
		"\n"
		"Exit status: 0 submitted (with --wait: the job's status), 1 sbatch failed,\n"
		"2 bad usage or spec.\n",
		SUBMIT_DEFAULT_MARGIN, SUBMIT_DEFAULT_REQUEUES);
}

/* parse_long - S as a decimal integer in [MIN, MAX]; OPT names it in errors. */
static int parse_long(const char *opt, const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr,
			"supersweep submit: %s: expected an integer from %ld to %ld, got '%s'\n",
			opt, min, max, s);
		return ERR_INVAL;
	}
	*out = v;
	return 0;
}

/* parse_time - a Slurm time limit (minutes, minutes:seconds,
 * hours:minutes:seconds, days-hours, days-hours:minutes,
 * days-hours:minutes:seconds) in seconds.  Returns 0 or ERR_INVAL. */
static int parse_time(const char *s, long *secs)
{
	long f[4] = {0, 0, 0, 0}, days = 0, t;
	int nf = 0;
	bool has_days = false;
	const char *p = s;
	char *end;

	if (!*s || strlen(s) > 32)
		return ERR_INVAL;
	if (strchr(s, '-')) {
		if (*p < '0' || *p > '9')
			return ERR_INVAL;
		errno = 0;
		days = strtol(p, &end, 10);
		if (errno || *end != '-' || days > 365)
			return ERR_INVAL;
		has_days = true;
		p = end + 1;
	}
	for (;;) {
		if (*p < '0' || *p > '9' || nf == 3)
			return ERR_INVAL;
		errno = 0;
		f[nf++] = strtol(p, &end, 10);
		if (errno || f[nf - 1] > 1000000)
			return ERR_INVAL;
		if (*end == '\0')
			break;
		if (*end != ':')
			return ERR_INVAL;
		p = end + 1;
	}
	if (has_days) { /* D-H, D-H:M, D-H:M:S */
		t = days * 86400 + f[0] * 3600 + f[1] * 60 + f[2];
	} else if (nf == 1) { /* M */
		t = f[0] * 60;
	} else if (nf == 2) { /* M:S */
		t = f[0] * 60 + f[1];
	} else { /* H:M:S */
		t = f[0] * 3600 + f[1] * 60 + f[2];
	}
	if (t <= 0)
		return ERR_INVAL;
	*secs = t;
	return 0;
}

/* no_newline - OPT's value S must fit on one #SBATCH line. */
static int no_newline(const char *opt, const char *s)
{
	for (const char *p = s; *p; p++)
		if (*p == '\n' || *p == '\r') {
			fprintf(stderr,
				"supersweep submit: %s: a newline cannot be passed to Slurm\n",
				opt);
			return ERR_INVAL;
		}
	if (!*s) {
		fprintf(stderr, "supersweep submit: %s: empty value\n", opt);
		return ERR_INVAL;
	}
	return 0;
}

/* parse_args - fill OPTS from ARGV (argv[0] is "submit").  Returns 0,
 * ERR_INVAL (message printed), ERR_NOMEM, or 1 for --help (printed). */
static int parse_args(int argc, char **argv, struct submit_opts *o)
{
	bool have_nodes = false;
	int rc;

	o->ntasks_per_node = 1;
	o->cpus_per_task = 0; /* 0: the spec's threads per job */
	o->margin = SUBMIT_DEFAULT_MARGIN;
	o->max_requeues = SUBMIT_DEFAULT_REQUEUES;
	o->launcher = "srun";
	o->modules = calloc((size_t)argc + 1, sizeof *o->modules);
	o->sbatch_args = calloc((size_t)argc + 1, sizeof *o->sbatch_args);
	o->run_args = calloc((size_t)argc + 1, sizeof *o->run_args);
	if (!o->modules || !o->sbatch_args || !o->run_args) {
		fprintf(stderr, "supersweep submit: out of memory\n");
		return ERR_NOMEM;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL, *eq;
		char name[64];
		size_t nlen;

		if (a[0] != '-' || !strcmp(a, "-")) {
			if (o->spec_path) {
				fprintf(stderr, "supersweep submit: unexpected argument '%s'\n", a);
				return ERR_INVAL;
			}
			o->spec_path = a;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 1;
		}
		if (!strcmp(a, "--dry-run")) {
			o->dry_run = true;
			continue;
		}
		if (!strcmp(a, "--wait")) {
			o->wait = true;
			continue;
		}
		/* options with a value: --name VALUE or --name=VALUE, -o VALUE */
		eq = strncmp(a, "--", 2) ? NULL : strchr(a, '=');
		nlen = eq ? (size_t)(eq - a) : strlen(a);
		if (nlen >= sizeof name) {
			fprintf(stderr, "supersweep submit: unknown option '%s'\n", a);
			return ERR_INVAL;
		}
		memcpy(name, a, nlen);
		name[nlen] = '\0';
		if (eq) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			fprintf(stderr, "supersweep submit: %s needs a value\n", name);
			return ERR_INVAL;
		}
		rc = 0;
		if (!strcmp(name, "-o") || !strcmp(name, "--output")) {
			o->campaign = val;
		} else if (!strcmp(name, "--time")) {
			o->time = val;
			if (parse_time(val, &o->time_s) != 0) {
				fprintf(stderr,
					"supersweep submit: --time: expected MM, MM:SS, HH:MM:SS, "
					"D-HH, "
					"D-HH:MM or D-HH:MM:SS, got '%s'\n",
					val);
				rc = ERR_INVAL;
			}
		} else if (!strcmp(name, "--nodes")) {
			rc = parse_long(name, val, 1, 100000, &o->nodes);
			have_nodes = true;
		} else if (!strcmp(name, "--ntasks-per-node")) {
			rc = parse_long(name, val, 1, 100000, &o->ntasks_per_node);
		} else if (!strcmp(name, "--cpus-per-task")) {
			rc = parse_long(name, val, 1, 100000, &o->cpus_per_task);
		} else if (!strcmp(name, "--threads")) {
			rc = parse_long(name, val, 1, 100000, &o->threads);
		} else if (!strcmp(name, "--margin")) {
			rc = parse_long(name, val, 0, SUBMIT_MAX_SIGNAL_MARGIN, &o->margin);
		} else if (!strcmp(name, "--max-requeues")) {
			rc = parse_long(name, val, 0, 100000, &o->max_requeues);
		} else if (!strcmp(name, "--partition")) {
			o->partition = val;
			rc = no_newline(name, val);
		} else if (!strcmp(name, "--account")) {
			o->account = val;
			rc = no_newline(name, val);
		} else if (!strcmp(name, "--job-name")) {
			o->job_name = val;
			rc = no_newline(name, val);
		} else if (!strcmp(name, "--log")) {
			o->log = val;
			rc = no_newline(name, val);
		} else if (!strcmp(name, "--script")) {
			o->script = val;
		} else if (!strcmp(name, "--module")) {
			o->modules[o->nmodules++] = val;
		} else if (!strcmp(name, "--sbatch")) {
			o->sbatch_args[o->nsbatch++] = val;
		} else if (!strcmp(name, "--run")) {
			o->run_args[o->nrun++] = val;
		} else if (!strcmp(name, "--launcher")) {
			o->launcher = val;
			if (strcmp(val, "srun") && strcmp(val, "mpirun")) {
				fprintf(stderr,
					"supersweep submit: --launcher: expected srun or mpirun, "
					"got "
					"'%s'\n",
					val);
				rc = ERR_INVAL;
			}
		} else {
			fprintf(stderr, "supersweep submit: unknown option '%s' (see --help)\n", a);
			rc = ERR_INVAL;
		}
		if (rc)
			return rc;
	}
	if (!o->spec_path || !o->campaign || !o->time || !have_nodes) {
		fprintf(stderr, "supersweep submit: needs SPEC.yaml, -o CAMPAIGN.h5, --time and "
				"--nodes (see --help)\n");
		return ERR_INVAL;
	}
	if (!*o->campaign || !*o->spec_path || (o->script && !*o->script)) {
		fprintf(stderr, "supersweep submit: empty file name\n");
		return ERR_INVAL;
	}
	if (o->margin >= o->time_s) {
		fprintf(stderr,
			"supersweep submit: --margin %ld s is not shorter than the time limit %s "
			"(%ld s)\n",
			o->margin, o->time, o->time_s);
		return ERR_INVAL;
	}
	if (o->margin == 0)
		fprintf(stderr,
			"supersweep submit: warning: --margin 0: no warning signal; the job "
			"is killed at its time limit and loses the work since the last "
			"commit\n");
	else if (o->margin < SUBMIT_MIN_SAFE_MARGIN)
		fprintf(stderr,
			"supersweep submit: warning: --margin %ld s: Slurm may deliver the warning "
			"signal up to ~30 s late; a drain that does not finish before the limit "
			"loses the work since the last checkpoint (docs/SLURM.md)\n",
			o->margin);
	return 0;
}

/* abs_path - P made absolute against the working directory (not resolved:
 * the file need not exist).  Returns 0 and *OUT (given), or ERR_IO/ERR_NOMEM. */
static int abs_path(const char *p, char **out)
{
	char *cwd;
	struct sbuf b = {0};

	*out = NULL;
	if (p[0] == '/') {
		*out = strdup(p);
		return *out ? 0 : ERR_NOMEM;
	}
	cwd = getcwd(NULL, 0);
	if (!cwd) {
		fprintf(stderr, "supersweep submit: getcwd: %s\n", strerror(errno));
		return ERR_IO;
	}
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	sbuf_puts(&b, cwd);
	if (strcmp(cwd, "/"))
		sbuf_putc(&b, '/');
	sbuf_puts(&b, p);
	free(cwd);
	if (b.err) {
		sbuf_free(&b);
		return ERR_NOMEM;
	}
	*out = b.p;
	return 0;
}

/* self_path - the absolute path of this program (what the job will run). */
static int self_path(char **out)
{
	char buf[PATH_MAX + 1];
	ssize_t n;

	*out = NULL;
	n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	if (n <= 0 || (size_t)n >= sizeof buf - 1) {
		fprintf(stderr, "supersweep submit: cannot find this program's path: %s\n",
			n < 0 ? strerror(errno) : "too long");
		return ERR_IO;
	}
	buf[n] = '\0';
	*out = strdup(buf);
	return *out ? 0 : ERR_NOMEM;
}

/* derived_path - CAMPAIGN without a trailing ".h5", plus SUFFIX; with
 * PERCENT, every '%' of the campaign's name doubled (Slurm's file-name
 * patterns read "%%" as "%"). */
static int derived_path(const char *campaign, const char *suffix, bool percent, char **out)
{
	size_t n = strlen(campaign);
	struct sbuf b = {0};

	if (n > 3 && !strcmp(campaign + n - 3, ".h5"))
		n -= 3;
	for (size_t i = 0; i < n; i++) {
		if (percent && campaign[i] == '%')
			sbuf_putc(&b, '%');
		sbuf_putc(&b, campaign[i]);
	}
	sbuf_puts(&b, suffix);
	if (b.err) {
		sbuf_free(&b);
		*out = NULL;
		return ERR_NOMEM;
	}
	*out = b.p;
	return 0;
}

/* default_job_name - NAME (e.g. the spec's) reduced to [A-Za-z0-9_.+-],
 * at most 64 bytes, "supersweep" when nothing is left. */
static void default_job_name(const char *name, char *buf, size_t len)
{
	size_t j = 0;

	for (const char *p = name ? name : ""; *p && j + 1 < len && j < 64; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '+' || c == '-';
		buf[j++] = ok ? c : '_';
	}
	buf[j] = '\0';
	if (j == 0)
		snprintf(buf, len, "supersweep");
}

/* Absolute paths and names the script uses (owned). */
struct submit_paths {
	char *program;	      /* this binary */
	char *spec;	      /* the spec, absolute */
	char *campaign;	      /* the campaign file, absolute */
	char *script;	      /* the batch script, absolute */
	char *log;	      /* Slurm's output file pattern, absolute */
	const char *job_name; /* --job-name (borrowed) or job_name_buf */
	char job_name_buf[80];
};

static void paths_free(struct submit_paths *p)
{
	free(p->program);
	free(p->spec);
	free(p->campaign);
	free(p->script);
	free(p->log);
	memset(p, 0, sizeof *p);
}

/* sbatch_line - "#SBATCH --OPT=VALUE" with VALUE quoted for sbatch. */
static void sbatch_line(struct sbuf *b, const char *opt, const char *value)
{
	sbuf_printf(b, "#SBATCH --%s=", opt);
	sbuf_sbatch_word(b, value);
	sbuf_putc(b, '\n');
}

/* build_script - the whole batch script into B. */
static void build_script(const struct submit_opts *o, const struct submit_paths *p,
			 const char *spec_name, size_t njobs, struct sbuf *b)
{
	char cname[80];

	default_job_name(spec_name, cname, sizeof cname);
	sbuf_puts(b, "#!/bin/bash\n");
	sbuf_printf(b, "# Batch script of supersweep campaign %s", cname);
	if (njobs)
		sbuf_printf(b, " (%zu jobs)", njobs);
	sbuf_printf(b,
		    ",\n# written by `supersweep submit` (%s).\n"
		    "# Submit again to regenerate; docs/SLURM.md explains every line.\n",
		    cli_version());
	sbatch_line(b, "job-name", p->job_name);
	sbuf_printf(b, "#SBATCH --nodes=%ld\n", o->nodes);
	sbuf_printf(b, "#SBATCH --ntasks-per-node=%ld\n", o->ntasks_per_node);
	sbuf_printf(b, "#SBATCH --cpus-per-task=%ld\n", o->cpus_per_task);
	sbatch_line(b, "time", o->time);
	if (o->margin > 0)
		sbuf_printf(b, "#SBATCH --signal=B:USR1@%ld\n", o->margin);
	sbuf_puts(b, "#SBATCH --requeue\n");
	sbuf_puts(b, "#SBATCH --open-mode=append\n");
	sbatch_line(b, "output", p->log);
	if (o->partition)
		sbatch_line(b, "partition", o->partition);
	if (o->account)
		sbatch_line(b, "account", o->account);
	sbuf_puts(b, "\n# Settings (single-quoted bash words).\n");
	sbuf_puts(b, "SS_PROGRAM=");
	sbuf_shell_word(b, p->program);
	sbuf_puts(b, "\nSS_SPEC=");
	sbuf_shell_word(b, p->spec);
	sbuf_puts(b, "\nSS_CAMPAIGN=");
	sbuf_shell_word(b, p->campaign);
	sbuf_printf(b, "\nSS_LAUNCHER=%s\n", o->launcher);
	sbuf_printf(b, "SS_MAX_REQUEUES=%ld\n", o->max_requeues);
	if (o->threads)
		sbuf_printf(b, "SS_THREADS=%ld\n", o->threads);
	else
		sbuf_puts(b, "SS_THREADS=\n");
	sbuf_puts(b, "SS_MODULES=(");
	for (size_t i = 0; i < o->nmodules; i++) {
		if (i)
			sbuf_putc(b, ' ');
		sbuf_shell_word(b, o->modules[i]);
	}
	sbuf_puts(b, ")\nSS_RUN_ARGS=(");
	for (size_t i = 0; i < o->nrun; i++) {
		if (i)
			sbuf_putc(b, ' ');
		sbuf_shell_word(b, o->run_args[i]);
	}
	sbuf_puts(b, ")\n\n");
	for (size_t i = 0; script_body[i]; i++)
		sbuf_puts(b, script_body[i]);
}

/* write_atomic - TEXT (LEN bytes) to PATH with MODE: a temporary file in the
 * same directory, fsync, rename.  Returns 0 or ERR_IO/ERR_NOMEM (message). */
static int write_atomic(const char *path, const char *text, size_t len, mode_t mode)
{
	struct sbuf tmp = {0};
	int fd = -1, rc = ERR_IO;
	size_t off = 0;

	sbuf_printf(&tmp, "%s.tmp.XXXXXX", path);
	if (tmp.err) {
		rc = ERR_NOMEM;
		goto out;
	}
	fd = mkstemp(tmp.p);
	if (fd < 0) {
		fprintf(stderr, "supersweep submit: cannot write '%s': %s\n", path,
			strerror(errno));
		goto out_name;
	}
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			fprintf(stderr, "supersweep submit: writing '%s': %s\n", tmp.p,
				strerror(errno));
			goto out_unlink;
		}
		off += (size_t)w;
	}
	if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
		fprintf(stderr, "supersweep submit: writing '%s': %s\n", tmp.p, strerror(errno));
		goto out_unlink;
	}
	if (close(fd) != 0) {
		fd = -1;
		fprintf(stderr, "supersweep submit: writing '%s': %s\n", tmp.p, strerror(errno));
		goto out_unlink;
	}
	fd = -1;
	if (rename(tmp.p, path) != 0) {
		fprintf(stderr, "supersweep submit: renaming '%s' to '%s': %s\n", tmp.p, path,
			strerror(errno));
		goto out_unlink;
	}
	rc = 0;
	goto out_name;
out_unlink:
	unlink(tmp.p);
out_name:
	if (fd >= 0)
		close(fd);
out:
	sbuf_free(&tmp);
	return rc;
}

/* sbatch_argv - "sbatch [--wait] [--sbatch options...] SCRIPT" (pointers
 * borrowed; the array is given, free() it). */
static const char **sbatch_argv(const struct submit_opts *o, const char *script)
{
	const char **av = calloc(o->nsbatch + 4, sizeof *av);
	size_t n = 0;

	if (!av)
		return NULL;
	av[n++] = "sbatch";
	if (o->wait)
		av[n++] = "--wait";
	for (size_t i = 0; i < o->nsbatch; i++)
		av[n++] = o->sbatch_args[i];
	av[n++] = script;
	av[n] = NULL;
	return av;
}

/* run_sbatch - fork and exec sbatch (found on PATH; no shell); returns the
 * exit status for main: 0 submitted; with --wait the job's status when it
 * is one of ours (0-3), else 1. */
static int run_sbatch(const char **av)
{
	pid_t pid, w;
	int status;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "supersweep submit: fork: %s\n", strerror(errno));
		return CLI_EXIT_FAILURE;
	}
	if (pid == 0) {
		execvp(av[0], (char *const *)av);
		fprintf(stderr, "supersweep submit: cannot run sbatch: %s (is Slurm installed?)\n",
			strerror(errno));
		_exit(127);
	}
	do
		w = waitpid(pid, &status, 0);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		fprintf(stderr, "supersweep submit: waitpid: %s\n", strerror(errno));
		return CLI_EXIT_FAILURE;
	}
	if (WIFEXITED(status)) {
		int code = WEXITSTATUS(status);
		if (code == 0)
			return CLI_EXIT_OK;
		if (code == 127)
			return CLI_EXIT_FAILURE;
		fprintf(stderr, "supersweep submit: sbatch exited with status %d\n", code);
		return code <= CLI_EXIT_INTERRUPTED ? code : CLI_EXIT_FAILURE;
	}
	fprintf(stderr, "supersweep submit: sbatch killed by signal %d\n",
		WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return CLI_EXIT_FAILURE;
}

/* append_command - AV as one shell command line (each word single-quoted
 * when it needs quoting) appended to B. */
static void append_command(struct sbuf *b, const char **av)
{
	for (size_t i = 0; av[i]; i++) {
		bool plain = *av[i] != '\0';
		for (const char *s = av[i]; *s; s++)
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "0123456789_-.,/:=@%+",
				    *s))
				plain = false;
		if (i)
			sbuf_putc(b, ' ');
		if (plain)
			sbuf_puts(b, av[i]);
		else
			sbuf_shell_word(b, av[i]);
	}
}

/* struct spec_facts - what the script needs from the spec. */
struct spec_facts {
	char name[256];	     /* the campaign's name */
	size_t njobs;	     /* job points */
	int64_t max_threads; /* the largest train.threads of any job */
};

/* check_spec - the spec must load (the same checks and messages as `plan`).
 * Returns 0 and fills F, or ERR_* (message printed). */
static int check_spec(const char *path, struct spec_facts *f)
{
	struct spec *spec = NULL;
	char *err = malloc(SPEC_ERR_LEN);
	int rc;

	memset(f, 0, sizeof *f);
	if (!err) {
		fprintf(stderr, "supersweep submit: out of memory\n");
		return ERR_NOMEM;
	}
	err[0] = '\0';
	rc = spec_load_file(path, &spec, err);
	if (rc) {
		fprintf(stderr, "supersweep submit: %s\n", err[0] ? err : err_name(rc));
		goto out;
	}
	snprintf(f->name, sizeof f->name, "%s", spec->name ? spec->name : "");
	f->njobs = spec->njobs;
	f->max_threads = 1;
	for (size_t i = 0; i < spec->njobs; i++)
		if (spec->jobs[i].threads > f->max_threads)
			f->max_threads = spec->jobs[i].threads;
out:
	spec_destroy(&spec);
	free(err);
	return rc;
}

int cmd_submit(int argc, char **argv)
{
	struct submit_opts o;
	struct submit_paths p;
	struct sbuf script = {0};
	const char **av = NULL;
	struct spec_facts facts;
	int rc, ret = CLI_EXIT_USAGE;

	memset(&o, 0, sizeof o);
	memset(&p, 0, sizeof p);
	rc = parse_args(argc, argv, &o);
	if (rc == 1) {
		ret = CLI_EXIT_OK;
		goto out;
	}
	if (rc == ERR_NOMEM) {
		ret = CLI_EXIT_FAILURE;
		goto out;
	}
	if (rc)
		goto out;
	rc = check_spec(o.spec_path, &facts);
	if (rc) {
		if (rc == ERR_NOMEM)
			ret = CLI_EXIT_FAILURE;
		goto out;
	}
	if (!o.cpus_per_task) /* default: the spec's threads per job */
		o.cpus_per_task = facts.max_threads;
	if ((double)o.nodes * (double)o.ntasks_per_node > (double)facts.njobs)
		fprintf(stderr,
			"supersweep submit: warning: %ld ranks for %zu jobs: %.0f ranks will have "
			"nothing to do\n",
			o.nodes * o.ntasks_per_node, facts.njobs,
			(double)o.nodes * (double)o.ntasks_per_node - (double)facts.njobs);
	if (o.threads ? o.threads > o.cpus_per_task : facts.max_threads > o.cpus_per_task)
		fprintf(stderr,
			"supersweep submit: warning: %ld threads per job on %ld cpus per task: "
			"the threads will share cores\n",
			o.threads ? o.threads : (long)facts.max_threads, o.cpus_per_task);
	ret = CLI_EXIT_FAILURE;
	rc = self_path(&p.program);
	if (!rc)
		rc = abs_path(o.spec_path, &p.spec);
	if (!rc)
		rc = abs_path(o.campaign, &p.campaign);
	if (!rc)
		rc = o.script ? abs_path(o.script, &p.script)
			      : derived_path(p.campaign, ".sbatch", false, &p.script);
	if (!rc)
		rc = o.log ? abs_path(o.log, &p.log)
			   : derived_path(p.campaign, ".slurm-%j.log", true, &p.log);
	if (rc)
		goto out_nomem_or_io;
	if (no_newline("log path", p.log)) {
		ret = CLI_EXIT_USAGE;
		goto out;
	}
	default_job_name(facts.name, p.job_name_buf, sizeof p.job_name_buf);
	p.job_name = o.job_name ? o.job_name : p.job_name_buf;
	build_script(&o, &p, facts.name, facts.njobs, &script);
	av = sbatch_argv(&o, p.script);
	if (script.err || !av) {
		rc = ERR_NOMEM;
		goto out_nomem_or_io;
	}
	if (o.dry_run) {
		sbuf_puts(&script, "# supersweep submit --dry-run: nothing written or submitted.  "
				   "It would\n# write this script to ");
		sbuf_shell_word(&script, p.script);
		sbuf_puts(&script, "\n# and run: ");
		append_command(&script, av);
		sbuf_putc(&script, '\n');
		if (script.err) {
			rc = ERR_NOMEM;
			goto out_nomem_or_io;
		}
		fputs(script.p, stdout);
		ret = CLI_EXIT_OK;
		goto out;
	}
	if (write_atomic(p.script, script.p, script.len, 0755) != 0)
		goto out;
	fprintf(stderr, "supersweep submit: wrote %s; Slurm output goes to %s\n", p.script, p.log);
	ret = run_sbatch(av);
	goto out;
out_nomem_or_io:
	if (rc == ERR_NOMEM) /* the others said what failed */
		fprintf(stderr, "supersweep submit: out of memory\n");
out:
	free(av);
	sbuf_free(&script);
	paths_free(&p);
	free(o.modules);
	free(o.sbatch_args);
	free(o.run_args);
	return ret;
}
