/* cmd_train.c - `supersweep train key=value ...`: one job, no MPI, JSON out.
 *
 * The key=value pairs become a one-job spec ("train: {key: value, ...}")
 * read by the spec module, so that defaults, learning-rate rules and the job
 * key are exactly those of a campaign.  The job runs in this process with
 * its `threads`; SIGINT/SIGTERM/SIGUSR1 stop it at the next step boundary
 * (with --checkpoint, the state is saved and the same command resumes).
 * The result is printed as one JSON object on stdout.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supersweep/cli.h"
#include "supersweep/err.h"
#include "supersweep/spec.h"
#include "supersweep/train.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: supersweep train [--seed S] [--checkpoint PATH] [--weights] key=value ...\n"
		"\n"
		"Train one job of the toy model without MPI and print the result as JSON.\n"
		"Keys are the spec's parameters (docs/SPEC.md), e.g.\n"
		"  supersweep train n=1000 m=25 alpha=1 gamma=-1 steps=20000 batch=2048\n"
		"Values are YAML scalars; lr and lr_b also take a rule, lr='{c: 0.02, m0: 8, "
		"k: 0.25}'.\n"
		"\n"
		"Options:\n"
		"  --seed S           campaign seed (default 1): mixes into all randomness\n"
		"  --checkpoint PATH  resume from PATH if valid; save there when stopped\n"
		"  --weights          same as save_weights=true: include W (n rows of m) and b\n"
		"\n"
		"Exit status: 0 trained, 1 failed (diverged, I/O), 2 bad usage or job,\n"
		"3 stopped by a signal (with --checkpoint: run the same command to resume).\n");
}

/* Append S to the growing buffer *BUF (length *LEN, capacity *CAP). */
static int append(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t k = strlen(s);

	if (*len + k + 1 > *cap) {
		size_t ncap = (*len + k + 1) * 2;
		char *nb = realloc(*buf, ncap);

		if (!nb)
			return ERR_NOMEM;
		*buf = nb;
		*cap = ncap;
	}
	memcpy(*buf + *len, s, k + 1);
	*len += k;
	return 0;
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_number(double x)
{
	if (isfinite(x))
		printf("%.17g", x);
	else
		fputs("null", stdout);
}

static void json_floats(const float *v, int64_t count)
{
	putchar('[');
	for (int64_t i = 0; i < count; i++) {
		if (i)
			putchar(',');
		if (isfinite(v[i]))
			printf("%.9g", (double)v[i]);
		else
			fputs("null", stdout);
	}
	putchar(']');
}

static const char *status_name(int status)
{
	switch (status) {
	case 0: return "done";
	case ERR_DIVERGED: return "diverged";
	case ERR_STOPPED: return "stopped";
	default: return "failed";
	}
}

static void print_result(const struct job_point *job, uint64_t seed, const char *checkpoint,
			 const struct train_result *r, bool weights)
{
	printf("{\"job\":{");
	for (size_t i = 0; i < spec_nparams; i++) {
		const struct spec_param *p = &spec_params[i];
		const char *f = (const char *)job + p->offset;

		printf("%s\"%s\":", i ? "," : "", p->name);
		switch (p->type) {
		case SPEC_INT: printf("%lld", (long long)*(const int64_t *)(const void *)f); break;
		case SPEC_REAL: json_number(*(const double *)(const void *)f); break;
		case SPEC_BOOL: fputs(*(const bool *)f ? "true" : "false", stdout); break;
		case SPEC_DIST:
			json_string(spec_dist_name(*(const enum spec_dist *)(const void *)f));
			break;
		}
	}
	printf("},\"key\":\"%016llx\",\"seed\":%llu,\"version\":", (unsigned long long)job->key,
	       (unsigned long long)seed);
	json_string(cli_version()); /* the bits are those of this build (docs/CAMPAIGNS.md) */
	printf(",\"blas_kernel\":");
	json_string(cli_blas_kernel()); /* and of these kernels (docs/MODEL.md) */
	printf(",\"checkpoint\":");
	if (checkpoint)
		json_string(checkpoint);
	else
		fputs("null", stdout);
	printf(",\"status\":");
	json_string(status_name(r->status));
	printf(",\"error\":");
	json_string(r->error);
	printf(",\"warning\":");
	json_string(r->warning);
	printf(",\"steps_done\":%.0f,\"wall_s\":", r->metrics.steps_done);
	json_number(r->metrics.wall_s);
	printf(",\"metrics\":{");
	for (size_t i = 0; i < train_nmetrics; i++) {
		printf("%s\"%s\":", i ? "," : "", train_metric_table[i].name);
		json_number(*(const double *)(const void *)((const char *)&r->metrics +
							    train_metric_table[i].offset));
	}
	printf("},\"log_every\":%lld,\"curve\":", (long long)job->log_every);
	json_floats(r->curve, r->curve ? r->ncurve : 0);
	if (weights && r->W && r->b) {
		printf(",\"W\":[");
		for (int64_t i = 0; i < job->n; i++) {
			if (i)
				putchar(',');
			json_floats(r->W + i * job->m, job->m);
		}
		printf("],\"b\":");
		json_floats(r->b, job->n);
	}
	printf("}\n");
}

/* The spec names positions in the generated text ("command line:L:C: ...");
 * line 4 + k is the k-th key=value argument: name the argument instead. */
static void report_spec_error(const char *err, int argc, char **argv)
{
	const char *prefix = "command line:";
	const char *rest = err;
	long line = 0;

	if (!strncmp(err, prefix, strlen(prefix))) {
		char *end;

		line = strtol(err + strlen(prefix), &end, 10);
		if (*end == ':') {
			strtol(end + 1, &end, 10);
			if (*end == ':')
				rest = end + 1 + (end[1] == ' ');
		}
	}
	for (int i = 1, k = 0; rest != err && i < argc; i++) {
		if (argv[i][0] == '-' && argv[i][1] == '-') {
			i += strcmp(argv[i], "--weights") != 0; /* skip the option's value */
			continue;
		}
		if (4 + k++ == line) {
			fprintf(stderr, "supersweep train: argument '%s': %s\n", argv[i], rest);
			return;
		}
	}
	fprintf(stderr, "supersweep train: %s\n", err);
}

int cmd_train(int argc, char **argv, volatile sig_atomic_t *stop)
{
	char *yaml = NULL, err[SPEC_ERR_LEN], seedbuf[64];
	size_t len = 0, cap = 0;
	const char *checkpoint = NULL;
	unsigned long long seed = 1;
	bool weights = false;
	struct spec *spec = NULL;
	struct job_point job;
	struct train_result res;
	int npairs = 0, rc, ret = CLI_EXIT_USAGE;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			ret = CLI_EXIT_OK;
			goto out;
		} else if (!strcmp(a, "--seed") || !strcmp(a, "--checkpoint")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "supersweep train: %s needs a value\n", a);
				goto out;
			}
			if (!strcmp(a, "--checkpoint")) {
				checkpoint = argv[++i];
			} else {
				char *end;

				seed = strtoull(argv[++i], &end, 10);
				if (!*argv[i] || *end || argv[i][0] == '-') {
					fprintf(stderr,
						"supersweep train: --seed '%s': expected a "
						"non-negative integer\n",
						argv[i]);
					goto out;
				}
			}
		} else if (!strcmp(a, "--weights")) {
			weights = true;
		} else if (a[0] == '-' && a[1] == '-') {
			fprintf(stderr, "supersweep train: unknown option '%s' (try --help)\n", a);
			goto out;
		} else {
			const char *eq = strchr(a, '=');
			const char *bad = strpbrk(a, "\n\r:#{}[], ");

			if (!eq || eq == a || (bad && bad < eq)) {
				fprintf(stderr,
					"supersweep train: '%s': expected key=value (try --help)\n",
					a);
				goto out;
			}
			if (strpbrk(eq + 1, "\n\r#")) {
				fprintf(stderr,
					"supersweep train: '%s': a value may not contain a newline "
					"or '#'\n",
					a);
				goto out;
			}
			{
				/* "  key: value\n" */
				char *line = malloc(strlen(a) + 8);

				if (!line)
					goto nomem;
				sprintf(line, "  %.*s: %s\n", (int)(eq - a), a, eq + 1);
				rc = append(&yaml, &len, &cap, line);
				free(line);
				if (rc)
					goto nomem;
			}
			npairs++;
		}
	}
	if (npairs == 0) {
		usage(stderr);
		goto out;
	}
	if (weights && append(&yaml, &len, &cap, "  save_weights: true\n"))
		goto nomem;
	{
		/* the header goes first; it depends on --seed, which may come last */
		char *full;

		snprintf(seedbuf, sizeof seedbuf, "name: train\nseed: %llu\ntrain:\n", seed);
		full = malloc(strlen(seedbuf) + len + 1);
		if (!full)
			goto nomem;
		strcpy(full, seedbuf);
		memcpy(full + strlen(seedbuf), yaml, len + 1);
		free(yaml);
		yaml = full;
		len = strlen(full);
	}
	rc = spec_load_string(yaml, len, "command line", &spec, err);
	if (rc != 0) {
		report_spec_error(err, argc, argv);
		ret = rc == ERR_NOMEM ? CLI_EXIT_FAILURE : CLI_EXIT_USAGE;
		goto out;
	}
	if (spec->njobs != 1) {
		fprintf(stderr, "supersweep train: the settings give %zu jobs; train runs one\n",
			spec->njobs);
		goto out;
	}
	job = spec->jobs[0];
	rc = train_run(&job, spec->seed, checkpoint, stop, &res);
	if (rc == ERR_INVAL) {
		fprintf(stderr, "supersweep train: %s\n", res.error);
		goto out;
	}
	if (res.warning[0])
		fprintf(stderr, "supersweep train: warning: %s\n", res.warning);
	print_result(&job, spec->seed, checkpoint, &res, weights);
	if (res.status != 0)
		fprintf(stderr, "supersweep train: %s\n", res.error);
	switch (res.status) {
	case 0: ret = CLI_EXIT_OK; break;
	case ERR_STOPPED: ret = CLI_EXIT_INTERRUPTED; break;
	default: ret = CLI_EXIT_FAILURE; break;
	}
	train_result_free(&res);
	goto out;
nomem:
	fprintf(stderr, "supersweep train: out of memory\n");
	ret = CLI_EXIT_FAILURE;
out:
	free(yaml);
	spec_destroy(&spec);
	return ret;
}
