"""The label options of `ember export` end to end (issue 17): a split
workload recorded (`ember record -- sh -c ...`) inside a cgroup named as
docker names one; then
  - `export --format top --group-by container_id` puts the container's total
    first among the groups and its id in the rows;
  - `export --format metrics --metrics.labels container_id,function` gives
    series with container_id and function only, split_a among them;
  - bad lists are usage errors (exit 2, one line naming the flag).
The cgroup is removed in `finally`."""
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time

EMBER = os.environ["EMBER"]
SPLIT = os.environ["EMBER_WORKLOAD_SPLIT"]
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from serve_cgroups import cgroup2_mount  # noqa: E402


def run(args):
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def main():
    root = cgroup2_mount()
    if not root or os.geteuid() != 0:
        print("needs root and a cgroup2 hierarchy")
        return 77
    cid = secrets.token_hex(32)
    d = os.path.join(root, f"docker-{cid}.scope")
    os.mkdir(d)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            prof = os.path.join(tmp, "p.pb.gz")
            r = run([EMBER, "record", "-F", "461", "-o", prof, "--", "sh", "-c",
                     f'echo $$ > {d}/cgroup.procs && exec "$0" 2 1', SPLIT])
            assert r.returncode == 0, r.stderr
            r = run([EMBER, "export", prof, "--format", "top", "--group-by", "container_id"])
            assert r.returncode == 0, r.stderr
            print(r.stdout[:1200])
            lines = r.stdout.splitlines()
            head = lines.index("     total  total%  container_id")
            first = lines[head + 1].split()
            assert first[-1] == cid and float(first[1].rstrip("%")) > 90, lines[head + 1]
            assert any(l.endswith(f"{cid}  split_a  split") for l in lines), "no split_a row"
            r = run([EMBER, "export", prof, "--format", "metrics", "--metrics.labels",
                     "container_id,function"])
            assert r.returncode == 0, r.stderr
            series = re.findall(r'^ember_function_self_seconds_total\{([^}]*)\}', r.stdout, re.M)
            assert series and all(re.fullmatch(r'function="[^"]*",container_id="[^"]*"', s)
                                  for s in series), series[:3]
            assert f'function="split_a",container_id="{cid}"' in r.stdout
            for args, flag in (([ "--format", "top", "--group-by", "a,,b"], "--group-by"),
                               (["--format", "metrics", "--metrics.labels", "comm,pid"],
                                "--metrics.labels")):
                r = run([EMBER, "export", prof, *args])
                assert r.returncode == 2 and flag in r.stderr, (r.returncode, r.stderr)
        print("ok")
        return 0
    finally:
        for _ in range(50):
            try:
                os.rmdir(d)
                break
            except OSError:
                time.sleep(0.1)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(128 + s))
    sys.exit(main())
