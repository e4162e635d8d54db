"""tests/server/tls_auth.py — `ember serve --web.config.file` with TLS and
basic auth, against curl and certificates made here with openssl (a CA and
a server certificate it signed):
  - https with --cacert works; without it curl refuses the certificate;
    plain http to the TLS port gets no HTTP answer;
  - /metrics, /api/v1/profiles, /api/v1/merge: 401 + WWW-Authenticate
    without credentials, with a wrong password or an unknown user; 200 with
    the right ones; /healthz stays open;
  - bad web configs: one clear line and exit 2 (unknown key, not a bcrypt
    hash, cert and key that do not match) or 1 (missing cert file), and
    nothing listens."""
import os
import tempfile
import time

from accesslib import (EMBER, bcrypt, check, cleanup, curl, fail, free_port, make_certs,
                       read_log, rmtree, run, spawn, stop, tmpdir, wait_ready, workload)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def main():
    d = tmpdir("ember-tls-")
    try:
        ca, crt, key = make_certs(d)
        hash_alice = bcrypt("s3cret")
        cfg = write(os.path.join(d, "web.yml"),
                    "# ember web config\ntls_server_config:\n"
                    "  cert_file: server.crt\n  key_file: server.key\n"
                    f"basic_auth_users:\n  alice: '{hash_alice}'\n  bob: {bcrypt('other')}\n")
        w = workload(60)
        port = free_port()
        log = tempfile.TemporaryFile()
        p = spawn([EMBER, "serve", "-p", str(w.pid), "--window", "1s", "-F", "199",
                   "--listen", f"127.0.0.1:{port}", "--storage.path", os.path.join(d, "store"),
                   "--web.config.file", cfg], stdout=log, stderr=log)
        base = f"https://localhost:{port}"
        tls = ("--cacert", ca)
        wait_ready(p, base + "/healthz", *tls, log=log)
        check("listening on https://" in read_log(log), "the start line does not say https")

        # transport
        status, _, rc, err = curl(base + "/healthz")
        check(status == 0 and rc == 60, f"curl without --cacert: {status} rc {rc} {err}")
        status, _, rc, _ = curl(f"http://127.0.0.1:{port}/healthz", timeout=5)
        check(status not in (200, 401), f"plain http to the TLS port answered {status}")

        # auth
        hdr = os.path.join(d, "headers")
        for path in ("/metrics", "/api/v1/profiles", "/", "/api/v1/merge?start=0&end=9999999999"):
            for creds in ((), ("-u", "alice:wrong"), ("-u", "mallory:s3cret"), ("-u", "alice:"),
                          ("-u", "bob:s3cret")):
                status, body, rc, err = curl(base + path, *tls, *creds, "-D", hdr)
                check(status == 401, f"{path} with {creds}: {status}, want 401 (curl {rc}: "
                      f"{err})\n{read_log(log)}")
                with open(hdr) as f:
                    h = f.read().lower()
                check('www-authenticate: basic realm="ember"' in h,
                      f"{path}: 401 without WWW-Authenticate:\n{h}")
                check(b"unauthorized" in body, f"{path}: 401 body {body[:200]!r}")
        status, body, _, _ = curl(base + "/metrics", *tls, "-u", "alice:s3cret")
        check(status == 200 and b"ember_samples_total" in body, f"/metrics as alice: {status}")
        status, _, _, _ = curl(base + "/metrics", *tls, "-u", "bob:other")
        check(status == 200, f"/metrics as bob: {status}")
        status, body, _, _ = curl(base + "/healthz", *tls)
        check(status == 200 and body.strip() == b"ok", f"/healthz without credentials: {status}")

        # a stored window through TLS + auth, as gzip pprof
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            status, body, _, _ = curl(base + "/api/v1/profiles", *tls, "-u", "alice:s3cret")
            check(status == 200, f"/api/v1/profiles as alice: {status}")
            if b'"id"' in body:
                break
            time.sleep(0.3)
        else:
            fail("no window stored within 20 s")
        now = int(time.time()) + 5
        status, body, _, _ = curl(f"{base}/api/v1/merge?start=0&end={now}", *tls,
                                  "-u", "alice:s3cret")
        check(status == 200 and body[:2] == b"\x1f\x8b", f"/api/v1/merge as alice: {status}")
        check(stop(p) == 0, "serve did not exit 0 on SIGTERM:\n" + read_log(log))
        w.kill()

        # bad web configs
        other_key = os.path.join(d, "ca.key")
        bad = {
            "unknown key": ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
                            "  min_version: TLS13\n", 2, "unsupported tls_server_config key"),
            "top-level key": ("http_server_config:\n  http2: true\n", 2, "unsupported key"),
            "plain password": ("basic_auth_users:\n  alice: s3cret\n", 2, "not a bcrypt hash"),
            "missing cert": ("tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n",
                             1, "nope.crt"),
            "mismatched pair": (f"tls_server_config:\n  cert_file: server.crt\n  key_file: {other_key}\n",
                                2, "do not match"),
        }
        for name, (text, want_rc, needle) in bad.items():
            cfgp = write(os.path.join(d, "bad.yml"), text)
            bport = free_port()
            r = run([EMBER, "serve", "-p", str(os.getpid()), "--listen", f"127.0.0.1:{bport}",
                     "--storage.path", os.path.join(d, "store2"), "--web.config.file", cfgp],
                    timeout=30)
            err = r.stderr.decode(errors="replace")
            check(r.returncode == want_rc, f"{name}: exit {r.returncode}, want {want_rc}: {err}")
            check(needle in err, f"{name}: error lacks '{needle}': {err}")
            check(len([ln for ln in err.splitlines() if ln.strip()]) == 1,
                  f"{name}: want one error line, got: {err}")
        r = run([EMBER, "serve", "-p", str(os.getpid()), "--web.config.file",
                 os.path.join(d, "none.yml")], timeout=30)
        check(r.returncode == 1 and b"none.yml" in r.stderr, f"missing config: {r.returncode}")
    finally:
        cleanup()
        rmtree(d)
    print("ok: TLS, basic auth and web config refusals")


if __name__ == "__main__":
    main()
