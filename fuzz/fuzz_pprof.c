/* fuzz/fuzz_pprof.c — libFuzzer target for the pprof reader: any byte string
 * must decode into a profile that passes ember_profile_check, or fail with a
 * one-line error; never crash, leak or read out of bounds. A decoded profile
 * must also survive a re-encode and decode. */
#include "ember/pprof.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	ember_profile *p = NULL;
	ember_error err = { 0 };
	if (ember_pprof_decode(data, len, &p, &err) < 0) {
		assert(err.msg[0] && !strchr(err.msg, '\n'));
		return 0;
	}
	char msg[256];
	assert(ember_profile_check(p, msg, sizeof msg) == 0);
	ember_buf b = EMBER_BUF_INIT;
	if (ember_pprof_encode(p, EMBER_COMPRESS_NONE, &b, NULL) == 0) {
		ember_profile *q = NULL;
		int rc = ember_pprof_decode(b.data, b.len, &q, NULL);
		assert(rc == 0 || b.len == 0);
		if (q) {
			assert(q->n_samples == p->n_samples);
			ember_profile_free(q);
		}
	}
	ember_buf_free(&b);
	ember_profile_free(p);
	return 0;
}
