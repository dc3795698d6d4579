/* weak_deps.c - link-time stand-ins for the trainer module.
 *
 * TEMPORARY: the campaign module is written against train.h while the
 * trainer is being written.  These weak definitions only let the program and
 * the store tests link before it lands; the real (strong) definitions replace
 * them, and this file is deleted when main has the trainer.  train_run fails
 * every job ("not linked in"); the metric table describes the fields of
 * struct train_metrics so that the store can be tested.
 */
#include <stddef.h>
#include <stdio.h>

#include "supersweep/err.h"
#include "supersweep/train.h"

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
