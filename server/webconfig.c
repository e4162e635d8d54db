/* server/webconfig.c — parses the web config file (TLS and basic-auth
 * users, exporter-toolkit format) and reads the certificate and key it
 * names. Owns: the strict YAML subset of ember/webconfig.h. Must never:
 * accept a key it does not implement (a TLS or auth option silently
 * ignored is a security hole), or keep reading past a bad line.
 */
#include "server/webconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE (1 << 20)
#define MAX_USERS 1024

static int read_small_file(const char *path, char **out, size_t *len, ember_error *err)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ember_errorf(err, errno, "%s: %s", path, strerror(errno));
	struct stat st;
	int rc = 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE) {
		rc = ember_errorf(err, EINVAL, "%s: not a regular file of at most 1 MiB", path);
		goto out;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = ember_errorf(err, ENOMEM, "%s: out of memory", path);
		goto out;
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			rc = ember_errorf(err, n < 0 ? errno : EIO, "%s: read failed", path);
			goto out;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
out:
	close(fd);
	return rc;
}

void ember_webconfig_free(ember_webconfig *wc)
{
	if (!wc)
		return;
	for (size_t i = 0; i < wc->n_users; i++) {
		free(wc->users[i].name);
		free(wc->users[i].hash);
	}
	free(wc->users);
	free(wc->cert_file);
	free(wc->key_file);
	free(wc->cert_pem);
	free(wc->key_pem);
	free(wc);
}

typedef struct parser {
	const char *name;
	unsigned line;
	ember_error *err;
} parser;

static int bad(parser *p, const char *what, const char *detail)
{
	return ember_errorf(p->err, EINVAL, "%s line %u: %s%s", p->name, p->line, what,
			    detail ? detail : "");
}

/* A scalar: bare (up to a ' #' comment), 'single' ('' escapes ') or
 * "double" (\" and \\ escapes). s ends at the line's end. */
static int scalar(parser *p, char *s, char **out)
{
	*out = NULL;
	char *r = s, *w = s;
	if (*s == '\'' || *s == '"') {
		char q = *s;
		r++;
		for (;; r++) {
			if (!*r)
				return bad(p, "unterminated quoted value", NULL);
			if (*r == q) {
				if (q == '\'' && r[1] == '\'') {
					*w++ = *r++;
					continue;
				}
				break;
			}
			if (q == '"' && *r == '\\') {
				if (r[1] != '"' && r[1] != '\\')
					return bad(p, "only \\\" and \\\\ escapes are supported", NULL);
				r++;
			}
			*w++ = *r;
		}
		r++;
		while (*r == ' ' || *r == '\t')
			r++;
		if (*r && *r != '#')
			return bad(p, "text after a quoted value", NULL);
		*w = '\0';
	} else {
		char *hash = s;
		while ((hash = strchr(hash, '#')) && hash != s && hash[-1] != ' ' && hash[-1] != '\t')
			hash++;
		if (hash)
			*hash = '\0';
		size_t n = strlen(s);
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			s[--n] = '\0';
		if (strpbrk(s, "{}[]&*!|>%@`") == s)
			return bad(p, "flow or block YAML syntax is not supported: ",
				   "write 'key: value' lines");
	}
	if (!*s)
		return bad(p, "empty value", NULL);
	*out = strdup(s);
	return *out ? 0 : ember_errorf(p->err, ENOMEM, "out of memory");
}

static char *resolve(const char *base_dir, const char *file)
{
	char *out = NULL;
	if (file[0] == '/' || !base_dir)
		return strdup(file);
	return asprintf(&out, "%s/%s", base_dir, file) < 0 ? NULL : out;
}

/* The certificate and key load into GnuTLS (the library libmicrohttpd
 * uses) and match: refused here with one line rather than by the server. */
