/* server/basicauth.c — HTTP basic auth against the bcrypt hashes of a
 * web config: Authorization header decoding, the bcrypt check through
 * libxcrypt's crypt_rn, constant-time comparisons, and a short cache of
 * successful checks. Must never: keep a password (the cache holds keyed
 * SHA-256 digests), compare secrets with early exit, or answer faster
 * for an unknown user than for a wrong password.
 */
#include "server/webconfig.h"

#include "server/gate.h"
#include "ember/clock.h"

#include <crypt.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define CACHE_SLOTS 64
#define CACHE_TTL_NS (30LL * 1000000000LL)
#define MAX_CRED 1024
#define DIGEST 32

typedef struct cache_slot {
	unsigned char digest[DIGEST];
	int64_t expires_ns;   /* 0: empty */
} cache_slot;

struct ember_basicauth {
	ember_webconfig_user *users;
	size_t n_users;
	unsigned char key[32];   /* random per process: digests are useless elsewhere */
	ember_gate *bcrypt_gate;   /* one bcrypt at a time: a flood of wrong
				    * passwords takes one CPU, not all */
	pthread_mutex_t mu;
	cache_slot cache[CACHE_SLOTS];
	unsigned next;
};

/* A valid bcrypt hash of nothing anyone knows: checked for unknown users so
 * they take as long as a wrong password. */
static const char DUMMY_HASH[] = "$2b$10$D4P/Dt/6DGWpzNnjtwWVzOIZtT9fgzatI3.IvNhNl8agsnx5GplTy";

static bool equal_ct(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

int ember_basicauth_new(ember_basicauth **out, const ember_webconfig *wc, ember_error *err)
{
	*out = NULL;
	if (!wc || !wc->n_users)
		return 0;
	ember_basicauth *a = calloc(1, sizeof *a);
	if (!a || !(a->users = calloc(wc->n_users, sizeof *a->users)))
		goto oom;
	for (size_t i = 0; i < wc->n_users; i++, a->n_users++) {
		a->users[i].name = strdup(wc->users[i].name);
		a->users[i].hash = strdup(wc->users[i].hash);
		if (!a->users[i].name || !a->users[i].hash) {
			a->n_users++;
			goto oom;
		}
	}
	if (getrandom(a->key, sizeof a->key, 0) != (ssize_t)sizeof a->key) {
		ember_basicauth_free(a);
		return ember_errorf(err, EIO, "basic auth: getrandom failed");
	}
	if (ember_gate_new(&a->bcrypt_gate, 1, err) < 0) {
		ember_basicauth_free(a);
		return -ENOMEM;
	}
	pthread_mutex_init(&a->mu, NULL);
	*out = a;
	return 0;
oom:
	ember_basicauth_free(a);
	return ember_errorf(err, ENOMEM, "basic auth: out of memory");
}

void ember_basicauth_free(ember_basicauth *a)
{
	if (!a)
		return;
	ember_webconfig_users_free(a->users, a->n_users);
	ember_gate_free(a->bcrypt_gate);
	explicit_bzero(a->key, sizeof a->key);
	free(a);
}

static bool bcrypt_matches(const char *hash, const char *password)
{
	struct crypt_data *cd = calloc(1, sizeof *cd);
	if (!cd)
		return false;
	/* crypt_rn: libxcrypt's crypt_r that returns NULL on failure (and is
	 * not intercepted by ASan, whose crypt_r interceptor finds no real
	 * crypt_r in libc and jumps to address 0) */
	const char *h = crypt_rn(password, hash, cd, (int)sizeof *cd);
	size_t n = strlen(hash);
	bool ok = h && strlen(h) == n && equal_ct(h, hash, n);
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return ok;
}

bool ember_basicauth_verify(const ember_basicauth *a, const char *user, const char *password)
{
	const char *hash = NULL;
	size_t ulen = strlen(user);
	for (size_t i = 0; i < a->n_users; i++) {
		const char *name = a->users[i].name;
		if (strlen(name) == ulen && equal_ct(name, user, ulen))
			hash = a->users[i].hash;
	}
	ember_gate_enter(a->bcrypt_gate);
	bool ok = bcrypt_matches(hash ? hash : DUMMY_HASH, password);
	ember_gate_leave(a->bcrypt_gate);
	return ok && hash;
}

/* RFC 4648 base64 with padding; -1 on anything else. */
static long base64_decode(const char *in, unsigned char *out, size_t cap)
{
	size_t len = strlen(in), o = 0;
	if (len % 4)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		uint32_t v = 0;
		int pad = 0;
		for (int j = 0; j < 4; j++) {
			char c = in[i + j];
			int d;
			if (c >= 'A' && c <= 'Z')
				d = c - 'A';
			else if (c >= 'a' && c <= 'z')
				d = c - 'a' + 26;
			else if (c >= '0' && c <= '9')
				d = c - '0' + 52;
			else if (c == '+')
				d = 62;
			else if (c == '/')
				d = 63;
			else if (c == '=' && i + 4 == len && j >= 2)
				d = 0, pad++;
			else
				return -1;
			if (pad && c != '=')
				return -1;
			v = v << 6 | (uint32_t)d;
		}
		int bytes = 3 - pad;
		if (o + (size_t)bytes > cap)
			return -1;
		for (int j = 0; j < bytes; j++)
			out[o++] = (unsigned char)(v >> (16 - 8 * j));
	}
	return (long)o;
}

