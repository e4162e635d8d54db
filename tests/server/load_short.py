"""tests/server/load_short.py — the short version of bench/load.sh: wrk with
20 connections for 3 s against /metrics and /api/v1/merge while ember serve
samples a busy machine. Asserts no failed request (non-2xx or socket
error), no lost sample, no dropped window, traffic on both endpoints;
never timings."""
import os
import re
import subprocess
import sys

root = os.environ["EMBER_SOURCE_ROOT"]
env = dict(os.environ, LOAD_SECONDS="3", LOAD_CONNECTIONS="20", LOAD_PEER="0")
r = subprocess.run(["bash", os.path.join(root, "bench", "load.sh")], env=env,
                   capture_output=True, timeout=100)
out = r.stdout.decode(errors="replace")
err = r.stderr.decode(errors="replace")
print(out)
if r.returncode != 0:
    print(f"FAIL: bench/load.sh exited {r.returncode}:\n{err}", file=sys.stderr)
    sys.exit(1)
rows = {m.group(1): (int(m.group(2)), int(m.group(3)))
        for m in re.finditer(r"^\| ember (\S+)[^|]*\| (\d+) \| [\d.]+ \| (\d+) \|", out, re.M)}
ok = (rows.get("/metrics", (0, 1))[0] > 0 and rows.get("/api/v1/merge", (0, 1))[0] > 0
      and all(f == 0 for _, f in rows.values())
      and re.search(r"lost: 0; windows dropped: 0$", out, re.M)
      and "failed requests: 0" in out)
if not ok:
    print(f"FAIL: load results not clean: {rows}\n{err}", file=sys.stderr)
    sys.exit(1)
print("ok: no failed requests, no lost samples")
