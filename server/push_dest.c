/* server/push_dest.c — a push destination resolved from ember_push_opts and
 * the OpenTelemetry variables (server/push.h): the request URL, headers and
 * credentials, the labels and resource attributes, and the body a window
 * becomes.
 *
 * Owns: URL and list syntax checks, credentials files, OTEL_* precedence.
 * Must never: send anything, or keep a credential anywhere but in memory.
 */
#include "server/push.h"

#include "ember/otlp.h"
#include "ember/pprof.h"
#include "ember/pyroscope.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PYROSCOPE_PATH "/push.v1.PusherService/Push"
#define OTLP_PATH "/v1development/profiles"

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* http:// or https://, a host, an optional numeric port. */
static int check_url(const char *what, const char *url, ember_error *err)
{
	const char *sep = strstr(url, "://");
	if (!sep)
		return ember_errorf(err, EINVAL, "%s '%s': not a URL: want http://HOST[:PORT][/PATH] "
						 "or https://...", what, url);
	size_t sl = (size_t)(sep - url);
	if (!((sl == 4 && strncasecmp(url, "http", 4) == 0) ||
	      (sl == 5 && strncasecmp(url, "https", 5) == 0)))
		return ember_errorf(err, EINVAL, "%s '%s': unknown scheme '%.*s': want http or https",
				    what, url, (int)sl, url);
	const char *host = sep + 3, *end = host + strcspn(host, "/?#");
	for (const char *c = url; *c; c++)
		if (isspace((unsigned char)*c) || iscntrl((unsigned char)*c))
			return ember_errorf(err, EINVAL, "%s '%s': spaces or control characters "
							 "in the URL", what, url);
	const char *colon = memrchr(host, ':', (size_t)(end - host));
	if (colon && (host[0] == '[' ? memchr(colon, ']', (size_t)(end - colon)) != NULL : false))
		colon = NULL;   /* inside an IPv6 literal */
	const char *hend = colon ? colon : end;
	if (hend == host || memchr(host, '@', (size_t)(end - host)))
		return ember_errorf(err, EINVAL, "%s '%s': %s", what, url,
				    hend == host ? "no host"
						 : "credentials in the URL: use the credentials "
						   "file flags");
	if (colon) {
		if (colon + 1 == end)
			return ember_errorf(err, EINVAL, "%s '%s': empty port", what, url);
		for (const char *c = colon + 1; c < end; c++)
			if (!isdigit((unsigned char)*c))
				return ember_errorf(err, EINVAL, "%s '%s': bad port", what, url);
		if (atol(colon + 1) < 1 || atol(colon + 1) > 65535)
			return ember_errorf(err, EINVAL, "%s '%s': port out of range", what, url);
	}
	if (strpbrk(host, "?#"))
		return ember_errorf(err, EINVAL, "%s '%s': a query or fragment has no place in a "
						 "push URL", what, url);
	return 0;
}

/* base + path with exactly one '/' between them. */
static char *join(const char *base, const char *path)
{
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		bl--;
	char *s = NULL;
	if (asprintf(&s, "%.*s%s", (int)bl, base, path) < 0)
		return NULL;
	return s;
}

/* The first line of a credentials file, in buf. */
static int read_secret(const char *what, const char *path, char *buf, size_t len,
		       ember_error *err)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return ember_errorf(err, EINVAL, "%s %s: %s", what, path, strerror(errno));
	bool got = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (!got)
		buf[0] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!buf[0])
		return ember_errorf(err, EINVAL, "%s %s: the file is empty", what, path);
	return 0;
}

static int hexval(int c)
{
	return isdigit(c) ? c - '0' : isxdigit(c) ? tolower(c) - 'a' + 10 : -1;
}

