"""tests/unwind/python_e2e.py — CPython 3.12+ with `-X perf` (issue 13):
`ember record --call-graph dwarf` on tests/workloads/python/split.py under
each CPython >= 3.12 the machine has (the image's pyenv builds). The
interpreter has no frame pointers and its perf trampolines neither CFI nor
a frame pointer (`sub $8,%rsp; call *%rcx`), so the unwinder must mix CFI
steps with a return-address scan through each trampoline.

- py::alpha_burn / beta_burn / gamma_burn hold 50/30/20 % (cumulative,
  among samples holding any of them) within 4 points;
- >= 90% of the samples in py::work reach _start with no [truncated].
Names come from `ember export --format folded`: the perf map with `-X perf`,
and, on 3.13 and later, also a run with `-X perf_jit`, whose names come
from the jitdump file /tmp/jit-PID.dump alone (no perf map is written).

usage: python_e2e.py   (env: EMBER)"""
import glob
import os
import subprocess
import sys
import tempfile

EMBER = os.environ["EMBER"]
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "workloads", "python",
                   "split.py")
WANT = {"alpha_burn": 50.0, "beta_burn": 30.0, "gamma_burn": 20.0}
PYENV = os.path.expanduser("~/.pyenv/versions")


def pythons():
    found = []
    for v in sorted(os.listdir(PYENV)) if os.path.isdir(PYENV) else []:
        parts = v.split(".")
        exe = os.path.join(PYENV, v, "bin", "python3")
        if len(parts) >= 2 and parts[0] == "3" and parts[1].isdigit() and int(parts[1]) >= 12 \
                and os.access(exe, os.X_OK):
            found.append((v, exe))
    return found


def py_name(frame):
    """'py::alpha_burn:/path/split.py' -> 'alpha_burn'"""
    return frame[4:].split(":", 1)[0] if frame.startswith("py::") else None


found = pythons()
if not found:
    print("no CPython >= 3.12 under %s (the image's pyenv builds): cannot run" % PYENV)
    sys.exit(77)
failures = []
runs = [(v, exe, "perf") for v, exe in found]
runs += [(v, exe, "perf_jit") for v, exe in found if int(v.split(".")[1]) >= 13]
for version, exe, option in runs:
    version = "%s -X %s" % (version, option)
    left = ("/tmp/perf-*.map", "/tmp/jit-*.dump")
    before = {p for g in left for p in glob.glob(g)}
    with tempfile.TemporaryDirectory() as tmp:
        prof = os.path.join(tmp, "py.pb.gz")
        r = subprocess.run([EMBER, "record", "--call-graph", "dwarf", "-F", "999", "-o", prof,
                            "--", exe, "-X", option, SRC, "3"], capture_output=True, text=True,
                           timeout=90)
        print(version, r.stdout.strip(), r.stderr.strip())
        folded = subprocess.run([EMBER, "export", prof, "--format", "folded"],
                                capture_output=True, text=True)
    for path in {p for g in left for p in glob.glob(g)} - before:
        if option == "perf_jit":
            assert not path.endswith(".map"), "-X perf_jit wrote a perf map: %s" % path
        os.unlink(path)  # CPython leaves its map or dump behind
    assert r.returncode == 0 and folded.returncode == 0, (r.stderr, folded.stderr)
    cum = {k: 0 for k in WANT}
    work = rooted = 0
    for line in folded.stdout.splitlines():
        stack, _, count = line.rpartition(" ")
        f, c = stack.split(";"), int(count)
        names = {py_name(x) for x in f}
        for k in WANT:
            if k in names:
                cum[k] += c
        if "work" in names:
            work += c
            rooted += c if f[0] == "_start" and "[truncated]" not in f else 0
    total = sum(cum.values())
    print("  py::work: %d samples, %d reach _start" % (work, rooted))
    if total < 300 or work < 100 or rooted < 0.9 * work:
        failures.append((version, "roots", work, rooted, total))
    for k, want in WANT.items():
        share = 100.0 * cum[k] / max(total, 1)
        # 4 points, or 4 standard deviations of counting noise when wider
        tol = max(4.0, 400.0 * (want / 100 * (1 - want / 100) / max(total, 1)) ** 0.5)
        ok = abs(share - want) <= tol
        print("  py::%-11s %5.1f%% (want %.0f +-%.1f) %s" % (k, share, want, tol,
                                                          "ok" if ok else "OFF"))
        if not ok:
            failures.append((version, k, share))
if failures:
    print("FAILED:", failures)
    sys.exit(1)
print("ok")
