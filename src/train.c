/* train.c - run one job to its end or to a stop request (train.h).
 *
 * Around the engine's step loop: validation, resume from and save to the
 * checkpoint, the stop flag, NaN/Inf handling, and the results (final loss,
 * curve, eval loss, W metrics, optional weights).  The step losses of every
 * step are kept (8 bytes per step) so that the final loss and the curve are
 * the same whether or not the job was interrupted.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "supersweep/checkpoint.h"
#include "supersweep/engine.h"
#include "supersweep/err.h"
#include "supersweep/metrics.h"
#include "supersweep/sampler.h"
#include "supersweep/train.h"

#define FINAL_WINDOW 100 /* steps averaged for final_loss */

#define METRIC(f, u, d)                                                                            \
	{                                                                                          \
#f, offsetof(struct train_metrics, f), u, d                                        \
	}
const struct train_metric_info train_metric_table[] = {
	METRIC(final_loss, "", "mean loss L of the last min(100, steps) training steps"),
	METRIC(eval_loss, "", "loss L on eval_samples fresh samples after training"),
	METRIC(phi_half, "", "fraction of rows of W with norm > 1/2"),
	METRIC(phi_one, "", "fraction of rows of W with norm > 1"),
	METRIC(overlap_strong, "", "mean squared overlap of normalised rows with norm > 1"),
	METRIC(overlap_all, "", "mean squared overlap of all normalised rows"),
	METRIC(weak_pred, "", "<v^2> times the frequency mass of rows with norm <= 1/2"),
	METRIC(norm_min, "", "smallest row norm of W"),
	METRIC(norm_median, "", "median row norm of W"),
	METRIC(norm_mean, "", "mean row norm of W"),
	METRIC(norm_max, "", "largest row norm of W"),
	METRIC(density, "", "sum of the feature frequencies (E after the density rule)"),
	METRIC(steps_done, "steps", "optimiser steps completed"),
	METRIC(wall_s, "s", "wall time of this attempt"),
};
#undef METRIC
const size_t train_nmetrics = sizeof train_metric_table / sizeof train_metric_table[0];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int validate(const struct job_point *job, char *msg)
{
	const char *what = NULL;

	if (job->steps < 1)
		what = "steps must be >= 1";
	else if (job->batch < 1)
		what = "batch must be >= 1";
	else if (job->log_every < 1)
		what = "log_every must be >= 1";
	else if (job->warmup < 0)
		what = "warmup must be >= 0";
	else if (!(job->lr_w > 0) || !(job->lr_b > 0) || !isfinite(job->lr_w) ||
		 !isfinite(job->lr_b))
		what = "learning rates must be finite and > 0";
	else if (!(job->lr_min_ratio >= 0 && job->lr_min_ratio <= 1))
		what = "lr_min_ratio must be in [0, 1]";
	else if (!isfinite(job->gamma))
		what = "gamma must be finite";
	else if (job->eval_samples < 0)
		what = "eval_samples must be >= 0";
	else if (job->threads < 1)
		what = "threads must be >= 1";
	else if (job->steps > (int64_t)1 << 40)
		what = "steps beyond 2^40";
	if (!what)
		return 0;
	snprintf(msg, TRAIN_MSG_LEN, "invalid job point: %s", what);
	return ERR_INVAL;
}

static void fill_curve(const struct job_point *job, const double *losses, int64_t done,
		       struct train_result *res)
{
	for (int64_t k = 0; k < res->ncurve; k++) {
		double s = 0;

		if ((k + 1) * job->log_every > done) {
			res->curve[k] = NAN;
			continue;
		}
		for (int64_t i = k * job->log_every; i < (k + 1) * job->log_every; i++)
			s += losses[i];
		res->curve[k] = (float)(s / (double)job->log_every);
	}
}

static void set_nan_metrics(struct train_metrics *mt)
{
	for (size_t i = 0; i < train_nmetrics; i++)
		*(double *)(void *)((char *)mt + train_metric_table[i].offset) = NAN;
}

int train_run(const struct job_point *job, uint64_t seed, const char *checkpoint,
	      volatile sig_atomic_t *stop, struct train_result *res)
{
	return train_run_opts(job, seed, checkpoint, stop, NULL, res);
}

int train_run_opts(const struct job_point *job, uint64_t seed, const char *checkpoint,
		   volatile sig_atomic_t *stop, const struct train_opts *opts,
		   struct train_result *res)
{
	struct engine_opts eopts = {0};
	struct engine *e = NULL;
	struct engine_params par;
	struct checkpoint_state st;
	double *losses = NULL, t0 = now_s();
	char err[SPEC_ERR_LEN];
	int64_t step = 0, stop_at = opts ? opts->stop_at_step : 0;
	int rc;

