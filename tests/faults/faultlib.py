"""tests/faults/faultlib.py — what the fault tests share: starting `ember
serve` on a free port, waiting for it, HTTP GETs, parsing /metrics, running
the split workload, and reading profiles back with `ember export`.

Every helper is bounded in time; processes a test starts are tracked and
killed (by pid) when it ends, whatever happened."""
import gzip
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

EMBER = os.environ["EMBER"]
SPLIT = os.environ["EMBER_WORKLOAD_SPLIT"]
_started = []


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    cleanup()
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def cleanup():
    for p in _started:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=10)
            except Exception:
                pass


def spawn(args, **kw):
    p = subprocess.Popen(args, **kw)
    _started.append(p)
    return p


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def workload(seconds, threads=1):
    """The split workload (50/30/20 % in split_a/b/c), discarding output."""
    return spawn([SPLIT, str(seconds), str(threads)], stdout=subprocess.DEVNULL)


class Serve:
    """One `ember serve` process: start() waits until /healthz answers."""

    def __init__(self, target, storage, window="1s", extra=(), log=None):
        self.port = free_port()
        self.args = [EMBER, "serve", *target, "--window", window, "--listen",
                     f"127.0.0.1:{self.port}", "--storage.path", storage, *extra]
        self.log = log or tempfile.TemporaryFile()
        self.proc = None

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self, timeout=20):
        self.proc = spawn(self.args, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                fail(f"ember serve exited with {self.proc.returncode} at start:\n" + self.output())
            try:
                if get(self.url("/healthz"), timeout=2)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        fail("ember serve did not answer /healthz in time:\n" + self.output())

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    def get(self, path, timeout=30):
        return get(self.url(path), timeout=timeout)

    def metrics(self):
        status, body, _ = self.get("/metrics")
        check(status == 200, f"/metrics answered {status}")
        return parse_metrics(body.decode())

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self, timeout=60):
        """SIGTERM; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            fail("ember serve did not stop within %ds of SIGTERM:\n%s" % (timeout, self.output()))


def get(url, timeout=30):
    """(status, body, headers) without raising on HTTP errors."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)')


def parse_metrics(text):
    """{name: total over the family's label sets} of a text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            fail("unparsable /metrics line: " + line)
        out[m.group(1)] = out.get(m.group(1), 0.0) + float(m.group(3))
    return out


def export(path, fmt="top"):
    """`ember export FILE --format FMT` to a string; fails the test on error."""
    r = subprocess.run([EMBER, "export", path, "--format", fmt],
                       capture_output=True, timeout=60)
    check(r.returncode == 0, f"ember export {path} failed ({r.returncode}): "
          + r.stderr.decode(errors="replace"))
    return r.stdout.decode(errors="replace")


def is_gzip_pprof(body):
    try:
        return len(gzip.decompress(body)) > 0
    except Exception:
        return False


def tmpdir(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    return d


def rmtree(d):
    shutil.rmtree(d, ignore_errors=True)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
