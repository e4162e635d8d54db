"""`ember serve -a` on cgroups named as the runtimes name them (issue 17).

Under the cgroup2 mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified in the
hybrid layout) it makes, inside one parent of its own:
  docker-<64 hex>.scope                                   (docker, systemd driver)
  kubepods.slice/kubepods-burstable.slice/
    kubepods-burstable-pod<uid with _>.slice/cri-containerd-<64 hex>.scope
and runs the split workload (50/30/20 % in split_a/_b/_c) as A in the docker
scope and B in the cri-containerd scope, plus M that starts in the docker
scope and is moved into the cri-containerd one halfway. With
--metrics.labels comm,function,pod_uid,container_id:
  - /api/v1/merge's pprof (read by go tool pprof -raw): A's samples carry
    cgroup, container_id and no pod_uid; B's carry cgroup, container_id and
    pod_uid with '-' (the slice name's '_' turned back);
  - M's samples are attributed to each cgroup by time: the docker share is
    M's CPU time before the move over its total, within 12 points (or three
    standard deviations);
  - /metrics: series carry container_id and pod_uid, and each container's
    cumulative split_a/_b/_c shares are 50/30/20 within 6 points (or three
    standard deviations of the sample count, when the machine is so loaded
    that the workloads got little CPU);
  - /api/v1/merge?container_id=... and ?pod_uid=... keep only that
    container's or pod's samples.
The cgroups are removed in `finally` (the workloads are killed first), also
when a check fails."""
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "faults"))
sys.path.insert(0, os.path.join(HERE, "..", "profiler"))
import faultlib  # noqa: E402
import recordlib  # noqa: E402

SPLIT = os.environ["EMBER_WORKLOAD_SPLIT"]
SECONDS = 5.0
HZ = 1471   # 14.71 periods per 10 ms cycle of split: samples spread over its phases


def tolerance(p, n, floor):
    """floor, or three standard deviations of a share p over n samples when
    that is wider (a loaded machine gives the workloads little CPU)."""
    return max(floor, 3 * (p * (1 - p) / max(1, n)) ** 0.5)



def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                return left.split()[4]
    return None


def fetch(url, timeout=20):
    status, body, _ = faultlib.get(url, timeout=timeout)
    return status, body


def pprof_samples(body, tmp, name):
    """[(count, {label: value})] as go tool pprof -raw reads the profile."""
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(body)
    return [(s[0], s[3]) for s in recordlib.pprof_raw(path, tmp)["samples"]]


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])   # utime + stime


def start_in(cgroup_dir, seconds):
    """split with one thread; it joins cgroup_dir before exec."""
    procs = os.path.join(cgroup_dir, "cgroup.procs")

    def join():
        with open(procs, "w") as f:
            f.write(str(os.getpid()))

    return subprocess.Popen([SPLIT, str(seconds), "1"], stdout=subprocess.PIPE, text=True,
                            preexec_fn=join)


