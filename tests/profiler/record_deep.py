"""A frame-pointer recursion 500 deep: the kernel cuts callchains at
kernel.perf_event_max_stack frames, and ember marks every cut stack with a
final [truncated] location (mapping 0, one line) instead of pretending the
stack ended there."""
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from recordlib import EMBER, run

RECURSE = os.environ["EMBER_WORKLOAD_RECURSE_FP"]
with open("/proc/sys/kernel/perf_event_max_stack") as f:
    max_stack = int(f.read())

with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "deep.pb.gz")
    r = run([EMBER, "record", "--raw", "-o", out, "--", RECURSE, "0.5", "500"])
    print(r.stderr)
    assert r.returncode == 0, r.returncode
    env = dict(os.environ, HOME=tmp, GOCACHE=os.path.join(tmp, "gocache"))
    raw = run(["go", "tool", "pprof", "-raw", "-symbolize=none", out], env=env).stdout
    trunc = re.findall(r"^\s*(\d+): 0x0 \[truncated\]", raw, re.M)
    assert len(trunc) == 1, "one [truncated] location: %s" % trunc
    tid = trunc[0]
    stacks = [l.split(":", 1)[1].split() for l in raw.split("Locations")[0].splitlines()
              if re.match(r"^\s+\d+\s+\d+:", l)]
    deep = [s for s in stacks if len(s) >= max_stack]
    assert deep, "no stack reached max_stack (%d)" % max_stack
    for s in deep:
        # max_stack frames from the kernel, the marker, and one more where the
        # leaf fix-up restored a caller the chain skipped (profiler/unwind_leaf.h)
        assert s[-1] == tid and len(s) in (max_stack + 1, max_stack + 2), (len(s), s[-3:])
    shallow = [s for s in stacks if len(s) < max_stack]
    assert all(tid not in s for s in shallow), "short stacks marked truncated"
    print("%d of %d stacks cut at %d frames and marked" % (len(deep), len(stacks), max_stack))
print("ok")
