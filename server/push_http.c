/* server/push_http.c — one HTTP POST of a push body with libcurl (the
 * GnuTLS build, so TLS goes through the library ember already links):
 * https with the system's trust store, HTTP(S)_PROXY and NO_PROXY as every
 * OTel SDK honours them, keep-alive between requests, bounded time.
 *
 * Owns: the curl handle of one destination, reading the status and
 * Retry-After. Must never: retry (server/push.c decides), log, or follow a
 * redirect (a push answered 3xx is not delivered).
 */
#include "server/push.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONNECT_TIMEOUT_S 10L
#define TOTAL_TIMEOUT_S 60L
/* A Retry-After beyond this is taken as this. */
#define RETRY_AFTER_MAX_NS (600LL * 1000000000LL)

struct push_http {
	CURL *curl;
	struct curl_slist *headers;
	const atomic_bool *abort;
	push_reply *reply;   /* of the transfer in flight */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Retry-After: delta-seconds or an HTTP-date. */
static int64_t parse_retry_after(const char *v)
{
	while (*v == ' ' || *v == '\t')
		v++;
	if (isdigit((unsigned char)*v)) {
		char *end;
		long long s = strtoll(v, &end, 10);
		if (s < 0)
			return -1;
		return s > RETRY_AFTER_MAX_NS / 1000000000LL ? RETRY_AFTER_MAX_NS
							     : s * 1000000000LL;
	}
	time_t when = curl_getdate(v, NULL);
	if (when < 0)
		return -1;
	int64_t d = ((int64_t)when - (int64_t)time(NULL)) * 1000000000LL;
	return d < 0 ? 0 : d > RETRY_AFTER_MAX_NS ? RETRY_AFTER_MAX_NS : d;
}

static size_t on_header(char *buf, size_t size, size_t n, void *ctx)
{
	push_http *h = ctx;
	size_t len = size * n;
	static const char name[] = "retry-after:";
	if (len > sizeof name - 1 && strncasecmp(buf, name, sizeof name - 1) == 0) {
		char v[128];
		size_t vl = len - (sizeof name - 1);
		if (vl >= sizeof v)
			vl = sizeof v - 1;
		memcpy(v, buf + sizeof name - 1, vl);
		v[vl] = '\0';
		v[strcspn(v, "\r\n")] = '\0';
		h->reply->retry_after_ns = parse_retry_after(v);
	}
	return len;
}

/* Keeps the start of the answer's body (OTLP's partial success, or an error
 * message for the log). */
static size_t on_body(char *buf, size_t size, size_t n, void *ctx)
{
	push_http *h = ctx;
	push_reply *r = h->reply;
	size_t len = size * n, room = sizeof r->body - r->body_len;
	size_t take = len < room ? len : room;
	memcpy(r->body + r->body_len, buf, take);
	r->body_len += take;
	size_t m = r->body_len < sizeof r->msg - 1 ? r->body_len : sizeof r->msg - 1;
	for (size_t i = 0; i < m; i++)
		r->msg[i] = isprint(r->body[i]) ? (char)r->body[i] : ' ';
	r->msg[m] = '\0';
	return len;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	push_http *h = ctx;
	return h->abort && atomic_load(h->abort) ? 1 : 0;
}

int push_http_new(push_http **out, const push_dest *d, const atomic_bool *abort,
		  ember_error *err)
{
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return ember_errorf(err, EIO, "libcurl: %s", curl_easy_strerror(global_rc));
	push_http *h = calloc(1, sizeof *h);
	if (!h || !(h->curl = curl_easy_init())) {
		free(h);
		return ember_errorf(err, ENOMEM, "libcurl: cannot make a handle");
	}
	h->abort = abort;
	for (size_t i = 0; i < d->n_headers; i++) {
		struct curl_slist *l = curl_slist_append(h->headers, d->headers[i]);
		if (!l) {
			push_http_free(h);
			return ember_errorf(err, ENOMEM, "out of memory");
		}
		h->headers = l;
	}
	/* no "Expect: 100-continue" round trip before large bodies */
	h->headers = curl_slist_append(h->headers, "Expect:");
	CURL *c = h->curl;
	curl_easy_setopt(c, CURLOPT_URL, d->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "ember");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);   /* threads: no SIGALRM */
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, TOTAL_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, h);
	if (d->userpwd) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERPWD, d->userpwd);
	}
	*out = h;
	return 0;
}

void push_http_free(push_http *h)
{
	if (!h)
		return;
	if (h->curl)
		curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->headers);
	free(h);
}

int push_http_post(push_http *h, const void *body, size_t len, push_reply *r)
{
	memset(r, 0, sizeof *r);
	r->retry_after_ns = -1;
	h->reply = r;
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	CURLcode cc = curl_easy_perform(h->curl);
	h->reply = NULL;
	if (cc != CURLE_OK) {
		r->status = 0;
		snprintf(r->msg, sizeof r->msg, "%s", curl_easy_strerror(cc));
		return -EIO;
	}
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &r->status);
	return 0;
}

bool push_retryable(const push_reply *r)
{
	return r->status == 0 || r->status >= 500 || r->status == 429 || r->status == 408;
}
