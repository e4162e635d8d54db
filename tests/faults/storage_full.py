"""tests/faults/storage_full.py — `ember serve` storing into a small tmpfs
(200 KB, mounted by the test) that fills up.

While the disk is full: stores fail and are counted
(ember_store_errors_total), sampling goes on (ember_samples_total grows),
/healthz, /metrics and /api/v1/profiles keep answering, the windows stored
before stay readable and no temp file is left behind. When space returns,
windows are stored again."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from faultlib import Serve, check, cleanup, fail, is_gzip_pprof, rmtree, tmpdir, workload


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    fail("timed out waiting for " + what)


def fill(path):
    """Writes path until the filesystem refuses; returns the bytes written."""
    n = 0
    chunk = b"x" * 4096
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                n += f.write(chunk)
        except OSError:
            pass
    return n


def main():
    mnt = tmpdir("ember-full-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k,mode=0700", "tmpfs", mnt],
                       capture_output=True, text=True)
    check(r.returncode == 0, "mount tmpfs: " + r.stderr)
    work = workload(120)
    storage = os.path.join(mnt, "store")
    try:
        serve = Serve(["-p", str(work.pid)], storage).start()
        wait_for(lambda: serve.metrics().get("ember_windows_stored_total", 0) >= 2, 30,
                 "two windows stored")
        filled = fill(os.path.join(mnt, "filler"))
        check(filled > 0, "could not fill the tmpfs")
        full_at = serve.metrics()
        # stores now fail, and are counted
        m = wait_for(lambda: (lambda m: m if m.get("ember_store_errors_total", 0) >= 2 else None)(
            serve.metrics()), 30, "two store errors counted")
        check(m["ember_samples_total"] > full_at["ember_samples_total"],
              "sampling stopped while the disk was full")
        status, body, _ = serve.get("/healthz")
        check(status == 200, f"/healthz {status} while the disk is full: {body!r}")
        status, body, _ = serve.get("/api/v1/profiles")
        check(status == 200, f"/api/v1/profiles {status} while the disk is full")
        windows = json.loads(body)
        check(len(windows) >= 2, f"windows stored before went missing: {windows}")
        for w in windows:
            status, b, _ = serve.get("/api/v1/profiles/" + w["id"])
            check(status == 200 and is_gzip_pprof(b), f"window {w['id']} unreadable: {status}")
        left = [n for n in os.listdir(storage) if ".tmp." in n]
        check(not left, f"failed stores left temp files: {left}")
        stored_full = m["ember_windows_stored_total"]

        # space returns: windows are stored again
        os.unlink(os.path.join(mnt, "filler"))
        m = wait_for(lambda: (lambda m: m if m["ember_windows_stored_total"] >= stored_full + 2
                              else None)(serve.metrics()), 30, "stores to resume")
        status, body, _ = serve.get("/api/v1/profiles")
        after = json.loads(body)
        check(len(after) >= len(windows) + 2, f"no new windows listed after recovery: {after}")
        rc = serve.stop()
        check(rc == 0, f"ember serve exited {rc}:\n" + serve.output())
        print(f"filled {filled} bytes; {int(m['ember_store_errors_total'])} store errors counted; "
              f"{len(windows)} windows before, {len(after)} after recovery")
    finally:
        cleanup()
        subprocess.run(["umount", "-l", mnt], capture_output=True)
        rmtree(mnt)


if __name__ == "__main__":
    main()
