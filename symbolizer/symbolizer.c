/* symbolizer/symbolizer.c — PLACEHOLDER until issue 3 lands. */
#include "ember/symbolize.h"

#include <errno.h>

int ember_symbolizer_new(ember_symbolizer **out, const ember_symbolizer_opts *opts,
			 ember_error *err)
{
	(void)out;
	(void)opts;
	return ember_errorf(err, ENOSYS, "symbolizer not built yet");
}