/* Percent-decodes s in place; false on a bad escape. */
static bool percent_decode(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (*r == '%') {
			int hi = hexval((unsigned char)r[1]);
			int lo = hi < 0 ? -1 : hexval((unsigned char)r[2]);
			if (lo < 0)
				return false;
			*w++ = (char)(hi * 16 + lo);
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return true;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* "K=V,K=V" into kv (pointers into *storage, which the caller frees): keys
 * and values trimmed, values percent-decoded when decode (the OTEL_* form).
 * Appends to kv[*n]; a key given again replaces the value. */
static int parse_kv(const char *what, const char *s, bool decode, char **storage, ember_kv *kv,
		    size_t *n, ember_error *err)
{
	char *copy = strdup(s);
	if (!copy)
		return ember_errorf(err, ENOMEM, "out of memory");
	*storage = copy;
	char *save = NULL;
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		if (!eq) {
			if (!*trim(item))
				continue;
			return ember_errorf(err, EINVAL, "%s '%s': '%s' is not KEY=VALUE", what, s,
					    trim(item));
		}
		*eq = '\0';
		char *k = trim(item), *v = trim(eq + 1);
		if (!*k)
			return ember_errorf(err, EINVAL, "%s '%s': an empty key", what, s);
		if (decode && (!percent_decode(k) || !percent_decode(v)))
			return ember_errorf(err, EINVAL, "%s '%s': a bad %%XX escape", what, s);
		size_t i = 0;
		while (i < *n && strcmp(kv[i].key, k) != 0)
			i++;
		if (i == PUSH_MAX_KV)
			return ember_errorf(err, EINVAL, "%s: more than %d entries", what, PUSH_MAX_KV);
		kv[i] = (ember_kv){ k, v };
		if (i == *n)
			(*n)++;
	}
	return 0;
}

/* A Prometheus-style label name, not one ember sets itself. */
static int check_labels(const push_dest *d, const char *given, ember_error *err)
{
	for (size_t i = 0; i < d->n_labels; i++) {
		const char *k = d->labels[i].key;
		bool ok = isalpha((unsigned char)k[0]) || k[0] == '_';
		for (const char *c = k; *c && ok; c++)
			ok = isalnum((unsigned char)*c) || *c == '_';
		if (!ok)
			return ember_errorf(err, EINVAL, "--push.labels '%s': bad label name '%s': "
							 "want [a-zA-Z_][a-zA-Z0-9_]*", given, k);
		if (!strcmp(k, "__name__") || !strcmp(k, "service_name"))
			return ember_errorf(err, EINVAL, "--push.labels '%s': '%s' is set by ember "
							 "(use --push.service-name)", given, k);
	}
	return 0;
}

static int add_header(push_dest *d, ember_error *err, const char *fmt, const char *a,
		      const char *b)
{
	if (d->n_headers == sizeof d->headers / sizeof d->headers[0])
		return ember_errorf(err, EINVAL, "too many headers");
	if (asprintf(&d->headers[d->n_headers], fmt, a, b) < 0)
		return ember_errorf(err, ENOMEM, "out of memory");
	d->n_headers++;
	return 0;
}

static int resolve_pyroscope(push_dest *d, const ember_push_opts *o, ember_error *err)
{
	d->kind = PUSH_PYROSCOPE;
	d->name = "pyroscope";
	int rc = check_url("--push.pyroscope.url", o->pyroscope_url, err);
	if (rc < 0)
		return rc;
	if (!(d->url = join(o->pyroscope_url, PYROSCOPE_PATH)))
		return ember_errorf(err, ENOMEM, "out of memory");
	if ((rc = add_header(d, err, "Content-Type: application/proto%s%s", "", "")) < 0 ||
	    (rc = add_header(d, err, "Connect-Protocol-Version: 1%s%s", "", "")) < 0)
		return rc;
	char secret[4096];
	if (o->pyroscope_basic_auth_file) {
		if ((rc = read_secret("--push.pyroscope.basic-auth-file",
				      o->pyroscope_basic_auth_file, secret, sizeof secret, err)) < 0)
			return rc;
		if (!strchr(secret, ':'))
			return ember_errorf(err, EINVAL, "--push.pyroscope.basic-auth-file %s: want "
							 "one line USER:PASSWORD",
					    o->pyroscope_basic_auth_file);
		if (!(d->userpwd = strdup(secret)))
			return ember_errorf(err, ENOMEM, "out of memory");
	}
	if (o->pyroscope_bearer_token_file) {
		if (o->pyroscope_basic_auth_file)
			return ember_errorf(err, EINVAL, "--push.pyroscope.basic-auth-file and "
							 "--push.pyroscope.bearer-token-file: give one");
		if ((rc = read_secret("--push.pyroscope.bearer-token-file",
				      o->pyroscope_bearer_token_file, secret, sizeof secret,
				      err)) < 0 ||
		    (rc = add_header(d, err, "Authorization: Bearer %s%s", secret, "")) < 0)
			return rc;
	}
	explicit_bzero(secret, sizeof secret);
	if (o->pyroscope_tenant_id) {
		if (!*o->pyroscope_tenant_id || strpbrk(o->pyroscope_tenant_id, "\r\n"))
			return ember_errorf(err, EINVAL, "--push.pyroscope.tenant-id: empty or "
							 "multi-line");
		if ((rc = add_header(d, err, "X-Scope-OrgID: %s%s", o->pyroscope_tenant_id, "")) <
		    0)
			return rc;
	}
	if (o->labels) {
		if ((rc = parse_kv("--push.labels", o->labels, false, &d->strings, d->labels,
				   &d->n_labels, err)) < 0)
			return rc;
		if ((rc = check_labels(d, o->labels, err)) < 0)
			return rc;
	}
	d->service_name = o->service_name && *o->service_name ? o->service_name
							      : env("OTEL_SERVICE_NAME");
	return 0;
}

/* The OTLP endpoint: the flag (+ path), else the profiles variable as is,
 * else the generic one (+ path); NULL when none. */
static int otlp_url(const ember_push_opts *o, char **out, ember_error *err)
{
	const char *base = o->otlp_endpoint, *what = "--push.otlp.endpoint";
	bool as_is = false;
	if (!base && (base = env("OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT"))) {
		what = "OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT";
		as_is = true;
	}
	if (!base && (base = env("OTEL_EXPORTER_OTLP_ENDPOINT")))
		what = "OTEL_EXPORTER_OTLP_ENDPOINT";
	*out = NULL;
	if (!base)
		return 0;
	int rc = check_url(what, base, err);
	if (rc < 0)
		return rc;
	if (!(*out = as_is ? strdup(base) : join(base, OTLP_PATH)))
		return ember_errorf(err, ENOMEM, "out of memory");
	return 0;
}

static int resolve_otlp(push_dest *d, const ember_push_opts *o, char *url, ember_error *err)
{
	d->kind = PUSH_OTLP;
	d->name = "otlp";
	d->url = url;
	int rc;
	if ((rc = add_header(d, err, "Content-Type: application/x-protobuf%s%s", "", "")) < 0 ||
	    (rc = add_header(d, err, "Content-Encoding: gzip%s%s", "", "")) < 0)
		return rc;
	/* headers: the generic variable, then the profiles one over it */
	ember_kv h[PUSH_MAX_KV];
	size_t nh = 0;
	char *st1 = NULL, *st2 = NULL;
	const char *g = env("OTEL_EXPORTER_OTLP_HEADERS");
	const char *s = env("OTEL_EXPORTER_OTLP_PROFILES_HEADERS");
	rc = 0;
	if (g)
		rc = parse_kv("OTEL_EXPORTER_OTLP_HEADERS", g, true, &st1, h, &nh, err);
	if (rc >= 0 && s)
		rc = parse_kv("OTEL_EXPORTER_OTLP_PROFILES_HEADERS", s, true, &st2, h, &nh, err);
	for (size_t i = 0; i < nh && rc >= 0; i++) {
		if (strpbrk(h[i].key, ": \t\r\n") || strpbrk(h[i].value, "\r\n"))
			rc = ember_errorf(err, EINVAL, "OTEL_EXPORTER_OTLP_HEADERS: bad header '%s'",
					  h[i].key);
		else
			rc = add_header(d, err, "%s: %s", h[i].key, h[i].value);
	}
	free(st1);
	free(st2);
	if (rc < 0)
		return rc;
	const char *ra = env("OTEL_RESOURCE_ATTRIBUTES");
	if (ra && (rc = parse_kv("OTEL_RESOURCE_ATTRIBUTES", ra, true, &d->strings,
				 d->resource_attrs, &d->n_resource_attrs, err)) < 0)
		return rc;
	const char *from_attrs = NULL, *host = NULL;
	for (size_t i = 0; i < d->n_resource_attrs; i++) {
		if (!strcmp(d->resource_attrs[i].key, "service.name"))
			from_attrs = d->resource_attrs[i].value;
		if (!strcmp(d->resource_attrs[i].key, "host.name"))
			host = d->resource_attrs[i].value;
	}
	d->service_name = o->service_name && *o->service_name ? o->service_name
			  : env("OTEL_SERVICE_NAME")		  ? env("OTEL_SERVICE_NAME")
			  : from_attrs && *from_attrs		  ? from_attrs
								  : NULL;
	if (host)
		snprintf(d->host_name, sizeof d->host_name, "%s", host);
	else if (gethostname(d->host_name, sizeof d->host_name - 1) < 0)
		d->host_name[0] = '\0';
	return 0;
}

int push_dests_resolve(push_dests *out, const ember_push_opts *o, ember_error *err)
{
	memset(out, 0, sizeof *out);
	int rc = 0;
	if (o->pyroscope_url)
		rc = resolve_pyroscope(&out->d[out->n++], o, err);
	else if (o->pyroscope_basic_auth_file || o->pyroscope_bearer_token_file ||
		 o->pyroscope_tenant_id || o->labels)
		rc = ember_errorf(err, EINVAL, "--push.labels and the --push.pyroscope.* "
					       "credentials need --push.pyroscope.url");
	char *url = NULL;
	if (rc >= 0)
		rc = otlp_url(o, &url, err);
	if (rc >= 0 && url)
		rc = resolve_otlp(&out->d[out->n++], o, url, err);
	if (rc >= 0 && !out->n && o->service_name)
		rc = ember_errorf(err, EINVAL, "--push.service-name needs --push.pyroscope.url or "
					       "--push.otlp.endpoint");
	if (rc < 0)
		push_dests_free(out);
	return rc;
}

void push_dests_free(push_dests *ds)
{
	for (size_t i = 0; i < ds->n; i++) {
		push_dest *d = &ds->d[i];
		free(d->url);
		for (size_t k = 0; k < d->n_headers; k++) {
			explicit_bzero(d->headers[k], strlen(d->headers[k]));
			free(d->headers[k]);
		}
		if (d->userpwd) {
			explicit_bzero(d->userpwd, strlen(d->userpwd));
			free(d->userpwd);
		}
		free(d->strings);
	}
	memset(ds, 0, sizeof *ds);
}

int push_dest_encode(const push_dest *d, const ember_profile *p, const char *id, ember_buf *body,
		     ember_error *err)
{
	if (d->kind == PUSH_PYROSCOPE) {
		ember_pyroscope_opts po = { .window_id = id, .service_name = d->service_name,
					    .labels = d->labels, .n_labels = d->n_labels };
		return ember_pyroscope_encode(p, &po, body, NULL, err);
	}
	ember_otlp_opts oo = { .window_id = id, .service_name = d->service_name,
			       .host_name = d->host_name, .resource_attrs = d->resource_attrs,
			       .n_resource_attrs = d->n_resource_attrs };
	ember_buf raw = EMBER_BUF_INIT;
	int rc = ember_otlp_encode(p, &oo, &raw, err);
	if (rc >= 0)
		rc = ember_compress(raw.data, raw.len, EMBER_COMPRESS_GZIP, body, err);
	ember_buf_free(&raw);
	return rc;
}

int ember_push_configured(const ember_push_opts *o)
{
	return o->pyroscope_url || o->otlp_endpoint || env("OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT") ||
	       env("OTEL_EXPORTER_OTLP_ENDPOINT");
}

int ember_push_check(const ember_push_opts *o, ember_error *err)
{
	push_dests ds;
	int rc = push_dests_resolve(&ds, o, err);
	if (rc >= 0)
		push_dests_free(&ds);
	return rc < 0 ? -EINVAL : 0;
}

bool push_partial_success(const push_dest *d, const push_reply *r, char *line, size_t len)
{
	int64_t rejected;
	char why[256];
	if (d->kind != PUSH_OTLP || r->status < 200 || r->status >= 300 ||
	    ember_otlp_partial_success(r->body, r->body_len, &rejected, why, sizeof why) < 0 ||
	    rejected <= 0)
		return false;
	snprintf(line, len, "the collector rejected %lld profiles: %s", (long long)rejected,
		 why[0] ? why : "(no message)");
	return true;
}
