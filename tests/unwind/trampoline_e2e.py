"""tests/unwind/trampoline_e2e.py — DWARF mode through frame-pointer-only
code (issue 13): tests/unwind/trampoline.c calls, from code without frame
pointers, through trampolines in an anonymous executable mapping named in
its perf map. `ember record --call-graph dwarf` must give, for >= 95% of the
samples in work_leaf, the whole stack: work_leaf;tramp::work;burn_X;
tramp::X;main with no [truncated] (fp steps through the trampolines, back
to the tables after each), and burn_alpha/beta/gamma at 50/30/20 within 3
points. Names come from `ember export --format folded`.

usage: trampoline_e2e.py   (env: EMBER, EMBER_UNWIND_BUILD)"""
import os
import re
import subprocess
import tempfile

EMBER = os.environ["EMBER"]
BIN = os.path.join(os.environ["EMBER_UNWIND_BUILD"], "trampoline")
WANT = {"alpha": 50.0, "beta": 30.0, "gamma": 20.0}

with tempfile.TemporaryDirectory() as tmp:
    prof = os.path.join(tmp, "t.pb.gz")
    r = subprocess.run([EMBER, "record", "--call-graph", "dwarf", "-F", "999", "-o", prof,
                        "--", BIN, "2"], capture_output=True, text=True, timeout=60)
    print(r.stdout, r.stderr)
    m = re.search(r"map=(\S+)", r.stdout)
    try:
        assert r.returncode == 0, r.stderr
        r = subprocess.run([EMBER, "export", prof, "--format", "folded"], capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stderr
    finally:
        if m and os.path.exists(m.group(1)):
            os.unlink(m.group(1))
    leaf = whole = 0
    cum = {k: 0 for k in WANT}
    for line in r.stdout.splitlines():
        stack, _, count = line.rpartition(" ")
        f, c = stack.split(";"), int(count)
        if "work_leaf" not in f:
            continue
        leaf += c
        i = f.index("work_leaf")
        for k in WANT:
            if f[i - 4:i] == ["main", "tramp::" + k, "burn_" + k, "tramp::work"] \
                    and "[truncated]" not in f:
                whole += c
                cum[k] += c
    print("work_leaf: %d samples, %d through both trampolines to main" % (leaf, whole))
    assert leaf > 300 and whole >= 0.95 * leaf, (leaf, whole)
    for k, want in WANT.items():
        share = 100.0 * cum[k] / whole
        # 3 points, or 4 standard deviations of counting noise when wider
        tol = max(3.0, 400.0 * (want / 100 * (1 - want / 100) / whole) ** 0.5)
        print("burn_%s %.1f%% (want %.0f +-%.1f)" % (k, share, want, tol))
        assert abs(share - want) <= tol, (k, share, tol)
print("ok")
