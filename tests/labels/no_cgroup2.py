"""Without a cgroup2 hierarchy (issue 17): in a private mount namespace
(`unshare -m`) with every cgroup2 mount unmounted, `ember record -a` says
so once ("no cgroup2 hierarchy is mounted"), records as usual, and its
samples carry no cgroup, container_id, pod_uid or systemd_unit label. The
host's mounts are untouched (the namespace ends with the command)."""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "profiler"))
import recordlib  # noqa: E402

NOTICE = "no cgroup2 hierarchy is mounted"


def main():
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("needs root and unshare(1) for a private mount namespace")
        return 77
    with open("/proc/self/mountinfo") as f:
        host_before = f.read().count(" - cgroup2 ")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "nocg.pb.gz")
        script = (
            "set -e; "
            "for m in $(awk '$9 == \"cgroup2\" {print $5}' /proc/self/mountinfo | sort -r); do "
            "umount -l \"$m\"; done; "
            "! grep -q ' - cgroup2 ' /proc/self/mountinfo; "
            # a busy loop, so that an idle machine still yields samples
            "timeout 3 sh -c 'while :; do :; done' & "
            f"\"$EMBER\" record -a -F 99 -d 1 -o {out}; rc=$?; "
            "kill $! 2>/dev/null; wait; exit $rc")
        r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                           capture_output=True, text=True, timeout=60)
        print(r.stdout, r.stderr[-2000:])
        assert r.returncode == 0, r.returncode
        assert r.stderr.count(NOTICE) == 1, r.stderr.count(NOTICE)
        prof = recordlib.pprof_raw(out, tmp)
        assert len(prof["samples"]) > 0
        for s in prof["samples"]:
            labels = s[3]
            assert "comm" in labels and "pid" in labels, labels
            for k in ("cgroup", "container_id", "pod_uid", "systemd_unit"):
                assert k not in labels, labels
        print(f"{len(prof['samples'])} samples, none with cgroup labels; one notice")
    with open("/proc/self/mountinfo") as f:
        assert f.read().count(" - cgroup2 ") == host_before, "the host's mounts changed"
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