	memset(res, 0, sizeof *res);
	set_nan_metrics(&res->metrics);
	res->status = validate(job, res->error);
	if (res->status != 0)
		return res->status;
	res->ncurve = job->steps / job->log_every;
	res->curve = malloc((size_t)(res->ncurve > 0 ? res->ncurve : 1) * sizeof *res->curve);
	losses = malloc((size_t)job->steps * sizeof *losses);
	if (!res->curve || !losses) {
		rc = ERR_NOMEM;
		snprintf(res->error, TRAIN_MSG_LEN,
			 "out of memory for the loss history (%lld steps)", (long long)job->steps);
		goto fail;
	}
	if (opts) {
		eopts.block_rows = opts->block_rows;
		eopts.gram = opts->gram;
		eopts.parts = opts->parts;
	}
	rc = engine_create(job, seed, &eopts, &e, err);
	if (rc != 0) {
		snprintf(res->error, TRAIN_MSG_LEN, "%.250s", err);
		goto fail;
	}
	par = engine_params(e);
	st = (struct checkpoint_state){
		.key = job->key,
		.seed = seed,
		.n = job->n,
		.m = job->m,
		.steps = job->steps,
		.step = 0,
		.threads = job->threads,
		.W = par.W,
		.b = par.b,
		.mW = par.mW,
		.vW = par.vW,
		.mb = par.mb,
		.vb = par.vb,
		.losses = losses,
	};
	if (checkpoint) {
		rc = checkpoint_load(checkpoint, &st, err, sizeof err);
		if (rc == 0) {
			step = st.step;
		} else if (rc < 0) {
			snprintf(res->warning, TRAIN_MSG_LEN, "%.180s; restarted from step 0", err);
			engine_init(e); /* the failed read may have overwritten the state */
			st.step = 0;
		}
	}
	for (; step < job->steps; step++) {
		double L;

		if ((stop && *stop) || (stop_at > 0 && step == stop_at)) {
			res->status = ERR_STOPPED;
			snprintf(res->error, TRAIN_MSG_LEN, "stopped at step %lld of %lld",
				 (long long)step, (long long)job->steps);
			break;
		}
		rc = engine_step(e, step, &L);
		losses[step] = L;
		if (rc != 0) {
			res->status = ERR_DIVERGED;
			snprintf(res->error, TRAIN_MSG_LEN, "diverged at step %lld (loss %g)",
				 (long long)step + 1, L);
			step++;
			break;
		}
	}
	res->metrics.steps_done = (double)step;
	fill_curve(job, losses, step, res);
	if (res->status == ERR_STOPPED && checkpoint) {
		st.step = step;
		rc = checkpoint_save(checkpoint, &st, err, sizeof err);
		if (rc != 0) {
			res->status = rc;
			snprintf(res->error, TRAIN_MSG_LEN, "stopped at step %lld but %.180s",
				 (long long)step, err);
		}
	}
	if (res->status == 0) {
		double s = 0;
		int64_t k = job->steps < FINAL_WINDOW ? job->steps : FINAL_WINDOW;

		for (int64_t i = job->steps - k; i < job->steps; i++)
			s += losses[i];
		res->metrics.final_loss = s / (double)k;
		res->metrics.eval_loss = engine_eval(e, job->eval_samples);
		if (metrics_compute(par.W, job->n, job->m, engine_sampler(e)->p, &res->metrics)) {
			rc = ERR_NOMEM;
			snprintf(res->error, TRAIN_MSG_LEN, "out of memory for the metrics");
			goto fail;
		}
		if (job->save_weights) {
			res->W = malloc((size_t)(job->n * job->m) * sizeof *res->W);
			res->b = malloc((size_t)job->n * sizeof *res->b);
			if (!res->W || !res->b) {
				rc = ERR_NOMEM;
				snprintf(res->error, TRAIN_MSG_LEN,
					 "out of memory for the weights");
				goto fail;
			}
			memcpy(res->W, par.W, (size_t)(job->n * job->m) * sizeof *res->W);
			memcpy(res->b, par.b, (size_t)job->n * sizeof *res->b);
		}
	}
	res->metrics.density = engine_sampler(e)->density;
	res->metrics.wall_s = now_s() - t0;
	engine_destroy(&e);
	free(losses);
	return 0;
fail:
	engine_destroy(&e);
	free(losses);
	train_result_free(res);
	res->status = rc;
	return rc;
}

int train_peak_bytes(const struct job_point *job, double *bytes, char *err)
{
	const double n = (double)job->n, m = (double)job->m;
	size_t eng;
	int rc;

	*bytes = 0;
	rc = validate(job, err);
	if (rc == 0)
		rc = engine_job_bytes(job, NULL, &eng, err);
	if (rc != 0)
		return rc;
	/* as train_run allocates: the engine's block (aligned), its sampler,
	 * the step losses and curve, then the metrics and the weights' copies,
	 * plus 16 KiB for the small rest (the engine's own struct, tables) */
	*bytes = (double)eng + 64 + 16384 + (double)sampler_bytes(job->n) +
		 (double)job->steps * sizeof(double) +
		 (double)(spec_curve_len(job) > 0 ? spec_curve_len(job) : 1) * sizeof(float) +
		 (double)metrics_bytes(job->n, job->m) +
		 (job->save_weights ? 4.0 * (n * m + n) : 0.0);
	return 0;
}

void train_result_free(struct train_result *res)
{
	if (!res)
		return;
	free(res->curve);
	free(res->W);
	free(res->b);
	res->curve = NULL;
	res->W = NULL;
	res->b = NULL;
}

int train_checkpoint_remove(const char *checkpoint)
{
	return checkpoint_remove(checkpoint);
}
