/* exporter/pprof.c — PLACEHOLDER until issue 2/4 lands. */
#include "ember/pprof.h"

#include <errno.h>

int ember_pprof_decode(const void *data, size_t len, ember_profile **out, ember_error *err)
{
	(void)data;
	(void)len;
	(void)out;
	return ember_errorf(err, ENOSYS, "pprof decoder not built yet");
}
