"""`ember record -G CGROUP`: makes a child cgroup under the cgroup2 mount,
moves the split workload in, records only that cgroup (by a path relative
to the mount, then by an absolute path), and removes the cgroup after."""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from recordlib import (EMBER, check_shares, only_workload, pprof_raw, run, split_counts, start_split,
                       wait_running)


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            if right.split()[0] == "cgroup2":
                return left.split()[4]
    raise AssertionError("no cgroup2 mount")


mnt = cgroup2_mount()
name = "ember-test-%d" % os.getpid()
cg = os.path.join(mnt, name)
os.mkdir(cg)
w = None
try:
    with tempfile.TemporaryDirectory() as tmp:
        w = start_split(20)   # outlives both recordings (killed below)
        wait_running(w)
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(w.pid))
        out = os.path.join(tmp, "cg.pb.gz")
        r = run([EMBER, "record", "--raw", "-G", name, "-d", "2", "-o", out], timeout=60)
        print(r.stderr)
        assert r.returncode == 0, r.returncode
        prof = pprof_raw(out, tmp)
        only_workload(prof, w.pid)
        counts, total = split_counts(prof, pid=w.pid)
        print("shares", counts, total)
        assert total > 200, total
        check_shares(counts, total)

        out2 = os.path.join(tmp, "abs.pb.gz")
        r = run([EMBER, "record", "--raw", "-q", "-G", cg, "-d", "0.5", "-o", out2], timeout=60)
        assert r.returncode == 0, r.stderr
        prof = pprof_raw(out2, tmp)
        only_workload(prof, w.pid)
finally:
    if w:
        w.kill()
        w.wait()
    for _ in range(50):
        try:
            os.rmdir(cg)
            break
        except OSError:
            time.sleep(0.1)
    assert not os.path.exists(cg), "cgroup left behind"
print("ok")
