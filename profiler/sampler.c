/* profiler/sampler.c — PLACEHOLDER until issue 2 lands. */
#include "ember/sampler.h"

#include <errno.h>

int ember_sampler_open(ember_sampler **out, const ember_sampler_opts *opts, ember_error *err)
{
	(void)out;
	(void)opts;
	return ember_errorf(err, ENOSYS, "sampler not built yet");
}
