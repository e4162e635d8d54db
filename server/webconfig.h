/* server/webconfig.h — the web config file of `ember serve --web.config.file`
 * (server/webconfig.c) and the basic-auth check built from it
 * (server/basicauth.c).
 *
 * The file is the Prometheus exporter-toolkit format, the subset ember
 * implements, parsed strictly (any other key is an error naming it):
 *
 *   tls_server_config:          # optional; both keys required when present
 *     cert_file: server.crt     # PEM; relative paths are relative to the
 *     key_file: server.key      #   directory of the config file
 *   basic_auth_users:           # optional; user: bcrypt hash ($2a$/$2b$/$2y$)
 *     alice: $2y$10$...
 *
 * Values may be bare, 'single' or "double" quoted; '#' starts a comment
 * outside quotes. Indentation is spaces only.
 */
#ifndef EMBER_WEBCONFIG_H
#define EMBER_WEBCONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "ember/error.h"

typedef struct ember_webconfig_user {
	char *name;
	char *hash;   /* bcrypt */
} ember_webconfig_user;

typedef struct ember_webconfig {
	char *cert_file, *key_file;   /* resolved paths, NULL without TLS */
	char *cert_pem, *key_pem;     /* their contents, NUL-terminated */
	ember_webconfig_user *users;
	size_t n_users;
} ember_webconfig;

/* Parses text (len bytes). base_dir resolves relative file names; the
 * cert and key files are read. Errors name the file, the line and the fix. */
int ember_webconfig_parse(ember_webconfig **out, const char *text, size_t len,
			  const char *name, const char *base_dir, ember_error *err);
/* Reads and parses the file at path. */
int ember_webconfig_load(ember_webconfig **out, const char *path, ember_error *err);
void ember_webconfig_free(ember_webconfig *wc);
/* Frees n users (names and hashes) and the array: a config's or a copy's. */
void ember_webconfig_users_free(ember_webconfig_user *users, size_t n);

/* Basic auth over a config's users. Thread-safe; successful checks are
 * cached for 30 s (bcrypt is slow by design) under an HMAC-SHA-256 of
 * the credentials with a per-process random key; bcrypt checks run one at
 * a time, so a flood of wrong passwords takes one CPU, not all. */
typedef struct ember_basicauth ember_basicauth;

/* NULL *out (and 0) when wc has no users: no auth. users are copied. */
int ember_basicauth_new(ember_basicauth **out, const ember_webconfig *wc, ember_error *err);
/* true when the Authorization header value ("Basic BASE64") names a user
 * with that password. NULL header: false. */
bool ember_basicauth_check(ember_basicauth *a, const char *authorization);
/* true when user and password match (no cache): the bcrypt check. */
bool ember_basicauth_verify(const ember_basicauth *a, const char *user, const char *password);
void ember_basicauth_free(ember_basicauth *a);

#endif
