"""tests/unwind/fp_leaf.py — fp mode's leaf fix-up on C (issue 13):
`ember record` (frame pointers, the default) on tests/unwind/prologue.c,
whose leaf prologue_spin spends its time before its frame is set up. The
kernel's chain alone gives prologue_spin;main. ember must give
prologue_spin;caller_a|caller_b;main for >= 97% of the leaf's samples, with
caller_a:caller_b at 75:25 within 4 points (names from `ember export
--format folded`).

usage: fp_leaf.py   (env: EMBER, EMBER_UNWIND_BUILD)"""
import os
import subprocess
import sys
import tempfile

EMBER = os.environ["EMBER"]
BIN = os.path.join(os.environ["EMBER_UNWIND_BUILD"], "prologue")

with tempfile.TemporaryDirectory() as tmp:
    prof = os.path.join(tmp, "p.pb.gz")
    r = subprocess.run([EMBER, "record", "-F", "999", "-o", prof, "--", BIN, "2"],
                       capture_output=True, text=True, timeout=60)
    print(r.stdout, r.stderr)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([EMBER, "export", prof, "--format", "folded"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    leaf = good = 0
    callers = {"caller_a": 0, "caller_b": 0}
    for line in r.stdout.splitlines():
        stack, _, count = line.rpartition(" ")
        f, c = stack.split(";"), int(count)
        if "prologue_spin" not in f:
            continue
        i = f.index("prologue_spin")
        leaf += c
        if i >= 2 and f[i - 1] in callers and f[i - 2] == "main":
            good += c
            callers[f[i - 1]] += c
    print("prologue_spin: %d samples, %d with caller and main; callers %s" % (leaf, good, callers))
    assert leaf > 300, leaf
    assert good >= 0.97 * leaf, (good, leaf)
    share = 100.0 * callers["caller_a"] / max(good, 1)
    print("caller_a %.1f%% (want 75 +-4)" % share)
    assert abs(share - 75.0) <= 4.0, share
print("ok")
