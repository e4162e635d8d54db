#!/usr/bin/env python3
"""bench/fidelity.py — does sampling alias with periodic work, and what do
random periods cost? (issue 14; bench/README.md, "Sampling fidelity")

1. Fidelity. tests/workloads/split (2 threads, 10 ms rounds of 5/3/2 ms of
   CPU: 50/30/20 % by construction) runs for DUR s; three profilers watch it
   AT THE SAME TIME at 99 Hz: `ember serve --sampling random`, `ember serve
   --sampling fixed` (2 s windows each) and `perf record -e cpu-clock -F 99
   -g -k mono` (its samples cut into 2 s windows by time). For each tool:
   the largest share error (points, any of split_a/b/c) over the full
   windows, and the samples per window. Medians over the rounds.

2. Cost. bench/workloads/busy keeps both CPUs busy; two `ember serve`
   agents, one per mode, sample it at the same time (so the load is the
   same for both), for three targets: -p (2 threads) at 99 and 999 Hz, and
   -a at 999 Hz. Between t=3 s and the end, per agent: the CPU of its
   sampling thread (its main thread) and of its changer threads (comm
   ember-chg/N: random mode's period changes, profiler/changer.h), from
   /proc/PID/task/TID/schedstat (run time, ns), per second; and the samples
   it took (ember_samples_total in /metrics). Sampling also costs the
   sampled threads the kernel's work for each sample (timer interrupt,
   stack walk, ring write): measured first in the same run (busy's
   operations per CPU second, 1 thread, alone and under `ember record -F
   5000`: the CPU lost over the samples taken), and counted per sample
   for both modes. Ratios random/fixed of the agent's CPU, and of the
   whole (agent + kernel), medians over rounds (the bar is 1.1x).

usage: bench/fidelity.py [--build DIR] [--rounds N] [--dur S] [--only fidelity,cost]
                         [--cost-targets -p:99,-p:999,-a:999]
needs: root (or perf_event_paranoid <= 1), perf (linux-perf)
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

SHARES = {"split_a": 50.0, "split_b": 30.0, "split_c": 20.0}


def serve(ember, target, freq, mode, store, window="2s"):
    p = subprocess.Popen([ember, "serve"] + target +
                         ["-F", str(freq), "--sampling", mode, "--window", window,
                          "--storage.path", store, "--listen", "127.0.0.1:0"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = p.stderr.readline()
    m = re.search(r"\(port (\d+)\), \d+ Hz (\w+) sampling", line)
    if not m or m.group(2) != mode:
        p.kill()
        sys.exit("ember serve did not start: " + line)
    return p, int(m.group(1))


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def share_error(counts):
    total = sum(counts.values())
    if not total:
        return None
    return max(abs(100.0 * counts.get(f, 0) / total - want) for f, want in SHARES.items())


def split_counts(folded_lines):
    """Samples whose stack holds split_a/b/c, from 'frame;frame;... N' lines."""
    c = {}
    for line in folded_lines:
        stack, _, n = line.rpartition(" ")
        frames = stack.split(";")
        for f in SHARES:
            if f in frames:
                c[f] = c.get(f, 0) + int(n)
    return c


def ember_windows(ember, store):
    """(max error over full windows, [samples per window]) of a serve store;
    the first and the last window are partial and left out."""
    files = sorted(f for f in os.listdir(store) if f.endswith(".pb.zst") or f.endswith(".pb.gz"))
    errs, ns = [], []
    for f in files[1:-1]:
        out = subprocess.run([ember, "export", os.path.join(store, f), "--format", "folded"],
                             capture_output=True, text=True, check=True).stdout
        c = split_counts(out.splitlines())
        e = share_error(c)
        if e is not None:
            errs.append(e)
            ns.append(sum(c.values()))
    return errs, ns


def perf_windows(data, t0_mono, dur):
    """perf script's samples cut into 2 s windows from t0 (CLOCK_MONOTONIC)."""
    out = subprocess.run(["perf", "script", "-i", data, "-F", "time,ip,sym"],
                         capture_output=True, text=True).stdout
    wins = {}
    cur_t, frames = None, []

    def flush():
        if cur_t is None:
            return
        w = int((cur_t - t0_mono) // 2)
        if 0 < w < int(dur // 2) - 1:
            for f in SHARES:
                if f in frames:
                    wins.setdefault(w, {})
                    wins[w][f] = wins[w].get(f, 0) + 1
    for line in out.splitlines():
        m = re.match(r"^\s*(\d+\.\d+):\s*$", line)
        if m:
            flush()
            cur_t, frames = float(m.group(1)), []
        elif line.strip():
            parts = line.split()
            if len(parts) >= 2:
                frames.append(parts[1].split("+")[0])
    flush()
    errs = [share_error(c) for _, c in sorted(wins.items())]
    return [e for e in errs if e is not None], [sum(c.values()) for _, c in sorted(wins.items())]


def fidelity_round(build, dur, tmp):
    ember = os.path.join(build, "cli/ember")
    split = os.path.join(build, "tests/workloads/split")
    w = subprocess.Popen([split, str(dur + 3), "2"], stdout=subprocess.DEVNULL)
    time.sleep(0.3)
    stores = {m: tempfile.mkdtemp(dir=tmp) for m in ("random", "fixed")}
    agents = {m: serve(ember, ["-p", str(w.pid)], 99, m, stores[m])[0] for m in stores}
    data = os.path.join(tmp, "perf.data")
    t0 = time.clock_gettime(time.CLOCK_MONOTONIC)
    perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "99", "-g",
                             "-k", "mono", "--no-bpf-event", "-p", str(w.pid), "-o", data,
                             "--", "sleep", str(dur)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    perf.wait()
    for a in agents.values():
        stop(a)
    w.kill()
    w.wait()
    res = {"ember random": ember_windows(ember, stores["random"]),
           "ember fixed": ember_windows(ember, stores["fixed"]),
           "perf -F 99": perf_windows(data, t0, dur)}
    for s in stores.values():
        shutil.rmtree(s)
    return res


def task_cpu(pid, tid):
    """CPU seconds of one thread: schedstat's run time (ns), finer than
    stat's clock ticks; 0 when it is gone."""
    try:
        with open("/proc/%d/task/%d/schedstat" % (pid, tid)) as f:
            return int(f.read().split()[0]) / 1e9
    except OSError:
        return 0.0


def agent_cpu(pid):
    """(the sampling thread's CPU seconds, the changer threads')."""
    chg = 0.0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if f.read().startswith("ember-chg/"):
                    chg += task_cpu(pid, int(tid))
        except OSError:
            pass
    return task_cpu(pid, pid), chg


def samples_total(port):
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10).read()
    m = re.search(rb"^ember_samples_total(?:\{[^}]*\})? (\S+)$", body, re.M)
    return float(m.group(1)) if m else float("nan")


def busy_rate(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(r"ops_per_cpu_sec=(\S+)", out.stdout)
    n = re.search(r"(\d+) samples", out.stderr)
    return float(m.group(1)), int(n.group(1)) if n else 0, \
        float(re.search(r" cpu=(\S+)", out.stdout).group(1))


def kernel_cost(build, tmp, rounds=5):
    """Microseconds of a sampled thread's CPU per sample (fp mode):
    busy alone against busy under `ember record -F 5000`, alternating,
    median."""
    ember = os.path.join(build, "cli/ember")
    busy = os.path.join(build, "bench/busy")
    out = os.path.join(tmp, "k.pb")
    costs = []
    for _ in range(rounds):
        bare, _, _ = busy_rate([busy, "3", "1"])
        rate, n, cpu = busy_rate([ember, "record", "-F", "5000", "-o", out, "--", busy, "3", "1"])
        if n:
            costs.append(1e6 * cpu * (1 - rate / bare) / n)
    return statistics.median(costs) if costs else float("nan")


def cost_round(build, target, freq, dur, tmp, first):
    ember = os.path.join(build, "cli/ember")
    busy = os.path.join(build, "bench/busy")
    w = subprocess.Popen([busy, str(dur + 4), "2"], stdout=subprocess.DEVNULL)
    time.sleep(0.3)
    tgt = ["-p", str(w.pid)] if target == "-p" else ["-a"]
    order = [first, "fixed" if first == "random" else "random"]
    agents = {}
    for m in order:
        agents[m] = serve(ember, tgt, freq, m, tempfile.mkdtemp(dir=tmp), window="1s")
    time.sleep(3)
    t0 = time.monotonic()
    a0 = {m: (agent_cpu(p.pid), samples_total(port)) for m, (p, port) in agents.items()}
    time.sleep(dur - 3)
    a1 = {m: (agent_cpu(p.pid), samples_total(port)) for m, (p, port) in agents.items()}
    secs = time.monotonic() - t0
    for p, _ in agents.values():
        stop(p)
    w.kill()
    w.wait()
    # 1 s windows: ember_samples_total steps once a window, so the count
    # between the two reads is exact to a window or two.
    # Per agent: (sampling thread ms/s, changer threads ms/s, samples/s)
    return {m: (1e3 * (a1[m][0][0] - a0[m][0][0]) / secs,
                1e3 * (a1[m][0][1] - a0[m][0][1]) / secs,
                (a1[m][1] - a0[m][1]) / secs) for m in agents}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dur", type=float, default=22)
    ap.add_argument("--cost-dur", type=float, default=13)
    ap.add_argument("--only", default="fidelity,cost")
    ap.add_argument("--cost-targets", default="-p:99,-p:999,-a:999",
                    help="the cost table's rows, TARGET:HZ, comma-separated")
    a = ap.parse_args()
    only = a.only.split(",")
    os.chdir(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    with tempfile.TemporaryDirectory() as tmp:
        if "fidelity" in only:
            runs = [fidelity_round(a.build, a.dur, tmp) for _ in range(a.rounds)]
            print("### Fidelity: largest share error over 2 s windows at 99 Hz "
                  "(split, 2 threads, %g s, %d rounds, medians)\n" % (a.dur, a.rounds))
            print("| tool | largest error, points (median) | per round | windows | samples per window (median) |")
            print("| --- | --- | --- | --- | --- |")
            for tool in runs[0]:
                mx = [max(r[tool][0]) if r[tool][0] else float("nan") for r in runs]
                ns = [n for r in runs for n in r[tool][1]]
                print("| %s | %.1f | %s | %d | %d |" % (
                    tool, statistics.median(mx), ", ".join("%.1f" % x for x in mx),
                    sum(len(r[tool][0]) for r in runs), statistics.median(ns) if ns else 0))
            print()
        if "cost" in only:
            k = kernel_cost(a.build, tmp)
            print("### Cost: random vs fixed (busy on both CPUs, both agents at once, "
                  "%d rounds, medians)\n" % a.rounds)
            print("Kernel work per sample, charged to the sampled thread: %.1f us "
                  "(busy alone vs under `ember record -F 5000`, median of 5).\n" % k)
            print("| target | rate | samples/s (fixed, random) | fixed: sampler, ms/s | "
                  "random: sampler + changers, ms/s | agent ratio | with kernel, ms/s "
                  "(fixed, random) | total ratio |")
            print("| --- | --- | --- | --- | --- | --- | --- | --- |")
            rows = [(t, int(f)) for t, f in (x.split(":") for x in a.cost_targets.split(","))]
            for target, freq in rows:
                rs = [cost_round(a.build, target, freq, a.cost_dur, tmp,
                                 "random" if i % 2 == 0 else "fixed") for i in range(a.rounds)]
                med = lambda f: statistics.median(f(r) for r in rs)
                agent = lambda r, m: r[m][0] + r[m][1]
                total = lambda r, m: agent(r, m) + r[m][2] * k / 1e3
                print("| %s | %d Hz | %.0f, %.0f | %.2f | %.2f + %.2f | %.2fx | %.2f, %.2f | %.2fx |" % (
                    target, freq, med(lambda r: r["fixed"][2]), med(lambda r: r["random"][2]),
                    med(lambda r: r["fixed"][0]), med(lambda r: r["random"][0]),
                    med(lambda r: r["random"][1]),
                    med(lambda r: agent(r, "random") / agent(r, "fixed")),
                    med(lambda r: total(r, "fixed")), med(lambda r: total(r, "random")),
                    med(lambda r: total(r, "random") / total(r, "fixed"))))
            print()


if __name__ == "__main__":
    main()
