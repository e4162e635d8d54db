"""`ember record -p PID,PID`: attaches to every thread of two running split
workloads, finds them in 50/30/20 shares, stops by itself when the last
process exits, and on SIGINT stops cleanly and still writes the file."""
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from recordlib import (EMBER, check_shares, only_workload, pprof_raw, run, split_counts,
                       start_split, wait_running)

with tempfile.TemporaryDirectory() as tmp:
    # attach to two workloads for their remaining life: record ends when
    # the last one exits. The shorter one must outlive record's start: a
    # sanitizer build at load 15 took over a second to attach
    w = start_split(3.0)
    w2 = start_split(2.0)
    wait_running(w)
    wait_running(w2)
    out = os.path.join(tmp, "pid.pb.gz")
    t0 = time.time()
    r = run([EMBER, "record", "--raw", "-p", "%d,%d" % (w.pid, w2.pid), "-d", "30", "-o", out],
            timeout=40)
    took = time.time() - t0
    w.wait()
    w2.wait()
    print(r.stderr, "took %.1fs" % took)
    assert r.returncode == 0, r.returncode
    assert took < 10, "record did not stop when the processes exited"
    prof = pprof_raw(out, tmp)
    only_workload(prof, (w.pid, w2.pid))
    for p in (w.pid, w2.pid):
        tids = {}
        for s in prof["samples"]:
            if s[3].get("pid") == str(p):
                tids[s[3].get("tid")] = tids.get(s[3].get("tid"), 0) + s[0]
        assert len(tids) == 2, "both threads of %d sampled: samples by tid %s" % (p, tids)
    counts, total = split_counts(prof, pid=w.pid)
    print("shares", counts, total)
    assert total > 300, total
    check_shares(counts, total)

    # SIGINT: stops, writes the file, exits 0
    w = start_split(10)
    wait_running(w)
    out = os.path.join(tmp, "int.pb.gz")
    rec = subprocess.Popen([EMBER, "record", "--raw", "-p", str(w.pid), "-o", out],
                           stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    rec.send_signal(signal.SIGINT)
    _, err = rec.communicate(timeout=20)
    w.kill()
    w.wait()
    print(err)
    assert rec.returncode == 0, rec.returncode
    prof = pprof_raw(out, tmp)
    assert sum(s[0] for s in prof["samples"]) > 0
print("ok")
