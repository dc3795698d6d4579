/* weak_deps.c - link-time stand-ins for the spec and trainer modules.
 *
 * TEMPORARY: the campaign module is written against spec.h and train.h while
 * those modules are being written.  These weak definitions only let the
 * program and the store tests link before they land; the real (strong)
 * definitions replace them, and this file is deleted when main has both.
 * Every function here fails with ERR_INVAL; the tables describe the fields
 * of the headers so that the store can be tested with hand-made job points.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "supersweep/err.h"
#include "supersweep/spec.h"
#include "supersweep/train.h"

#define P(name, type, field, key, unit)                                                            \
	{                                                                                          \
#name, type, offsetof(struct job_point, field), key, unit, #name                   \
	}
__attribute__((weak)) const struct spec_param spec_params[] = {
	P(n, SPEC_INT, n, true, ""),
	P(m, SPEC_INT, m, true, ""),
	P(dist, SPEC_DIST, dist, true, ""),
	P(alpha, SPEC_REAL, alpha, true, ""),
	P(gamma, SPEC_REAL, gamma, true, ""),
	P(E, SPEC_REAL, E, true, ""),
	P(seed, SPEC_INT, seed, true, ""),
	P(steps, SPEC_INT, steps, true, "steps"),
	P(log_every, SPEC_INT, log_every, true, "steps"),
	P(save_weights, SPEC_BOOL, save_weights, true, ""),
};
__attribute__((weak)) const size_t spec_nparams = sizeof spec_params / sizeof spec_params[0];

#define M(name, unit)                                                                              \
	{                                                                                          \
#name, offsetof(struct train_metrics, name), unit, #name                           \
	}
__attribute__((weak)) const struct train_metric_info train_metric_table[] = {
	M(final_loss, ""),	M(eval_loss, ""), M(phi_half, ""),
	M(steps_done, "steps"), M(wall_s, "s"),
};
__attribute__((weak)) const size_t train_nmetrics =
	sizeof train_metric_table / sizeof train_metric_table[0];

__attribute__((weak)) int64_t spec_curve_len(const struct job_point *job)
{
	return job->log_every > 0 ? job->steps / job->log_every : 0;
}

__attribute__((weak)) int spec_load_string(const char *text, size_t len, const char *name,
					   struct spec **out, char *err)
{
	(void)text;
	(void)len;
	*out = NULL;
	snprintf(err, SPEC_ERR_LEN, "%s: the spec module is not linked in yet", name);
	return ERR_INVAL;
}

__attribute__((weak)) void spec_destroy(struct spec **spec)
{
	if (spec)
		*spec = NULL;
}

__attribute__((weak)) int spec_diff(const struct spec *old, const struct spec *new, char *err)
{
	(void)old;
	(void)new;
	snprintf(err, SPEC_ERR_LEN, "the spec module is not linked in yet");
	return ERR_MISMATCH;
}

__attribute__((weak)) double spec_job_flop(const struct job_point *job)
{
	return 6.0 * (double)job->batch * (double)job->n * (double)job->m * (double)job->steps;
}

__attribute__((weak)) int train_run(const struct job_point *job, uint64_t seed,
				    const char *checkpoint, volatile sig_atomic_t *stop,
				    struct train_result *res)
{
	(void)job;
	(void)seed;
	(void)checkpoint;
	(void)stop;
	snprintf(res->error, sizeof res->error, "the trainer is not linked in yet");
	return ERR_INVAL;
}

__attribute__((weak)) void train_result_free(struct train_result *res)
{
	(void)res;
}

__attribute__((weak)) int train_checkpoint_remove(const char *checkpoint)
{
	(void)checkpoint;
	return 0;
}

__attribute__((weak)) const char *spec_dist_name(enum spec_dist dist)
{
	(void)dist;
	return "unknown";
}
