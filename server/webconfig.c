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

void ember_webconfig_users_free(ember_webconfig_user *users, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(users[i].name);
		free(users[i].hash);
	}
	free(users);
}

void ember_webconfig_free(ember_webconfig *wc)
{
	if (!wc)
		return;
	ember_webconfig_users_free(wc->users, wc->n_users);
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

/* The parse in progress: where we are in the file and what it gave so far.
 * Each step returns 0 or the negative errno of the message it set. */
typedef struct wc_parse {
	parser p;
	ember_webconfig *wc;
	enum section sec;
	bool seen_tls, seen_users;
	unsigned indent;    /* of the current section's lines; 0 until its first */
	char *cert, *key;   /* as written, resolved at the end */
} wc_parse;

/* A top-level key (indent 0): opens its section. */
static int open_section(wc_parse *w, const char *k, bool empty_v)
{
	if (!empty_v)
		return bad(&w->p, "a top-level key takes a nested block, not a value: ", k);
	if (!strcmp(k, "tls_server_config")) {
		if (w->seen_tls)
			return bad(&w->p, "tls_server_config given twice", NULL);
		w->sec = TLS;
		w->seen_tls = true;
	} else if (!strcmp(k, "basic_auth_users")) {
		if (w->seen_users)
			return bad(&w->p, "basic_auth_users given twice", NULL);
		w->sec = USERS;
		w->seen_users = true;
	} else {
		return bad(&w->p, "unsupported key (ember knows tls_server_config and "
				  "basic_auth_users): ",
			   k);
	}
	w->indent = 0;
	return 0;
}

/* cert_file or key_file; takes val. */
static int tls_key(wc_parse *w, const char *k, char *val)
{
	char **slot = !strcmp(k, "cert_file") ? &w->cert : !strcmp(k, "key_file") ? &w->key : NULL;
	int rc = 0;
	if (!slot)
		rc = bad(&w->p, "unsupported tls_server_config key (ember knows cert_file and "
				"key_file): ",
			 k);
	else if (*slot)
		rc = bad(&w->p, "given twice: ", k);
	if (rc < 0) {
		free(val);
		return rc;
	}
	*slot = val;
	return 0;
}

/* Why user k with bcrypt hash val is refused, or NULL; *detail is
 * appended to the message. */
static const char *bad_user(const ember_webconfig *wc, const char *k, const char *val,
			    const char **detail)
{
	*detail = k;
	if (strncmp(val, "$2a$", 4) && strncmp(val, "$2b$", 4) && strncmp(val, "$2y$", 4))
		return "not a bcrypt hash ($2a$, $2b$ or $2y$; make one with "
		       "'htpasswd -nbB USER PASSWORD') for user ";
	if (strlen(val) != 60)
		return "a bcrypt hash is 60 characters; this one is not, for user ";
	for (size_t i = 0; i < wc->n_users; i++)
		if (!strcmp(wc->users[i].name, k))
			return "user given twice: ";
	*detail = NULL;
	if (strchr(k, ':') || !*k)
		return "a user name must be non-empty without ':'";
	if (wc->n_users == MAX_USERS)
		return "too many users (at most 1024)";
	return NULL;
}

/* A basic_auth_users line: user k with hash val; takes val. */
static int add_user(wc_parse *w, const char *k, char *val)
{
	ember_webconfig *wc = w->wc;
	const char *detail, *why = bad_user(wc, k, val, &detail);
	if (why) {
		free(val);
		return bad(&w->p, why, detail);
	}
	char *uname = strdup(k);
	void *users = wc->n_users % 16 ? wc->users
				       : realloc(wc->users, (wc->n_users + 16) * sizeof *wc->users);
	if (users)
		wc->users = users;
	if (!uname || !users) {
		free(uname);
		free(val);
		return ember_errorf(w->p.err, ENOMEM, "out of memory");
	}
	wc->users[wc->n_users++] = (ember_webconfig_user){ .name = uname, .hash = val };
	return 0;
}

/* Splits "key: value" at s: *k (unquoted, trailing blanks cut) and *v (from
 * its first non-blank). */
static int split_key(wc_parse *w, char *s, char **k, char **v)
{
	char *colon = strchr(s, ':');
	if (*s == '-' || !colon || (colon[1] && colon[1] != ' ' && colon[1] != '\t'))
		return bad(&w->p, "want 'key: value' or 'key:'", NULL);
	*colon = '\0';
	*k = s;
	*v = colon + 1;
	for (size_t kl = strlen(s); kl && (s[kl - 1] == ' ' || s[kl - 1] == '\t');)
		s[--kl] = '\0';
	while (**v == ' ' || **v == '\t')
		(*v)++;
	size_t kl = strlen(s);   /* a 'quoted' or "quoted" key, no escapes */
	if (kl >= 2 && (s[0] == '\'' || s[0] == '"') && s[kl - 1] == s[0]) {
		s[kl - 1] = '\0';
		(*k)++;
	}
	return 0;
}

/* One line of the file, its end of line cut. */
static int parse_line(wc_parse *w, char *line)
{
	size_t n = strlen(line);
	if (n && line[n - 1] == '\r')
		line[--n] = '\0';
	unsigned ind = (unsigned)strspn(line, " ");
	char *s = line + ind;
	if (*s == '\t')
		return bad(&w->p, "tab in indentation: indent with spaces", NULL);
	if (!*s || *s == '#')
		return 0;
	if (ind == 0 && !strcmp(s, "---") && w->sec == NONE && !w->seen_tls && !w->seen_users)
		return 0;
	char *k = NULL, *v = NULL;
	int rc = split_key(w, s, &k, &v);
	if (rc < 0)
		return rc;
	bool empty_v = !*v || *v == '#';
	if (ind == 0)
		return open_section(w, k, empty_v);
	if (w->sec == NONE)
		return bad(&w->p, "indented line outside a section", NULL);
	if (!w->indent)
		w->indent = ind;
	if (ind != w->indent)
		return bad(&w->p, "inconsistent indentation (one nesting level only)", NULL);
	if (empty_v)
		return bad(&w->p, "missing value for ", k);
	char *val = NULL;
	if ((rc = scalar(&w->p, v, &val)) < 0)
		return rc;
	return w->sec == TLS ? tls_key(w, k, val) : add_user(w, k, val);
}

/* The certificate and key the file names, read and checked. */
static int load_tls(wc_parse *w, const char *base_dir)
{
	ember_webconfig *wc = w->wc;
	const char *name = w->p.name;
	ember_error *err = w->p.err;
	size_t l;
	int rc;
	wc->cert_file = resolve(base_dir, w->cert);
	wc->key_file = resolve(base_dir, w->key);
	if (!wc->cert_file || !wc->key_file)
		return ember_errorf(err, ENOMEM, "out of memory");
	if ((rc = read_small_file(wc->cert_file, &wc->cert_pem, &l, err)) < 0 ||
	    (rc = read_small_file(wc->key_file, &wc->key_pem, &l, err)) < 0) {
		ember_error_prefix(err, "%s: tls_server_config", name);
		return rc;
	}
	if (!strstr(wc->cert_pem, "-----BEGIN CERTIFICATE-----"))
		return ember_errorf(err, EINVAL, "%s: %s is not a PEM certificate", name,
				    wc->cert_file);
	if (!strstr(wc->key_pem, "PRIVATE KEY-----"))
		return ember_errorf(err, EINVAL, "%s: %s is not a PEM private key", name,
				    wc->key_file);
	return check_pair(wc, name, err);
}

/* After the last line: the sections are complete; the TLS files load. */
static int finish(wc_parse *w, const char *base_dir)
{
	const char *name = w->p.name;
	if (w->seen_tls && (!w->cert || !w->key))
		return ember_errorf(w->p.err, EINVAL,
				    "%s: tls_server_config needs both cert_file and key_file",
				    name);
	if (w->seen_users && !w->wc->n_users)
		return ember_errorf(w->p.err, EINVAL,
				    "%s: basic_auth_users is empty: list 'user: bcrypt-hash' "
				    "lines or remove it",
				    name);
	return w->cert ? load_tls(w, base_dir) : 0;
}

/* Every line in turn, then finish; stops at the first error. */
static int parse_text(wc_parse *w, char *text, const char *base_dir)
{
	for (char *line = text, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		w->p.line++;
		int rc = parse_line(w, line);
		if (rc < 0)
			return rc;
	}
	return finish(w, base_dir);
}

int ember_webconfig_parse(ember_webconfig **out, const char *text, size_t len, const char *name,
			  const char *base_dir, ember_error *err)
{
	*out = NULL;
	wc_parse w = { .p = { .name = name, .line = 0, .err = err },
		       .wc = calloc(1, sizeof *w.wc), .sec = NONE };
	char *copy = malloc(len + 1);
	int rc;
	if (!w.wc || !copy) {
		rc = ember_errorf(err, ENOMEM, "out of memory");
	} else if (memchr(text, '\0', len)) {
		rc = ember_errorf(err, EINVAL, "%s: a NUL byte: not a text file", name);
	} else {
		memcpy(copy, text, len);
		copy[len] = '\0';
		rc = parse_text(&w, copy, base_dir);
	}
	free(w.cert);
	free(w.key);
	free(copy);
	if (rc < 0) {
		ember_webconfig_free(w.wc);
		return rc;
	}
	*out = w.wc;
	return 0;
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
