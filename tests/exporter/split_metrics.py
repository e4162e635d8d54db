"""End to end on the workload whose CPU split is known by construction:
`ember record -- split` then `ember export --format metrics`. split_a, _b and
_c burn 50/30/20 % of the CPU (each spins on its thread's CPU clock); they
are not leaves (spin_cpu and clock_gettime are), so their shares are read
from the cumulative series, within +-4 points. The self series of the whole
process must add up to the CPU time the workload reports from getrusage,
within +-5 %.

One thread: this VM has two vCPUs, and while both are busy (two spinning
threads, plus the recorder waking up) the host deschedules them now and
then; the guest's clocks go on, so getrusage counts that time, but the
cpu-clock timer cannot fire and the kernel skips the missed periods
(hrtimer_forward_now). perf record loses the same 5-10 % there (seen: 1654
and 1706 samples for 3.99 CPU s at 461 Hz, want 1840); with one busy thread
both get 923 of 925. The sum checks ember's arithmetic, not the host.

-F 461: the workload repeats every 10 ms, so a sampling period near a
divisor of 10 ms (499 Hz: 2.004 ms) samples the same phases of the cycle
over and over and skews the shares (seen: 45/35/20). At 461 Hz a cycle holds
4.61 periods, so successive cycles are sampled at well-spread phases."""
import os
import re
import subprocess
import sys
import tempfile

ember = os.environ["EMBER"]
split = os.environ["EMBER_WORKLOAD_SPLIT"]
LINE = re.compile(r'^ember_function_(self|cumulative)_seconds_total\{comm="((?:[^"\\]|\\.)*)",'
                  r'binary="((?:[^"\\]|\\.)*)",function="((?:[^"\\]|\\.)*)"\} (\S+)$')

with tempfile.TemporaryDirectory() as tmp:
    prof = os.path.join(tmp, "split.pb.gz")
    r = subprocess.run([ember, "record", "-F", "461", "-o", prof, "--", split, "3", "1"],
                       capture_output=True, text=True, timeout=90)
    print(r.stdout, r.stderr)
    assert r.returncode == 0, "ember record failed"
    m = re.search(r"split: ops=\d+ cpu=([\d.]+)", r.stdout + r.stderr)
    assert m, "the workload did not report its CPU time"
    cpu = float(m.group(1))
    r = subprocess.run([ember, "export", prof, "--format", "metrics"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    self_total = 0.0
    cum = {}
    for line in r.stdout.splitlines():
        mm = LINE.match(line)
        if not mm:
            assert line.startswith("#"), f"unparsed line: {line!r}"
            continue
        kind, comm, binary, fn, value = mm.groups()
        if kind == "self":
            self_total += float(value)
        elif fn in ("split_a", "split_b", "split_c"):
            assert binary == "split", line
            cum[fn] = cum.get(fn, 0.0) + float(value)
    print(f"getrusage cpu {cpu:.3f}s, sum of self {self_total:.3f}s, cumulative {cum}")
    assert set(cum) == {"split_a", "split_b", "split_c"}, cum
    total = sum(cum.values())
    shares = {fn: 100 * v / total for fn, v in cum.items()}
    print("shares %:", {k: round(v, 1) for k, v in shares.items()})
    for fn, want in (("split_a", 50), ("split_b", 30), ("split_c", 20)):
        assert abs(shares[fn] - want) <= 4, (fn, shares[fn], want)
    assert abs(self_total - cpu) <= 0.05 * cpu, (self_total, cpu)
print("ok")
