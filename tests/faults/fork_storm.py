"""tests/faults/fork_storm.py — `ember serve` through a storm of thousands of
short-lived processes (fork + exec of /bin/true, and bare forks), twice.

The storm runs in a cgroup v2 the test creates, and serve profiles that
cgroup (-G; it sees the same side-band records as -a, but only the storm's),
so the measurement is not disturbed by whatever else the machine runs.

ember must not crash; its process table (the ember_processes gauge) must
fall back to near its level once the storm's windows are done (exited
processes are reaped after the window that sampled them), and its resident
memory must return near its level (memory of reaped processes is reused,
not grown without bound; checked in plain builds, as ASan's quarantine
keeps freed memory resident)."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from faultlib import Serve, check, cleanup, rmtree, rss_kb, tmpdir, workload

EXECS = int(os.environ.get("EMBER_FAULT_EXECS", "2000"))
FORKS = int(os.environ.get("EMBER_FAULT_FORKS", "2000"))


def cgroup2_mount():
    with open("/proc/self/mounts") as f:
        for line in f:
            dev, path, fstype = line.split()[:3]
            if fstype == "cgroup2":
                return path
    check(False, "no cgroup2 mount")


CGROUP2 = cgroup2_mount()


def settle(serve, windows):
    """Waits for `windows` more windows to be stored; returns the metrics."""
    start = serve.metrics()["ember_windows_stored_total"]
    deadline = time.monotonic() + 20 + 3 * windows
    while time.monotonic() < deadline:
        m = serve.metrics()
        if m["ember_windows_stored_total"] >= start + windows:
            return m
        time.sleep(0.2)
    check(False, f"fewer than {windows} windows stored in time")


def storm(cgroup):
    """EXECS fork+exec of /bin/true and FORKS bare forks inside cgroup;
    returns seconds."""
    t = time.monotonic()
    script = (f"echo $$ > {cgroup}/cgroup.procs || exit 1; "
              f"i=0; while [ $i -lt {EXECS} ]; do /bin/true; i=$((i+1)); done & "
              f"j=0; while [ $j -lt {FORKS} ]; do (:); j=$((j+1)); done; wait")
    r = subprocess.run(["sh", "-c", script], timeout=300)
    check(r.returncode == 0, "the storm script failed")
    return time.monotonic() - t


def sanitized(pid):
    """True when ember runs under AddressSanitizer."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def check_rss(base_rss, mid_rss, end_rss):
    check(end_rss <= mid_rss * 1.15 + 8192,
          f"RSS grew from storm to storm: {mid_rss} kB after the first, {end_rss} kB after "
          "the second")
    check(end_rss <= base_rss + 32768,
          f"RSS did not return near its level: {base_rss} kB before, {end_rss} kB after")


def main():
    storage = tmpdir("ember-storm-")
    name = os.path.basename(storage)
    cgroup = os.path.join(CGROUP2, name)
    os.mkdir(cgroup)
    try:
        # a steady workload in the cgroup, so every window has samples
        work = workload(600)
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
            f.write(str(work.pid))
        serve = Serve(["-G", name], storage, extra=["-F", "199"]).start()
        base = settle(serve, 2)
        base_rss = rss_kb(serve.proc.pid)
        base_procs = base["ember_processes"]

        # a first storm warms the allocator; the second must not grow it more
        secs = storm(cgroup)
        check(serve.proc.poll() is None, "ember serve died in the storm:\n" + serve.output())
        peak = serve.metrics()["ember_processes"]
        mid = settle(serve, 3)
        mid_rss = rss_kb(serve.proc.pid)
        secs += storm(cgroup)
        check(serve.proc.poll() is None, "ember serve died in the storm:\n" + serve.output())
        peak = max(peak, serve.metrics()["ember_processes"])
        end = settle(serve, 3)
        end_rss = rss_kb(serve.proc.pid)

        procs_now = end["ember_processes"]
        check(procs_now <= base_procs + 64,
              f"process table did not shrink back: {base_procs:.0f} before, {procs_now:.0f} after")
        # memory: back near its level after the first storm, no growth per storm
        # (not under ASan, whose quarantine keeps freed memory resident)
        if not sanitized(serve.proc.pid):
            check_rss(base_rss, mid_rss, end_rss)
        status, _, _ = serve.get("/healthz")
        check(status == 200, f"/healthz {status} after the storm")
        rc = serve.stop()
        check(rc == 0, f"ember serve exited {rc}:\n" + serve.output())
        print(f"{2 * (EXECS + FORKS)} processes in {secs:.1f}s; ember_processes {base_procs:.0f} "
              f"-> peak {peak:.0f} -> {procs_now:.0f}; RSS {base_rss} -> {mid_rss} -> {end_rss} kB")
    finally:
        cleanup()
        rmtree(storage)
        for _ in range(50):   # the storm's last processes may still be exiting
            try:
                os.rmdir(cgroup)
                break
            except OSError:
                time.sleep(0.1)


if __name__ == "__main__":
    main()
