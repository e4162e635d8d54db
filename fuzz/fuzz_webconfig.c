/* fuzz/fuzz_webconfig.c — libFuzzer target for serve's access control: the
 * web config parser (server/webconfig.c) and the Authorization header
 * decoding of basic auth (server/basicauth.c).
 *
 * Input: the first byte picks the part. 'A': the rest is an Authorization
 * header value checked against a fixed config (user "u", password "p", a
 * cost-4 bcrypt hash so each check is quick); it must pass only for
 * credentials u:p. Anything else: the rest is a web config; a parse that
 * succeeds must hold only well-formed users (bcrypt, 60 characters). */
#include "server/webconfig.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

static ember_basicauth *fixed_auth(void)
{
	static ember_basicauth *a;
	if (!a) {
		static const char cfg[] = "basic_auth_users:\n  u: "
					  "$2b$04$zr/sweRzeqgb4Gi1z3ik6eh8rJUoV490V68jixEHnFGSwE3JQ4cC6\n";
		ember_webconfig *wc = NULL;
		ember_error err;
		int rc = ember_webconfig_parse(&wc, cfg, sizeof cfg - 1, "fuzz", NULL, &err);
		assert(rc == 0);
		rc = ember_basicauth_new(&a, wc, &err);
		assert(rc == 0 && a);
		ember_webconfig_free(wc);
	}
	return a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	if (len == 0)
		return 0;
	char *s = malloc(len);
	assert(s);
	memcpy(s, data + 1, len - 1);
	s[len - 1] = '\0';
	if (data[0] == 'A') {
		bool ok = ember_basicauth_check(fixed_auth(), s);
		/* "dTpw" is base64 of "u:p"; only spellings of it may pass */
		assert(!ok || strstr(s, "dTpw"));
	} else {
		ember_webconfig *wc = NULL;
		ember_error err = { 0 };
		if (ember_webconfig_parse(&wc, s, len - 1, "fuzz", NULL, &err) == 0) {
			for (size_t i = 0; i < wc->n_users; i++) {
				assert(strlen(wc->users[i].hash) == 60);
				assert(wc->users[i].hash[0] == '$' && wc->users[i].hash[1] == '2');
				assert(wc->users[i].name[0] && !strchr(wc->users[i].name, ':'));
			}
			ember_webconfig_free(wc);
		} else {
			assert(err.msg[0] && !wc);
		}
	}
	free(s);
	return 0;
}