def main():
    root = cgroup2_mount()
    if not root:
        print("no cgroup2 hierarchy is mounted: nothing to label")
        return 77
    if os.geteuid() != 0:
        print("making cgroups needs root")
        return 77
    cid_a, cid_b = secrets.token_hex(32), secrets.token_hex(32)
    uid = "%s-%s-%s-%s-%s" % tuple(secrets.token_hex(n) for n in (4, 2, 2, 2, 6))
    top = os.path.join(root, "ember-labels-test-%d.slice" % os.getpid())
    docker = os.path.join(top, f"docker-{cid_a}.scope")
    pod_rel = ["kubepods.slice", "kubepods-burstable.slice",
               "kubepods-burstable-pod%s.slice" % uid.replace("-", "_")]
    cri = os.path.join(top, *pod_rel, f"cri-containerd-{cid_b}.scope")
    made, procs, serve, tmp = [], [], None, None
    try:
        for d in [top, docker] + [os.path.join(top, *pod_rel[:i + 1]) for i in range(3)] + [cri]:
            os.mkdir(d)
            made.append(d)
        tmp = tempfile.mkdtemp(prefix="ember-labels-")
        serve = faultlib.Serve(
            ["-a", "-F", str(HZ)], os.path.join(tmp, "store"), window="1s",
            extra=["--metrics.labels", "comm,function,pod_uid,container_id",
                   # split_a/_b/_c are never leaves: on a busy node they would
                   # not rank among the top functions by self time
                   "--metrics.functions", "^split_[abc]$"]).start()
        base = serve.url("")
        t0 = int(time.time()) - 1
        m_start = time.time() * 1000
        a = start_in(docker, SECONDS)
        b = start_in(cri, SECONDS)
        m = start_in(docker, SECONDS)
        procs = [a, b, m]
        time.sleep(SECONDS / 2)
        before = cpu_ticks(m.pid)
        move_ms = (time.time() * 1000, None)
        with open(os.path.join(cri, "cgroup.procs"), "w") as f:
            f.write(str(m.pid))
        move_ms = (move_ms[0], time.time() * 1000)
        total = None
        for p in procs:
            out, _ = p.communicate(timeout=30)
            assert p.returncode == 0, out
            if p is m:
                mm = re.search(r"cpu=([\d.]+)", out)
                total = float(mm.group(1)) * os.sysconf("SC_CLK_TCK")
        m_end = time.time() * 1000
        # the windows up to the workloads' end are stored (the worker
        # symbolizes every process on the node: slow under sanitizers)
        deadline = time.time() + 40
        while time.time() < deadline:
            st, body = fetch(f"{base}/api/v1/profiles?start={t0}")
            if st == 200 and any(w["end_ms"] > m_end + 500 for w in json.loads(body)):
                break
            time.sleep(0.5)
        else:
            raise AssertionError("the windows after the workloads were not stored in 40 s")
        t1 = int(time.time()) + 1

        st, body = fetch(f"{base}/api/v1/merge?start={t0}&end={t1}")
        assert st == 200, body[:300]
        samples = pprof_samples(body, tmp, "merged.pb.gz")
        by = {}
        for count, labels in samples:
            if labels.get("comm") == "split":   # not the child before its exec
                by.setdefault(labels.get("pid"), []).append((count, labels))
        want_a = {"cgroup": "/" + os.path.relpath(docker, root), "container_id": cid_a}
        want_b = {"cgroup": "/" + os.path.relpath(cri, root), "container_id": cid_b,
                  "pod_uid": uid}
        for pid, want, pod in ((a.pid, want_a, False), (b.pid, want_b, True)):
            got = by.get(str(pid), [])
            n = sum(c for c, _ in got)
            assert n > 30, f"pid {pid}: {n} samples"
            for c, labels in got:
                for k, v in want.items():
                    assert labels.get(k) == v, (pid, k, labels)
                assert ("pod_uid" in labels) == pod, labels
            print(f"pid {pid}: {n} samples, labels {want}")
        in_a = sum(c for c, l in by.get(str(m.pid), []) if l.get("container_id") == cid_a)
        in_b = sum(c for c, l in by.get(str(m.pid), []) if l.get("container_id") == cid_b)
        share = in_a / max(1, in_a + in_b)
        expect = before / total
        print(f"moved pid {m.pid}: {in_a} samples in docker, {in_b} in the pod; "
              f"docker share {share:.3f}, by its CPU time before the move {expect:.3f}")
        assert in_a > 10 and in_b > 10, (in_a, in_b)
        # loose: the cpu-clock timer skips periods while the host deschedules
        # a vCPU (steal), and how much varies over a run on a busy machine
        tol = tolerance(expect, in_a + in_b, 0.2)
        assert abs(share - expect) <= tol, (share, expect, tol)

        # by time: every window that ended before the move has M in the
        # docker scope only, every window that began after it in the pod only
        st, body = fetch(f"{base}/api/v1/profiles?start={t0}&end={t1}")
        assert st == 200, body
        seen = {"before": 0, "after": 0}
        for w in json.loads(body):
            when = ("before" if w["end_ms"] < move_ms[0] else
                    "after" if w["start_ms"] > move_ms[1] else None)
            if not when or w["end_ms"] < m_start or w["start_ms"] > m_end:
                continue
            st, prof = fetch(f"{base}/api/v1/profiles/{w['id']}")
            assert st == 200, prof[:200]
            for c, l in pprof_samples(prof, tmp, "window.pb.gz"):
                if l.get("pid") != str(m.pid) or l.get("comm") != "split":
                    continue
                want = cid_a if when == "before" else cid_b
                assert l.get("container_id") == want, (when, w, l)
                seen[when] += c
        print(f"moved pid by window: {seen['before']} samples before the move, all in "
              f"docker; {seen['after']} after, all in the pod")
        assert seen["before"] > 0 and seen["after"] > 0, seen

        st, body = fetch(base + "/metrics")
        assert st == 200
        cum = {}
        line_re = re.compile(r'^ember_function_cumulative_seconds_total\{comm="([^"]*)",'
                             r'function="([^"]*)",container_id="([^"]*)",pod_uid="([^"]*)"\} (\S+)$')
        for line in body.decode().splitlines():
            mm = line_re.match(line)
            if not line.startswith("ember_function_") or "_seconds_total{" not in line:
                continue
            assert "binary=" not in line, line
            # other users' workloads on the machine: not in our containers
            if mm and mm.group(2) in ("split_a", "split_b", "split_c") and \
                    mm.group(3) in (cid_a, cid_b):
                comm, fn, cid, pod, v = mm.groups()
                assert comm == "split", line
                assert pod == (uid if cid == cid_b else ""), line
                cum.setdefault(cid, {})[fn] = float(v)
        for cid in (cid_a, cid_b):
            got = cum.get(cid, {})
            assert set(got) == {"split_a", "split_b", "split_c"}, (cid, got)
            tot = sum(got.values())
            shares = {k: 100 * v / tot for k, v in got.items()}
            n = tot * HZ
            print(f"container {cid[:12]}: {tot:.2f}s (~{n:.0f} samples),",
                  {k: round(v, 1) for k, v in sorted(shares.items())})
            for fn, want in (("split_a", 50), ("split_b", 30), ("split_c", 20)):
                tol = 100 * tolerance(want / 100, n, 0.06)
                assert abs(shares[fn] - want) <= tol, (cid, fn, shares, tol)

        for arg, keep in ((f"container_id=^{cid_a}$", cid_a),
                          ("pod_uid=" + urllib.parse.quote(uid), cid_b)):
            st, body = fetch(f"{base}/api/v1/merge?start={t0}&end={t1}&{arg}")
            assert st == 200, body[:300]
            got = pprof_samples(body, tmp, "focus.pb.gz")
            assert got and all(l.get("container_id") == keep for _, l in got), arg
        st, body = fetch(f"{base}/api/v1/merge?start={t0}&end={t1}&container_id=((")
        assert st == 400 and b"container_id" in body, body
        print("ok")
        return 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if serve:
            serve.stop(timeout=20)
            print(serve.output()[-2000:])
        faultlib.cleanup()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        for d in reversed(made):
            for _ in range(50):   # a killed process leaves its cgroup shortly after
                try:
                    os.rmdir(d)
                    break
                except OSError:
                    time.sleep(0.1)


def on_term(signum, _frame):
    # meson's timeout sends SIGTERM: leave through `finally`, which removes
    # the cgroups
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_term)
    sys.exit(main())
