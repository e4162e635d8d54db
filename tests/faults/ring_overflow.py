"""tests/faults/ring_overflow.py — more samples than the ring buffers hold:
--call-graph dwarf with the largest stack copy (64 KiB per sample) at
20 kHz on every CPU while two threads spin, which no reader keeps up with.

ember must count what the kernel dropped (PERF_RECORD_LOST) and say so:
`ember record`'s summary reports "N samples, lost L of T" with L > 0 and
N + L == T, and `ember serve` exports ember_samples_lost_total > 0 while it
keeps sampling, storing windows and answering."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from faultlib import EMBER, Serve, check, cleanup, rmtree, tmpdir, workload

HEAVY = ["--call-graph", "dwarf", "--stack-size", "65528", "-F", "20000"]


def main():
    d = tmpdir("ember-ring-")
    work = workload(120, threads=2)
    try:
        # record: the summary line counts the loss
        r = subprocess.run([EMBER, "record", "-a", *HEAVY, "-d", "2", "--raw", "-o",
                            os.path.join(d, "ovf.pb.gz")], capture_output=True, timeout=90)
        err = r.stderr.decode(errors="replace")
        check(r.returncode == 0, f"ember record exited {r.returncode}: {err}")
        m = re.search(r"(\d+) samples, lost (\d+) of (\d+)", err)
        check(m, "no summary line: " + err)
        n, lost, total = map(int, m.groups())
        check(lost > 0, "no lost samples reported at 20 kHz with 64 KiB stack copies: " + err)
        check(n > 0 and n + lost == total, "summary does not add up: " + m.group(0))

        # serve: exported as ember_samples_lost_total, and serve keeps working
        serve = Serve(["-a", *HEAVY], os.path.join(d, "store")).start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            mx = serve.metrics()
            if mx.get("ember_samples_lost_total", 0) > 0 and mx["ember_windows_stored_total"] >= 1:
                break
            time.sleep(0.3)
        check(mx.get("ember_samples_lost_total", 0) > 0,
              f"ember_samples_lost_total not above 0: {mx.get('ember_samples_lost_total')}")
        check(mx["ember_windows_stored_total"] >= 1, "windows not stored under overflow")
        check(mx["ember_samples_total"] > 0, "no samples under overflow")
        status, _, _ = serve.get("/healthz")
        check(status == 200, f"/healthz {status} under overflow")
        rc = serve.stop()
        check(rc == 0, f"ember serve exited {rc}:\n" + serve.output())
        print(f"record: {n} samples, lost {lost} of {total}; serve: "
              f"ember_samples_lost_total {mx['ember_samples_lost_total']:.0f}, "
              f"ember_samples_total {mx['ember_samples_total']:.0f}")
    finally:
        cleanup()
        rmtree(d)


if __name__ == "__main__":
    main()
