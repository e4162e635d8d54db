"""Bad input to `ember record`: bad flags are usage errors (exit 2); an
unknown pid, a missing cgroup or a command that cannot run are runtime
errors (exit 1) with one clear line; no output file appears after a
failure."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from recordlib import EMBER, run

with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "out.pb.gz")

    def record(*args):
        r = run([EMBER, "record", "--raw", "-o", out] + list(args), timeout=30)
        print(args, r.returncode, r.stderr.strip().splitlines()[:2])
        return r

    for args in (["--bogus"], ["-F"], ["-F", "abc"], ["-F", "0"], ["--call-graph", "lbr"],
                 ["-d", "soon"], ["-a", "-p", "1"], ["-p", "x,y"], ["--stack-size", "12"],
                 ["--"], ["stray"]):
        r = record(*args)
        assert r.returncode == 2, (args, r.returncode)
        assert "usage: ember record" in r.stderr, args
        assert not os.path.exists(out)

    r = run([EMBER, "record", "--help"])
    assert r.returncode == 0 and "-G, --cgroup" in r.stdout and "--call-graph" in r.stdout

    # a pid that does not exist (pid_max is far below this)
    r = record("-p", "4000000", "-d", "1")
    assert r.returncode == 1, r.returncode
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no such process: 4000000" in lines[0], lines
    assert not os.path.exists(out)

    r = record("-G", "ember-no-such-cgroup", "-d", "1")
    assert r.returncode == 1 and "cgroup not found" in r.stderr, r.stderr
    assert not os.path.exists(out)

    r = record("--", os.path.join(tmp, "no-such-program"))
    assert r.returncode == 1 and "cannot run" in r.stderr, (r.returncode, r.stderr)
    assert not os.path.exists(out)

    # -F above kernel.perf_event_max_sample_rate names the sysctl
    with open("/proc/sys/kernel/perf_event_max_sample_rate") as f:
        rate = int(f.read())
    r = record("-F", str(rate + 1), "-d", "1")
    assert r.returncode == 1 and "perf_event_max_sample_rate" in r.stderr, r.stderr
    assert not os.path.exists(out)

    # --call-graph dwarf either records or fails with one line; never a
    # crash or a partial file
    r = record("--call-graph", "dwarf", "-d", "0.3", "--", "true")
    assert r.returncode in (0, 1), r.returncode
    if r.returncode == 1:
        assert len(r.stderr.strip().splitlines()) == 1 and "dwarf" in r.stderr, r.stderr
        assert not os.path.exists(out)
    # no temp files left behind either way
    leftovers = [f for f in os.listdir(tmp) if f != "out.pb.gz"]
    assert not leftovers, leftovers
print("ok")