static int check_pair(const ember_webconfig *wc, const char *name, ember_error *err)
{
	gnutls_certificate_credentials_t cred;
	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		return ember_errorf(err, ENOMEM, "out of memory");
	gnutls_datum_t c = { .data = (unsigned char *)wc->cert_pem,
			     .size = (unsigned)strlen(wc->cert_pem) };
	gnutls_datum_t k = { .data = (unsigned char *)wc->key_pem,
			     .size = (unsigned)strlen(wc->key_pem) };
	int g = gnutls_certificate_set_x509_key_mem2(cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
	gnutls_certificate_free_credentials(cred);
	if (g < 0)
		return ember_errorf(err, EINVAL, "%s: cert_file %s with key_file %s: %s", name,
				    wc->cert_file, wc->key_file, gnutls_strerror(g));
	return 0;
}

enum section { NONE, TLS, USERS };

int ember_webconfig_parse(ember_webconfig **out, const char *text, size_t len, const char *name,
			  const char *base_dir, ember_error *err)
{
	*out = NULL;
	ember_webconfig *wc = calloc(1, sizeof *wc);
	char *copy = malloc(len + 1);
	if (!wc || !copy) {
		free(wc);
		free(copy);
		return ember_errorf(err, ENOMEM, "out of memory");
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	parser p = { .name = name, .line = 0, .err = err };
	if (memchr(text, '\0', len)) {
		free(copy);
		free(wc);
		return ember_errorf(err, EINVAL, "%s: a NUL byte: not a text file", name);
	}
	enum section sec = NONE;
	bool seen_tls = false, seen_users = false;
	unsigned indent = 0;
	int rc = 0;
	char *cert = NULL, *key = NULL;
	for (char *line = copy, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		p.line++;
		size_t n = strlen(line);
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		unsigned ind = (unsigned)strspn(line, " ");
		char *s = line + ind;
		if (*s == '\t') {
			rc = bad(&p, "tab in indentation: indent with spaces", NULL);
			goto fail;
		}
		if (!*s || *s == '#')
			continue;
		if (ind == 0 && !strcmp(s, "---") && sec == NONE && !seen_tls && !seen_users)
			continue;
		char *colon = strchr(s, ':');
		if (*s == '-' || !colon || (colon[1] && colon[1] != ' ' && colon[1] != '\t')) {
			rc = bad(&p, "want 'key: value' or 'key:'", NULL);
			goto fail;
		}
		*colon = '\0';
		char *k = s, *v = colon + 1;
		for (size_t kl = strlen(k); kl && (k[kl - 1] == ' ' || k[kl - 1] == '\t');)
			k[--kl] = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		size_t kl = strlen(k);   /* a 'quoted' or "quoted" key, no escapes */
		if (kl >= 2 && (k[0] == '\'' || k[0] == '"') && k[kl - 1] == k[0]) {
			k[kl - 1] = '\0';
			k++;
		}
		bool empty_v = !*v || *v == '#';
		if (ind == 0) {
			if (!empty_v) {
				rc = bad(&p, "a top-level key takes a nested block, not a value: ", k);
				goto fail;
			}
			if (!strcmp(k, "tls_server_config")) {
				if (seen_tls) {
					rc = bad(&p, "tls_server_config given twice", NULL);
					goto fail;
				}
				sec = TLS;
				seen_tls = true;
			} else if (!strcmp(k, "basic_auth_users")) {
				if (seen_users) {
					rc = bad(&p, "basic_auth_users given twice", NULL);
					goto fail;
				}
				sec = USERS;
				seen_users = true;
			} else {
				rc = bad(&p, "unsupported key (ember knows tls_server_config and "
					     "basic_auth_users): ",
					 k);
				goto fail;
			}
			indent = 0;
			continue;
		}
		if (sec == NONE) {
			rc = bad(&p, "indented line outside a section", NULL);
			goto fail;
		}
		if (!indent)
			indent = ind;
		if (ind != indent) {
			rc = bad(&p, "inconsistent indentation (one nesting level only)", NULL);
			goto fail;
		}
		if (empty_v) {
			rc = bad(&p, "missing value for ", k);
			goto fail;
		}
		char *val = NULL;
		if ((rc = scalar(&p, v, &val)) < 0)
			goto fail;
		if (sec == TLS) {
			char **slot = !strcmp(k, "cert_file") ? &cert : !strcmp(k, "key_file") ? &key
												: NULL;
			if (!slot) {
				free(val);
				rc = bad(&p, "unsupported tls_server_config key (ember knows cert_file and "
					     "key_file): ",
					 k);
				goto fail;
			}
			if (*slot) {
				free(val);
				rc = bad(&p, "given twice: ", k);
				goto fail;
			}
			*slot = val;
			continue;
		}
		/* USERS */
		if (strncmp(val, "$2a$", 4) && strncmp(val, "$2b$", 4) && strncmp(val, "$2y$", 4)) {
			free(val);
			rc = bad(&p, "not a bcrypt hash ($2a$, $2b$ or $2y$; make one with "
				     "'htpasswd -nbB USER PASSWORD') for user ",
				 k);
			goto fail;
		}
		if (strlen(val) != 60) {
			free(val);
			rc = bad(&p, "a bcrypt hash is 60 characters; this one is not, for user ", k);
			goto fail;
		}
		for (size_t i = 0; i < wc->n_users; i++)
			if (!strcmp(wc->users[i].name, k)) {
				free(val);
				rc = bad(&p, "user given twice: ", k);
				goto fail;
			}
		if (strchr(k, ':') || !*k) {
			free(val);
			rc = bad(&p, "a user name must be non-empty without ':'", NULL);
			goto fail;
		}
		if (wc->n_users == MAX_USERS) {
			free(val);
			rc = bad(&p, "too many users (at most 1024)", NULL);
			goto fail;
		}
		if (wc->n_users % 16 == 0) {
			void *nu = realloc(wc->users, (wc->n_users + 16) * sizeof *wc->users);
			if (!nu) {
				free(val);
				rc = ember_errorf(err, ENOMEM, "out of memory");
				goto fail;
			}
			wc->users = nu;
		}
		char *uname = strdup(k);
		if (!uname) {
			free(val);
			rc = ember_errorf(err, ENOMEM, "out of memory");
			goto fail;
		}
		wc->users[wc->n_users++] = (ember_webconfig_user){ .name = uname, .hash = val };
	}
	if (seen_tls && (!cert || !key)) {
		rc = ember_errorf(err, EINVAL, "%s: tls_server_config needs both cert_file and key_file",
				  name);
		goto fail;
	}
	if (seen_users && !wc->n_users) {
		rc = ember_errorf(err, EINVAL,
				  "%s: basic_auth_users is empty: list 'user: bcrypt-hash' lines or "
				  "remove it",
				  name);
		goto fail;
	}
	if (cert) {
		size_t l;
		wc->cert_file = resolve(base_dir, cert);
		wc->key_file = resolve(base_dir, key);
		if (!wc->cert_file || !wc->key_file) {
			rc = ember_errorf(err, ENOMEM, "out of memory");
			goto fail;
		}
		if ((rc = read_small_file(wc->cert_file, &wc->cert_pem, &l, err)) < 0 ||
		    (rc = read_small_file(wc->key_file, &wc->key_pem, &l, err)) < 0) {
			ember_error_prefix(err, "%s: tls_server_config", name);
			goto fail;
		}
		if (!strstr(wc->cert_pem, "-----BEGIN CERTIFICATE-----")) {
			rc = ember_errorf(err, EINVAL, "%s: %s is not a PEM certificate", name,
					  wc->cert_file);
			goto fail;
		}
		if (!strstr(wc->key_pem, "PRIVATE KEY-----")) {
			rc = ember_errorf(err, EINVAL, "%s: %s is not a PEM private key", name,
					  wc->key_file);
			goto fail;
		}
		if ((rc = check_pair(wc, name, err)) < 0)
			goto fail;
	}
	free(cert);
	free(key);
	free(copy);
	*out = wc;
	return 0;
fail:
	free(cert);
	free(key);
	free(copy);
	ember_webconfig_free(wc);
	return rc;
}

int ember_webconfig_load(ember_webconfig **out, const char *path, ember_error *err)
{
	*out = NULL;
	char *text;
	size_t len;
	int rc = read_small_file(path, &text, &len, err);
	if (rc < 0) {
		ember_error_prefix(err, "--web.config.file");
		return rc;
	}
	char *dir = strdup(path);
	if (!dir) {
		free(text);
		return ember_errorf(err, ENOMEM, "out of memory");
	}
	char *slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir] = '\0';   /* "/x.yml" -> "/" */
	rc = ember_webconfig_parse(out, text, len, path, slash ? dir : NULL, err);
	free(dir);
	free(text);
	return rc;
}
