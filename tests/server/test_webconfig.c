/* tests/server/test_webconfig.c — the web config parser (good files, every
 * refusal with its message) and basic auth against real bcrypt hashes made
 * here with libxcrypt: right and wrong passwords, unknown users, malformed
 * headers, and the cache of successful checks. */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "server/webconfig.h"

static char hash_a[128], hash_b[128];

static void make_hash(const char *pw, char *out)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	memset(&cd, 0, sizeof cd);
	CHECK(crypt_gensalt_rn("$2b$", 4, NULL, 0, salt, sizeof salt) != NULL);
	const char *h = crypt_rn(pw, salt, &cd, (int)sizeof cd);
	CHECK(h && h[0] == '$');
	snprintf(out, 128, "%s", h);
}

static int parse(const char *text, ember_webconfig **wc, ember_error *err)
{
	memset(err, 0, sizeof *err);
	return ember_webconfig_parse(wc, text, strlen(text), "web.yml", NULL, err);
}

static void expect_error(const char *text, const char *needle)
{
	ember_webconfig *wc = (void *)1;
	ember_error err;
	int rc = parse(text, &wc, &err);
	CHECK(rc < 0);
	CHECK(wc == NULL);
	if (!strstr(err.msg, needle))
		fprintf(stderr, "error '%s' lacks '%s'\n", err.msg, needle);
	CHECK(strstr(err.msg, needle) != NULL);
}

static void test_parse_users(void)
{
	char text[1024];
	snprintf(text, sizeof text,
		 "# users of ember\n---\nbasic_auth_users:\n"
		 "    alice: %s   # comment\n"
		 "    'bob': \"%s\"\n\n",
		 hash_a, hash_b);
	ember_webconfig *wc = NULL;
	ember_error err;
	CHECK_EQ_INT(parse(text, &wc, &err), 0);
	if (!wc) {
		fprintf(stderr, "%s\n", err.msg);
		return;
	}
	CHECK_EQ_INT(wc->n_users, 2);
	CHECK(!strcmp(wc->users[0].name, "alice") && !strcmp(wc->users[0].hash, hash_a));
	CHECK(!strcmp(wc->users[1].name, "bob"));
	CHECK(!strcmp(wc->users[1].hash, hash_b));
	CHECK(wc->cert_pem == NULL);
	ember_webconfig_free(wc);
}

static void test_refusals(void)
{
	char text[512];
	expect_error("tls_server_config:\n  cert_file: a.crt\n  client_auth_type: "
		     "RequireAndVerifyClientCert\n",
		     "unsupported tls_server_config key");
	expect_error("http_server_config:\n  http2: false\n", "unsupported key");
	expect_error("tls_server_config:\n  cert_file: a.crt\n", "needs both cert_file and key_file");
	expect_error("basic_auth_users:\n  alice: plain-password\n", "not a bcrypt hash");
	expect_error("basic_auth_users:\n  alice: $2y$10$short\n", "60 characters");
	expect_error("basic_auth_users:\n", "empty");
	expect_error("basic_auth_users: {alice: x}\n", "nested block");
	expect_error("  alice: x\n", "outside a section");
	expect_error("basic_auth_users:\n\talice: x\n", "tab");
	expect_error("basic_auth_users:\n  - alice\n", "key: value");
	expect_error("basic_auth_users:\n  alice: 'open\n", "unterminated");
	expect_error("tls_server_config:\n  cert_file: /nonexistent/ember.crt\n  key_file: k\n",
		     "/nonexistent/ember.crt");
	snprintf(text, sizeof text, "basic_auth_users:\n  alice: %s\n    bob: %s\n", hash_a,
		 hash_b);
	expect_error(text, "indentation");
	snprintf(text, sizeof text, "basic_auth_users:\n  alice: %s\n  alice: %s\n", hash_a,
		 hash_b);
	expect_error(text, "user given twice");
	snprintf(text, sizeof text, "basic_auth_users:\n  alice: %s\nbasic_auth_users:\n", hash_a);
	expect_error(text, "given twice");
	ember_webconfig *wc;
	ember_error err;
	CHECK(ember_webconfig_parse(&wc, "basic_auth_users:\0", 18, "w", NULL, &err) < 0);
	CHECK(strstr(err.msg, "NUL") != NULL);
}

