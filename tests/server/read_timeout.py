"""tests/server/read_timeout.py — --web.read-timeout (issue 8, slowloris)
on real sockets, with a 20 s idle timeout so only the read deadline can act:
  - a client sending "GET /metrics HTTP/1.1\\r\\n" and then one header byte
    every 0.5 s (never idle long enough for --web.timeout) is disconnected
    about 2 s after connecting (asserted 1.5..5 s);
  - meanwhile a normal request on another connection gets 200, and a
    /debug/pprof/profile?seconds=3 started before the trickle completes
    with a profile (answering is not limited by the deadline);
  - a keep-alive connection answered once and then silent is closed by the
    deadline too (it restarts when a request completes);
  - ember_http_read_timeouts_total counts both;
  - a bad value is exit 2 with one line."""
import os
import socket
import tempfile
import threading
import time

from accesslib import (EMBER, check, cleanup, free_port, get, parse_metrics,
                       read_log, rmtree, run, spawn, stop, tmpdir, workload)
from faultlib import is_gzip_pprof
from user_drop import wait_http


def trickle(port):
    """Seconds until the server ends a connection fed one header byte per
    0.5 s (None: still open after 12 s)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    t0 = time.monotonic()
    try:
        s.sendall(b"GET /metrics HTTP/1.1\r\n")
        header = b"X-Slow: " + b"a" * 100
        for byte in header:
            if time.monotonic() - t0 > 12:
                return None
            s.settimeout(0.5)
            try:
                if s.recv(4096) == b"":
                    return time.monotonic() - t0
            except socket.timeout:
                pass
            except ConnectionResetError:
                return time.monotonic() - t0
            try:
                s.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - t0
        return None
    finally:
        s.close()


def read_timeouts(base):
    status, body, _ = get(base + "/metrics")
    check(status == 200, f"/metrics answered {status}")
    return parse_metrics(body.decode()).get("ember_http_read_timeouts_total")


def main():
    d = tmpdir("ember-readto-")
    w = None
    try:
        w = workload(60)
        port = free_port()
        log = tempfile.TemporaryFile()
        p = spawn([EMBER, "serve", "-p", str(w.pid), "-F", "99", "--window", "1s", "--listen",
                   f"127.0.0.1:{port}", "--storage.path", os.path.join(d, "store"),
                   "--web.timeout", "20s", "--web.read-timeout", "2s"],
                  stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        wait_http(p, port, log)
        before = read_timeouts(base)
        check(before is not None, "no ember_http_read_timeouts_total in /metrics")

        prof = {}

        def profile():
            prof["r"] = get(base + "/debug/pprof/profile?seconds=3", timeout=30)

        t = threading.Thread(target=profile)
        t.start()
        time.sleep(0.3)   # the profile request is in its handler
        slow = {}
        ts = threading.Thread(target=lambda: slow.setdefault("t", trickle(port)))
        ts.start()
        time.sleep(0.5)
        status, _, _ = get(base + "/healthz", timeout=10)
        check(status == 200, f"a normal request during the trickle: {status}")
        ts.join(30)
        t.join(30)
        took = slow.get("t")
        check(took is not None, "the trickling client was still connected after 12 s")
        check(1.5 <= took <= 5, f"the trickling client was cut after {took:.2f} s, want ~2 s")
        status, body, _ = prof.get("r", (0, b"", None))
        check(status == 200 and is_gzip_pprof(body),
              f"profile?seconds=3 during the trickle: {status} {body[:200]!r}")

        # keep-alive: answered, then silent; the deadline restarts at the answer
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = s.recv(4096)
        check(data.startswith(b"HTTP/1.1 200"), f"keep-alive request: {data[:100]!r}")
        t0 = time.monotonic()
        try:
            rest = s.recv(4096)
        except (ConnectionResetError, socket.timeout):
            rest = b"timeout" if time.monotonic() - t0 >= 10 else b""
        idle = time.monotonic() - t0
        s.close()
        check(rest == b"" and 1.5 <= idle <= 5,
              f"a silent keep-alive connection: {rest[:50]!r} after {idle:.2f} s, want ~2 s")

        after = read_timeouts(base)
        check(after >= before + 2, f"ember_http_read_timeouts_total {before} -> {after}")
        check(stop(p) == 0, "serve did not exit 0:\n" + read_log(log))
        print(f"trickle cut after {took:.2f} s, idle keep-alive after {idle:.2f} s, "
              f"read_timeouts {before} -> {after}")

        for val in ("0", "50ms", "2h", "abc"):
            r = run([EMBER, "serve", "-p", str(os.getpid()), "--web.read-timeout", val])
            err = r.stderr.decode(errors="replace")
            check(r.returncode == 2 and "--web.read-timeout" in err.splitlines()[0],
                  f"--web.read-timeout {val}: exit {r.returncode}: {err}")
    finally:
        if w and w.poll() is None:
            w.kill()
            w.wait()
        cleanup()
        rmtree(d)
    print("ok: the request read deadline")


if __name__ == "__main__":
    main()
