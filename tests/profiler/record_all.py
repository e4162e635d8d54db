"""`ember record -a`: the whole machine; the split workload is found by its
pid label, in 50/30/20 shares, with its comm and build id."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from recordlib import (EMBER, check_shares, pprof_raw, run, split_counts, start_split,
                       wait_running)

with tempfile.TemporaryDirectory() as tmp:
    w = start_split(4)
    wait_running(w)
    out = os.path.join(tmp, "all.pb.gz")
    r = run([EMBER, "record", "--raw", "-a", "-d", "2", "-o", out], timeout=60)
    w.kill()
    w.wait()
    print(r.stderr)
    assert r.returncode == 0, r.returncode
    prof = pprof_raw(out, tmp)
    mine = [s for s in prof["samples"] if s[3].get("pid") == str(w.pid)]
    assert mine, "workload pid %d not in the samples" % w.pid
    assert {s[3].get("comm") for s in mine} == {"split"}, {s[3].get("comm") for s in mine}
    counts, total = split_counts(prof, pid=w.pid)
    print("shares", counts, total, "of", sum(s[0] for s in prof["samples"]))
    assert total > 200, total
    check_shares(counts, total)
    # other processes were sampled too, each with a pid label
    assert all("pid" in s[3] and "comm" in s[3] for s in prof["samples"])
print("ok")