/* real PEM files, made with openssl */
static void test_tls_files(void)
{
	char dir[] = "/tmp/ember-webcfg-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char crt[256], key[256], cfg[256];
	snprintf(crt, sizeof crt, "%s/s.crt", dir);
	snprintf(key, sizeof key, "%s/s.key", dir);
	snprintf(cfg, sizeof cfg, "%s/web.yml", dir);
	char cmd[1024], key2[256];
	snprintf(key2, sizeof key2, "%s/other.key", dir);
	snprintf(cmd, sizeof cmd,
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-keyout %s -out %s -days 1 -subj /CN=localhost 2>/dev/null && "
		 "openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:prime256v1 -out %s "
		 "2>/dev/null",
		 key, crt, key2);
	CHECK_EQ_INT(system(cmd), 0);
	FILE *f = fopen(cfg, "w");
	fputs("tls_server_config:\n  cert_file: s.crt\n  key_file: \"s.key\"\n", f);
	fclose(f);
	ember_webconfig *wc = NULL;
	ember_error err = { 0 };
	CHECK_EQ_INT(ember_webconfig_load(&wc, cfg, &err), 0);
	if (wc) {   /* relative to the config's directory */
		CHECK(!strcmp(wc->cert_file, crt) && !strcmp(wc->key_file, key));
		CHECK(strstr(wc->cert_pem, "BEGIN CERTIFICATE") != NULL);
		CHECK(strstr(wc->key_pem, "PRIVATE KEY") != NULL);
		CHECK_EQ_INT(wc->n_users, 0);
	}
	ember_webconfig_free(wc);
	/* a key where the cert should be */
	f = fopen(cfg, "w");
	fputs("tls_server_config:\n  cert_file: s.key\n  key_file: s.key\n", f);
	fclose(f);
	CHECK(ember_webconfig_load(&wc, cfg, &err) == -EINVAL);
	CHECK(strstr(err.msg, "not a PEM certificate") != NULL);
	/* a key of another certificate */
	f = fopen(cfg, "w");
	fputs("tls_server_config:\n  cert_file: s.crt\n  key_file: other.key\n", f);
	fclose(f);
	CHECK(ember_webconfig_load(&wc, cfg, &err) == -EINVAL);
	CHECK(strstr(err.msg, "do not match") != NULL);
	CHECK(ember_webconfig_load(&wc, "/nonexistent/web.yml", &err) == -ENOENT);
	CHECK(strstr(err.msg, "--web.config.file") != NULL);
	unlink(crt);
	unlink(key);
	unlink(key2);
	unlink(cfg);
	rmdir(dir);
}

static const char *b64(const char *in)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static char out[512];
	size_t n = strlen(in), o = 0;
	o += (size_t)snprintf(out, sizeof out, "Basic ");
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned char)in[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)in[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static void test_auth(void)
{
	char text[512];
	snprintf(text, sizeof text, "basic_auth_users:\n  alice: %s\n  bob: %s\n", hash_a, hash_b);
	ember_webconfig *wc = NULL;
	ember_error err;
	CHECK_EQ_INT(parse(text, &wc, &err), 0);
	ember_basicauth *a = NULL;
	CHECK_EQ_INT(ember_basicauth_new(&a, wc, &err), 0);
	ember_webconfig_free(wc);   /* the auth keeps copies */
	CHECK(a != NULL);
	if (!a)
		return;
	CHECK(ember_basicauth_verify(a, "alice", "wonderland"));
	CHECK(ember_basicauth_verify(a, "bob", "builder:with:colons"));
	CHECK(!ember_basicauth_verify(a, "alice", "builder:with:colons"));
	CHECK(!ember_basicauth_verify(a, "carol", "wonderland"));
	CHECK(ember_basicauth_check(a, b64("alice:wonderland")));
	CHECK(ember_basicauth_check(a, b64("alice:wonderland")));   /* cached */
	CHECK(ember_basicauth_check(a, b64("bob:builder:with:colons")));
	CHECK(!ember_basicauth_check(a, b64("alice:wonderlanD")));
	CHECK(!ember_basicauth_check(a, b64("alice:")));
	CHECK(!ember_basicauth_check(a, b64("alicewonderland")));
	CHECK(!ember_basicauth_check(a, b64("Alice:wonderland")));
	CHECK(!ember_basicauth_check(a, NULL));
	CHECK(!ember_basicauth_check(a, "Bearer abc"));
	CHECK(!ember_basicauth_check(a, "Basic !!!!"));
	CHECK(!ember_basicauth_check(a, "Basic YWxpY2U6d29uZGVybGFuZA"));   /* no padding */
	CHECK(ember_basicauth_check(a, "basic YWxpY2U6d29uZGVybGFuZA=="));  /* scheme any case */
	ember_basicauth_free(a);
	/* no users: no auth object */
	CHECK_EQ_INT(parse("tls_server_config:\n  cert_file: /dev/null\n  key_file: /dev/null\n",
			   &wc, &err) < 0, 1);
	a = (void *)1;
	CHECK_EQ_INT(ember_basicauth_new(&a, NULL, &err), 0);
	CHECK(a == NULL);
}

int main(void)
{
	make_hash("wonderland", hash_a);
	make_hash("builder:with:colons", hash_b);
	test_parse_users();
	test_refusals();
	test_tls_files();
	test_auth();
	return check_exit();
}
