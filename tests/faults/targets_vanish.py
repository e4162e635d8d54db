"""tests/faults/targets_vanish.py — targets that go away under the profiler.

  1. `ember serve -p PID` whose target exits mid-window: serve stores the
     partial last window and exits 0.
  2. `ember record -p PID` of a process that exits before -d ends: the
     profile is written and symbolized, exit 0.
  3. a binary deleted after start (a copy of split in a temp dir): record -p
     does not crash and the profile is still symbolized (the mapped file is
     reachable through /proc/PID/map_files); once the process is gone as
     well, its frames are left as binary+offset, exit 0.
  4. a binary replaced after start by another ELF (bench/busy) at the same
     path: symbolization never takes names from the wrong file (its build id
     differs); split's frames are named or cleanly left as addresses."""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from faultlib import (EMBER, SPLIT, Serve, check, cleanup, export, rmtree, spawn, tmpdir,
                      workload)

BUSY = os.path.join(os.environ["EMBER_BUILD_ROOT"], "bench", "busy")


def record(pid, out, seconds):
    r = subprocess.run([EMBER, "record", "-p", str(pid), "-F", "499", "-d", str(seconds),
                        "-o", out], capture_output=True, timeout=120)
    check(r.returncode == 0, f"ember record -p {pid} exited {r.returncode}: "
          + r.stderr.decode(errors="replace"))
    check(os.path.exists(out), "no profile written")
    return r.stderr.decode(errors="replace")


def copy_split(d):
    path = os.path.join(d, "split-copy")
    shutil.copy2(SPLIT, path)
    return path


def started(p):
    time.sleep(0.3)   # exec'd and mapped
    check(p.poll() is None, "workload died at start")


def main():
    d = tmpdir("ember-vanish-")
    try:
        # 1. serve's -p target exits mid-window
        work = workload(2.3)
        serve = Serve(["-p", str(work.pid)], os.path.join(d, "store")).start()
        rc = serve.proc.wait(timeout=60)
        check(rc == 0, f"ember serve exited {rc} when its target exited:\n" + serve.output())
        files = sorted(n for n in os.listdir(os.path.join(d, "store")) if n.endswith(".pb.zst"))
        check(files, "no window stored")
        check(any("ms." in n for n in files[-1:]) or len(files) >= 2,
              f"the partial last window was not stored: {files}")
        top = export(os.path.join(d, "store", files[-1]))
        check("split_" in top, "last window not symbolized:\n" + top)

        # 2. record -p of a process that exits before -d ends
        work = workload(1.0)
        record(work.pid, os.path.join(d, "exits.pb.gz"), 10)
        check("split_a" in export(os.path.join(d, "exits.pb.gz")), "split_a missing")

        # 3. binary deleted after start (the process outlives the recording,
        # which symbolizes at its end)
        path = copy_split(d)
        p = spawn([path, "60"], stdout=subprocess.DEVNULL)
        started(p)
        os.unlink(path)
        record(p.pid, os.path.join(d, "deleted.pb.gz"), 1.5)
        top = export(os.path.join(d, "deleted.pb.gz"))
        check("split_a" in top, "deleted binary not symbolized:\n" + top)
        # ... and when the process exits (before the recording symbolizes):
        # cleanly left as addresses
        path = copy_split(d)
        p = spawn([path, "1.2"], stdout=subprocess.DEVNULL)
        started(p)
        os.unlink(path)
        record(p.pid, os.path.join(d, "gone.pb.gz"), 30)
        top = export(os.path.join(d, "gone.pb.gz"))
        check("split-copy+0x" in top and "split_a" not in top,
              "gone binary not cleanly left as addresses:\n" + top)

        # 4. binary replaced by another ELF at the same path
        path = copy_split(d)
        p = spawn([path, "60"], stdout=subprocess.DEVNULL)
        started(p)
        tmp = path + ".new"
        shutil.copy2(BUSY, tmp)
        os.rename(tmp, path)
        record(p.pid, os.path.join(d, "replaced.pb.gz"), 1.5)
        top = export(os.path.join(d, "replaced.pb.gz"))
        wrong = [f for f in ("hash_buffer", "mix_block") if f in top.split()]
        check(not wrong, f"names taken from the replacing binary {wrong}:\n" + top)
        check("split_a" in top or "split-copy+0x" in top,
              "the replaced binary's frames are neither named nor left as addresses:\n" + top)
        print("target exit, deleted and replaced binaries: ok;",
              "replaced binary symbolized" if "split_a" in top else "replaced binary unsymbolized:\n" + top)
    finally:
        cleanup()
        rmtree(d)


if __name__ == "__main__":
    main()
