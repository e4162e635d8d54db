"""tests/server/accesslib.py — what the access tests share beyond
tests/faults/faultlib.py (imported from there: spawn, cleanup, free ports,
the split workload): certificates made with openssl, bcrypt hashes made with
libxcrypt, curl calls, and the test system user."""
import os
import subprocess
import sys
import time
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "faults"))
from faultlib import (EMBER, check, cleanup, fail, free_port, get, parse_metrics,  # noqa: E402,F401
                      rmtree, spawn, tmpdir, workload)

TEST_USER = "ember-test"


def run(args, timeout=60, **kw):
    return subprocess.run(args, capture_output=True, timeout=timeout, **kw)


def make_certs(d):
    """A CA and a server certificate for localhost/127.0.0.1 it signed:
    returns (ca.crt, server.crt, server.key) paths."""
    ca_key, ca_crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
    key, csr, crt = (os.path.join(d, n) for n in ("server.key", "server.csr", "server.crt"))
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    steps = [
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", ca_key, "-out", ca_crt, "-days", "2", "-subj", "/CN=ember test CA"],
        ["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key, "-out", csr, "-subj", "/CN=localhost"],
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
         "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext],
    ]
    for s in steps:
        r = run(s)
        check(r.returncode == 0, f"{' '.join(s)}: {r.stderr.decode(errors='replace')}")
    return ca_crt, crt, key


def bcrypt(password, cost=4):
    """A $2b$ hash from libxcrypt (through Python's crypt module)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import crypt
    h = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << cost))
    check(h and h.startswith("$2b$"), f"libxcrypt made no bcrypt hash: {h!r}")
    return h


def curl(url, *extra, timeout=20):
    """(http status or 0, body bytes, curl exit status, stderr)."""
    r = run(["curl", "-sS", "--max-time", str(timeout), "-o", "-", "-w", "\n%{http_code}",
             *extra, url], timeout=timeout + 10)
    body, _, code = r.stdout.rpartition(b"\n")
    return int(code or 0), body, r.returncode, r.stderr.decode(errors="replace")


def wait_ready(proc, url, *curl_args, log=None, timeout=20):
    """Until url answers 200 through curl; fails if proc exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail(f"ember serve exited with {proc.returncode} at start:\n{read_log(log)}")
        if curl(url, *curl_args, timeout=2)[0] == 200:
            return
        time.sleep(0.1)
    fail(f"ember serve did not answer {url} in time:\n{read_log(log)}")


def read_log(log):
    if log is None:
        return ""
    log.flush()
    log.seek(0)
    return log.read().decode(errors="replace")[-4000:]


def stop(proc, timeout=30):
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        fail("ember serve did not stop within %ds of SIGTERM" % timeout)


def ensure_user(name=TEST_USER):
    """A system user for the privilege tests, created once (idempotent)."""
    if run(["id", "-u", name]).returncode != 0:
        r = run(["useradd", "-r", "-M", "-s", "/usr/sbin/nologin", name])
        check(r.returncode == 0 or run(["id", "-u", name]).returncode == 0,
              "useradd failed: " + r.stderr.decode(errors="replace"))
    uid = int(run(["id", "-u", name]).stdout)
    gid = int(run(["id", "-g", name]).stdout)
    return uid, gid
