"""tests/server/limits.py — the server limits of `ember serve` through its
--web.* flags, on real sockets:
  - --web.max-connections-per-ip 2: a third connection from 127.0.0.1 is
    not served while one from 127.0.0.2 is;
  - --web.max-connections 3: a fourth connection (from 127.0.0.3) is not
    served (left in the listen queue) while three are open;
  - --web.timeout 3s: a silent connection is closed within a few seconds,
    after which new connections are served again;
  - a 100 KB URL and 100 KB of headers: 414 / 431, and serve keeps serving;
  - --web.max-profile-seconds 5: ?seconds=6 is 400 naming the limit;
    33 query parameters are 400;
  - bad values of the flags: exit 2 with one line."""
import os
import socket
import tempfile
import time

from accesslib import (EMBER, check, cleanup, free_port, get, read_log, rmtree, run, spawn,
                       stop, tmpdir)
from user_drop import wait_http


def connect(port, src="127.0.0.1"):
    s = socket.socket()
    s.settimeout(5)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def not_served(s, within=1.5):
    """True when a request sent on s gets no answer within `within` seconds
    (the server closed s, or has not accepted it: beyond the total limit
    libmicrohttpd leaves new connections in the listen queue). Shorter than
    the 3 s idle timeout, which would free a slot."""
    s.settimeout(within)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        data = s.recv(4096)
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        return True
    return data == b""


def answered(s):
    s.settimeout(10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.startswith(b"HTTP/1.1 200")


def get_retry(url):
    """get, retried while the per-IP limit of 2 still counts connections the
    server is tearing down (slow under ASan)."""
    for _ in range(20):
        try:
            return get(url)
        except (ConnectionResetError, ConnectionRefusedError, OSError):
            time.sleep(0.25)
    return get(url)


def raw_status(port, request):
    for _ in range(20):   # 0: refused by the per-IP limit while others tear down
        st = raw_status_once(port, request)
        if st:
            return st
        time.sleep(0.25)
    return 0


def raw_status_once(port, request):
    s = connect(port)
    s.settimeout(10)
    try:
        s.sendall(request)
        data = s.recv(4096)
    except (ConnectionResetError, BrokenPipeError):
        return 0
    finally:
        s.close()
    return int(data.split()[1]) if data.startswith(b"HTTP/") else 0


def main():
    d = tmpdir("ember-limits-")
    try:
        port = free_port()
        log = tempfile.TemporaryFile()
        p = spawn([EMBER, "serve", "-p", str(os.getpid()), "-F", "10", "--listen",
                   f"127.0.0.1:{port}", "--storage.path", os.path.join(d, "store"),
                   "--web.max-connections", "3", "--web.max-connections-per-ip", "2",
                   "--web.timeout", "3s", "--web.max-profile-seconds", "5"],
                  stdout=log, stderr=log)
        wait_http(p, port, log)
        time.sleep(3.5)   # the readiness probe's connection has gone
        a, b = connect(port), connect(port)
        a.sendall(b"GET /heal")   # idle, half a request
        b.sendall(b"GET /heal")
        time.sleep(0.2)
        c = connect(port)
        check(not_served(c), "a third connection from 127.0.0.1 was served (per-IP 2)")
        e = connect(port, "127.0.0.2")
        e.sendall(b"GET /heal")
        time.sleep(0.2)
        f = connect(port, "127.0.0.3")
        check(not_served(f), "a fourth connection was served (max 3)")
        e.close()
        time.sleep(0.3)
        other = connect(port, "127.0.0.2")
        check(answered(other), "a connection from 127.0.0.2 was not served")
        # idle timeout 3 s: a and b are closed by the server
        for s in (a, b):
            s.settimeout(10)
            t0 = time.monotonic()
            try:
                data = s.recv(4096)
            except (ConnectionResetError, socket.timeout):
                data = b"timeout" if time.monotonic() - t0 >= 10 else b""
            check(data != b"timeout", "a silent connection was not closed within 10 s")
        for s in (a, b, c, e, f, other):
            s.close()
        time.sleep(0.3)
        check(answered(connect(port)), "no connection served after the timeouts")

        # sizes
        st = raw_status(port, b"GET /metrics?x=" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        check(st in (414, 431), f"100 KB URL: {st}, want 414")
        st = raw_status(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100000 +
                        b"\r\n\r\n")
        check(st in (413, 431), f"100 KB header: {st}, want 431")
        base = f"http://127.0.0.1:{port}"
        status, body, _ = get_retry(base + "/debug/pprof/profile?seconds=6")
        check(status == 400 and b"limit of 5" in body, f"seconds=6: {status} {body[:200]!r}")
        q = "&".join(f"k{i}=1" for i in range(33))
        status, body, _ = get_retry(f"{base}/api/v1/profiles?{q}")
        check(status == 400 and b"too many" in body, f"33 parameters: {status} {body[:200]!r}")
        check(get_retry(base + "/healthz")[0] == 200, "not serving after the size limits")
        check(stop(p) == 0, "serve did not exit 0:\n" + read_log(log))

        for flag, val in (("--web.timeout", "0"), ("--web.timeout", "2h"),
                          ("--web.max-connections", "abc"), ("--web.max-connections-per-ip", "0"),
                          ("--web.max-profile-seconds", "100000")):
            r = run([EMBER, "serve", "-p", str(os.getpid()), flag, val])
            err = r.stderr.decode(errors="replace")
            check(r.returncode == 2 and flag in err, f"{flag} {val}: exit {r.returncode}: {err}")
    finally:
        cleanup()
        rmtree(d)
    print("ok: connection, timeout, size and seconds limits")


if __name__ == "__main__":
    main()
