"""tests/ui/ui_browser.py — the UI in a real browser: Debian's chromium,
headless, driven by tests/ui/browser.mjs (playwright-core from npm), against

  - `ember serve` with basic auth, profiling tests/ui/burn.c (50/30/20 % in
    burn_alpha/beta/gamma, burn_beta spinning in the inline beta_inner;
    20/30/50 % after SIGUSR1): a window before and one after the switch;
  - `ember view` of a file `ember record` wrote, alone and against a base.

browser.mjs checks the pages (shares in the table, zoom, sandwich, search,
diff, the previous-window link, messages for bad input, 401 without
credentials, no console errors) and leaves screenshots in
BUILD/tests/ui/*.png. This script starts and stops everything and checks
the `ember view` command line."""
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
from accesslib import (EMBER, bcrypt, check, cleanup, curl, fail, free_port,  # noqa: E402
                       read_log, rmtree, run, spawn, stop, tmpdir, wait_ready)

HERE = os.path.dirname(os.path.abspath(__file__))
BURN = os.environ["EMBER_WORKLOAD_BURN"]
SHOTS = os.path.join(os.environ["EMBER_BUILD_ROOT"], "tests", "ui")
NODE_MODULES = os.path.join(HERE, "node", "node_modules", "playwright-core")
AUTH = ("-u", "alice:s3cret")


def windows(base):
    status, body, _, _ = curl(base + "/api/v1/profiles", *AUTH)
    check(status == 200, f"/api/v1/profiles: {status} {body[:200]!r}")
    return json.loads(body)


def full_window_after(base, t, length_ms, timeout=20):
    """The first stored window of the full length that starts at or after t."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for w in windows(base):
            if w["start_ms"] >= t * 1000 and w["end_ms"] - w["start_ms"] == length_ms:
                return w["id"]
        time.sleep(0.3)
    fail(f"no full window after {t} within {timeout} s: {windows(base)}")


def view(args, log):
    """`ember view ARGS`: (process, the URL it printed)."""
    p = spawn([EMBER, "view", *args, "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
              stderr=log)
    ready, _, _ = select.select([p.stdout], [], [], 20)
    check(ready, "ember view printed no URL within 20 s:\n" + read_log(log))
    line = p.stdout.readline().decode()
    check(line.startswith("Serving web UI on http://127.0.0.1:"), f"ember view said {line!r}")
    return p, line.split(" on ", 1)[1].strip()


def main():
    check(os.path.isdir(NODE_MODULES), f"playwright-core is not installed in {HERE}/node: run "
          "scripts/deps.sh (npm install --prefix tests/ui/node playwright-core)")
    check(os.access("/usr/bin/chromium", os.X_OK), "no /usr/bin/chromium: run scripts/deps.sh")
    os.makedirs(SHOTS, exist_ok=True)
    d = tmpdir("ember-ui-")
    log = tempfile.TemporaryFile()
    try:
        # the command line of ember view
        r = run([EMBER, "view"])
        check(r.returncode == 2 and b"no input FILE" in r.stderr, f"view without FILE: {r}")
        r = run([EMBER, "view", os.path.join(d, "missing.pb.gz")])
        check(r.returncode == 1 and r.stderr.count(b"\n") == 1 and b"missing.pb.gz" in r.stderr,
              f"view of a missing file: {r}")

        cfg = os.path.join(d, "web.yml")
        with open(cfg, "w") as f:
            f.write(f"basic_auth_users:\n  alice: '{bcrypt('s3cret')}'\n")
        burn = spawn([BURN, "600"], stdout=subprocess.DEVNULL)   # killed at the end
        port = free_port()
        serve = spawn([EMBER, "serve", "-p", str(burn.pid), "--window", "4s", "-F", "999",
                       "--listen", f"127.0.0.1:{port}", "--storage.path",
                       os.path.join(d, "store"), "--web.config.file", cfg],
                      stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        wait_ready(serve, base + "/healthz", log=log)
        t0 = time.time()
        before = full_window_after(base, t0, 4000)
        switch = time.time()
        os.kill(burn.pid, signal.SIGUSR1)
        after = full_window_after(base, switch + 0.05, 4000)

        # a recorded file, and a stored window as its diff base, for ember view
        rec = os.path.join(d, "rec.pb.gz")
        r = run([EMBER, "record", "-F", "499", "--sampling", "random", "-o", rec, "--", BURN, "2"],
                timeout=60)   # random: fixed 499 Hz aliases with burn's rounds
        check(r.returncode == 0, f"ember record: {r.stderr.decode(errors='replace')}")
        status, body, _, _ = curl(f"{base}/api/v1/profiles/{before}", *AUTH)
        check(status == 200, f"download of {before}: {status}")
        # /ui (no slash) redirects to the timeline, its query kept, through the socket
        status, _, _, err = curl(f"{base}/ui?start=0&q=a%20b", *AUTH, "-D", "/dev/stderr")
        check(status == 301 and "\nLocation: ui/?start=0&q=a%20b\r" in err,
              f"/ui: {status} {err[-400:]!r}")
        status, page, _, _ = curl(f"{base}/ui", *AUTH, "-L")
        check(status == 200 and b"/ui/timeline.js" in page, f"/ui followed: {status}")
        old = os.path.join(d, "before.pb.gz")
        with open(old, "wb") as f:
            f.write(body)
        bad = os.path.join(d, "corrupt.pb.gz")
        with open(bad, "wb") as f:
            f.write(b"\x1f\x8b not really gzip")
        r = run([EMBER, "view", bad])
        check(r.returncode == 1 and r.stderr.count(b"\n") == 1 and b"corrupt.pb.gz" in r.stderr,
              f"view of a corrupt file: {r}")
        r = run([EMBER, "view", rec, "--listen", "nowhere"])
        check(r.returncode == 2 and b"--listen 'nowhere'" in r.stderr, f"view --listen nowhere: {r}")
        r = run([EMBER, "view", rec, old, rec])
        check(r.returncode == 2 and b"at most two files" in r.stderr, f"view of 3 files: {r}")
        v1, view_url = view([rec], log)
        v2, view_diff_url = view([rec, old], log)
        check("/ui/diff?base=" in view_diff_url, f"ember view FILE BASE printed {view_diff_url}")

        conf = {"base": base, "user": "alice", "password": "s3cret", "before": before,
                "after": after, "view": view_url, "view_diff": view_diff_url, "shots": SHOTS}
        r = subprocess.run(["node", os.path.join(HERE, "browser.mjs"), json.dumps(conf)],
                           capture_output=True, timeout=120)
        sys.stdout.write(r.stdout.decode(errors="replace"))
        check(r.returncode == 0, "browser checks failed:\n" + r.stderr.decode(errors="replace")
              + "\n" + read_log(log))

        for p in (v1, v2):
            p.send_signal(signal.SIGTERM)
            check(p.wait(timeout=10) == 0, f"ember view exited {p.returncode} on SIGTERM")
        check(stop(serve) == 0, "ember serve did not exit 0:\n" + read_log(log))
        print("ok")
    finally:
        cleanup()
        rmtree(d)


main()