static bool digest_of(const ember_basicauth *a, const unsigned char *cred, size_t n,
		      unsigned char out[DIGEST])
{
	return gnutls_hmac_fast(GNUTLS_MAC_SHA256, a->key, sizeof a->key, cred, n, out) == 0;
}

static bool cache_hit(ember_basicauth *a, const unsigned char d[DIGEST])
{
	int64_t now = ember_mono_ns();
	bool hit = false;
	pthread_mutex_lock(&a->mu);
	for (size_t i = 0; i < CACHE_SLOTS; i++)   /* every slot: no early exit */
		hit |= a->cache[i].expires_ns > now && equal_ct(a->cache[i].digest, d, DIGEST);
	pthread_mutex_unlock(&a->mu);
	return hit;
}

static void cache_put(ember_basicauth *a, const unsigned char d[DIGEST])
{
	pthread_mutex_lock(&a->mu);
	cache_slot *s = &a->cache[a->next++ % CACHE_SLOTS];
	memcpy(s->digest, d, DIGEST);
	s->expires_ns = ember_mono_ns() + CACHE_TTL_NS;
	pthread_mutex_unlock(&a->mu);
}

bool ember_basicauth_check(ember_basicauth *a, const char *authorization)
{
	if (!authorization || strncasecmp(authorization, "Basic ", 6))
		return false;
	const char *b64 = authorization + 6;
	while (*b64 == ' ')
		b64++;
	if (strlen(b64) > MAX_CRED * 4 / 3 + 4)
		return false;
	unsigned char cred[MAX_CRED + 1];
	long n = base64_decode(b64, cred, MAX_CRED);
	if (n < 0)
		return false;
	unsigned char d[DIGEST];
	bool have_digest = digest_of(a, cred, (size_t)n, d);
	bool ok = false;
	if (have_digest && cache_hit(a, d)) {
		ok = true;
		goto out;
	}
	cred[n] = '\0';
	char *colon = memchr(cred, ':', (size_t)n);
	if (!colon || strlen((char *)cred) != (size_t)n)   /* no ':' or a NUL inside */
		goto out;
	*colon = '\0';
	ok = ember_basicauth_verify(a, (char *)cred, colon + 1);
	if (ok && have_digest)
		cache_put(a, d);
out:
	explicit_bzero(cred, sizeof cred);
	return ok;
}
