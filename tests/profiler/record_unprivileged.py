"""`ember record` without privileges (run as nobody through setpriv): with
kernel.perf_event_paranoid >= 1 the system-wide target fails with the line
that names the fix and leaves no file; with paranoid >= 2 a command is still
recorded, user space only, said once on stderr, and no kernel frame appears."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from recordlib import EMBER, SPLIT, pprof_raw, run

FIX = ("permission denied: run as root or set kernel.perf_event_paranoid<=1 / "
       "grant CAP_PERFMON")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
with open("/proc/sys/kernel/perf_event_paranoid") as f:
    paranoid = int(f.read())
print("perf_event_paranoid", paranoid)

with tempfile.TemporaryDirectory() as tmp:
    os.chmod(tmp, 0o777)
    out = os.path.join(tmp, "all.pb.gz")
    r = run(NOBODY + [EMBER, "record", "--raw", "-a", "-d", "0.5", "-o", out])
    print(r.returncode, r.stderr)
    if paranoid >= 1:
        assert r.returncode == 1, r.returncode
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and FIX in lines[0], lines
        assert not os.listdir(tmp), os.listdir(tmp)
    else:
        assert r.returncode == 0, r.returncode

    out = os.path.join(tmp, "cmd.pb.gz")
    r = run(NOBODY + [EMBER, "record", "--raw", "-o", out, "--", SPLIT, "1"])
    print(r.returncode, r.stdout, r.stderr)
    assert r.returncode == 0, r.returncode
    notices = [l for l in r.stderr.splitlines() if "kernel samples not permitted" in l]
    prof = pprof_raw(out, tmp)
    kernel = [m for m in prof["mappings"].values() if m[3] == "[kernel.kallsyms]"]
    assert sum(s[0] for s in prof["samples"]) > 0
    if paranoid >= 2:
        assert len(notices) == 1, r.stderr
        assert FIX.split(": ", 1)[1] in notices[0], notices
        assert not kernel, "kernel frames without permission"
    else:
        assert not notices, r.stderr
print("ok")
