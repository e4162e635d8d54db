"""tests/faults/kill_restart.py — `ember serve` killed with SIGKILL at random
moments, many times, and restarted on the same storage directory.

After every restart:
  - every window listed before the kill is still listed (nothing stored is
    lost: files are fsync'd and renamed into place);
  - every listed window downloads as a gzip pprof, and its stored file
    reads with `ember export` (no partial files);
  - no temp file is left once the restarted server has opened the store;
  - at most the window in progress (and the one the worker was writing)
    is missing: the newest window stored before the kill ends less than
    two windows (plus a grace for a loaded machine) before the kill.
At the end `go tool pprof` reads one stored window as served (gzip)."""
import json
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from faultlib import (Serve, check, cleanup, export, fail, is_gzip_pprof, rmtree, tmpdir,
                      workload)

KILLS = int(os.environ.get("EMBER_FAULT_KILLS", "12"))
WINDOW_S = 1.0


def listing(serve):
    status, body, _ = serve.get("/api/v1/profiles")
    check(status == 200, f"/api/v1/profiles answered {status}: {body[:200]!r}")
    return json.loads(body)


def temp_files(storage):
    return [n for n in os.listdir(storage) if ".tmp." in n or n.startswith(".")]


def main():
    rng = random.Random(int(os.environ.get("EMBER_FAULT_SEED", "8")))
    storage = tmpdir("ember-kill-")
    work = workload(600)
    seen = {}           # id -> samples, every window ever listed
    newest_gap = []     # seconds between the newest stored window's end and the kill
    try:
        serve = Serve(["-p", str(work.pid)], storage).start()
        run_start = time.time()
        for i in range(KILLS):
            time.sleep(rng.uniform(0.3, 2.5))
            before = listing(serve)
            kill_at = time.time()
            serve.kill9()
            ids = {w["id"]: w for w in before}
            for w in before:
                seen[w["id"]] = w["samples"]
            # the newest end stored, or this run's start when it stored none yet
            newest = max([w["end_ms"] / 1000 for w in before] + [run_start])
            newest_gap.append(kill_at - newest)

            stale = set(temp_files(storage))   # what the killed process left
            serve = Serve(["-p", str(work.pid)], storage).start()
            run_start = time.time()
            # the restart removes the killed process's temporaries; a
            # temporary of the new process's own first write (its window may
            # close within milliseconds of the start) must be gone shortly
            left = set(temp_files(storage))
            check(not (left & stale), f"temp files left after restart {i + 1}: {left & stale}")
            deadline = time.monotonic() + 5
            while left - stale and time.monotonic() < deadline:
                time.sleep(0.05)
                left &= set(temp_files(storage))
            check(not (left - stale), f"temp files that stayed after restart {i + 1}: {left}")
            after = {w["id"]: w for w in listing(serve)}
            lost = sorted(set(ids) - set(after))
            check(not lost, f"restart {i + 1}: windows listed before the kill are gone: {lost}")
            for wid in after:
                check(after[wid]["samples"] == seen.get(wid, after[wid]["samples"]),
                      f"window {wid} changed its sample count across a restart")
            # every listed window downloads whole
            for wid in after:
                status, body, _ = serve.get("/api/v1/profiles/" + wid)
                check(status == 200 and is_gzip_pprof(body),
                      f"restart {i + 1}: window {wid} unreadable ({status})")
        # let the last run store a window (slow under ASan and load)
        deadline = time.monotonic() + 60
        while not (final := listing(serve)) and time.monotonic() < deadline:
            time.sleep(0.3)
        check(final, "no window stored in a minute")
        status, body, _ = serve.get("/api/v1/profiles/" + final[-1]["id"])
        check(status == 200, f"last window: {status}")
        gz = os.path.join(storage, "..", os.path.basename(storage) + ".pb.gz")
        with open(gz, "wb") as f:
            f.write(body)
        check(serve.stop() == 0, "ember serve did not exit 0 on SIGTERM:\n" + serve.output())

        # every stored file reads with ember export (ids are file names' prefixes)
        files = [n for n in os.listdir(storage) if n.endswith(".pb.zst")]
        check(len(files) >= len(final), f"{len(files)} files for {len(final)} windows")
        for n in files:
            export(os.path.join(storage, n), "top")
        check(not temp_files(storage), "temp files left after the final stop")

        # at most the window in progress plus the one being written is missing
        slack = 2 * WINDOW_S + 1.5
        late = [round(g, 2) for g in newest_gap if g > slack]
        check(not late, f"newest stored window ended more than {slack}s before the kill: {late}")
        total = sum(w["samples"] for w in final)
        check(total > 0, "no samples stored across all runs")

        # a real peer reads a stored window and 
        home = tmpdir("ember-kill-go-")
        goenv = dict(os.environ, HOME=home, GOCACHE=os.path.join(home, "gocache"))
        r = subprocess.run(["go", "tool", "pprof", "-raw", gz],
                           capture_output=True, timeout=120, env=goenv)
        rmtree(home)
        os.unlink(gz)
        check(r.returncode == 0, "go tool pprof refused a stored window: " + r.stderr.decode())
        print(f"{KILLS} kills, {len(final)} windows, {total} samples, gaps before kill "
              f"{[round(g, 2) for g in newest_gap]}")
    finally:
        cleanup()
        rmtree(storage)


if __name__ == "__main__":
    main()
