#!/usr/bin/env python3
"""bench/ui_load.py — how fast the UI shows an hour: a store of 360
synthetic windows of 10 s (bench/ui_store.c: 1,500 sample records each, a
call tree of ~60,000 nodes over the hour), served by `ember serve`, and

  - the time from request to the flame graph drawn, measured by the page
    itself in Debian's chromium (navigation start to the draw, in a new tab
    opened once chromium is quiet: bench/ui_load.mjs says why), for
    /ui/profile?start=..&end=.. over the hour: cold (the first request
    after ember serve starts: the 360 windows are decoded and folded) and
    warm (the windows folded in memory, as the worker leaves each window
    it stores; a bench cannot wait an hour for serve to store them, so
    warm is the request after the cold one);
  - the JSON endpoint alone (/api/v1/calltree, curl), cold and warm, its
    size, the CPU seconds ember serve spent on it (the machine's load does
    not change those; wall times on a busy machine do), and how much
    ember serve's RSS grew by holding the hour folded;
  - the peer in the same run: what a user did before the UI, `go tool pprof
    -top` of /api/v1/merge over the same hour (download, parse, report);
  - a redraw of the whole tree and a search highlight, in the page;
  - the timeline page /ui/ of the 360 windows (the first visit reads them,
    the next comes from the timeline's memory);
  - the size of the page's assets.

Medians over rounds (each restarts ember serve), the tools alternating. With --readme the table goes
into bench/README.md between "<!-- bench/ui:begin -->" and
"<!-- bench/ui:end -->".

usage: bench/ui_load.py [--build DIR] [--rounds N] [--readme]
"""
import argparse
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BEGIN, END = "<!-- bench/ui:begin -->", "<!-- bench/ui:end -->"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def timed(args, **kw):
    t = time.monotonic()
    r = subprocess.run(args, capture_output=True, timeout=600, **kw)
    if r.returncode != 0:
        sys.exit(f"{args[0]} failed: {r.stderr.decode(errors='replace')[-2000:]}")
    return time.monotonic() - t, r.stdout


def serve(ember, store, procs):
    """`ember serve` over store (sampling a sleeping process: it adds nothing)."""
    target = subprocess.Popen(["sleep", "3600"])
    procs.append(target)
    port = free_port()
    p = subprocess.Popen([ember, "serve", "-p", str(target.pid), "--listen", f"127.0.0.1:{port}",
                          "--storage.path", store, "--storage.retention", "0",
                          "--storage.max-bytes", "0",
                          # the heavy hour folded takes ~100 MB: room for it
                          # (the default, 32M, fits a sidecar's 128Mi)
                          "--ui.cache-size", "128M"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(p)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/healthz", timeout=2)
            break
        except OSError:
            time.sleep(0.1)
    return base, p, target


def cpu_of(pid):
    """CPU seconds (user + system) process pid has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024


def stop(p, target):
    p.terminate()
    p.wait(timeout=60)
    target.terminate()


def wait_idle(pid, t0):
    """Waits until pid stops using CPU (serve's warm-up done): its CPU
    seconds and the wall seconds since t0."""
    prev = -1
    while True:
        c = cpu_of(pid)
        if c == prev:
            return c, time.monotonic() - t0 - 0.5
        prev = c
        time.sleep(0.5)


def measure(ember, store, start, end, rounds, tmp, procs):
    """Each round restarts ember serve three times: for the page (its first
    draw is cold: at once after the start, racing serve's warm-up; its
    second is warm), for the JSON alone (cold, then warm) and the peer, and
    for the warm-up (waited for, then the JSON)."""
    rng = f"start={start}&end={end}"
    b = {"profile_ms": [], "warm_ms": [], "redraw_ms": [], "search_ms": [], "timeline_ms": [],
         "timeline_later_ms": [], "nodes": 0, "asked_ms": [], "answered_ms": [], "arrived_ms": []}
    cold_s, cold_cpu, warm_s, warm_cpu, pprof_s, pprof_cpu, rss = [], [], [], [], [], [], []
    warmup_cpu, warmup_s, after_cpu, after_s = [], [], [], []
    json_bytes = 0
    for _ in range(rounds):
        # chromium first (opened and quiet), then serve, then at once the page
        sync = tempfile.mkdtemp(dir=tmp)
        conf = {"profile": f"/ui/profile?{rng}", "timeline": "/ui/", "rounds": 2, "sync": sync}
        b_ = subprocess.Popen(["node", os.path.join(HERE, "ui_load.mjs"), json.dumps(conf)],
                              stdout=subprocess.PIPE)
        procs.append(b_)
        for _ in range(1200):
            if os.path.exists(os.path.join(sync, "ready")) or b_.poll() is not None:
                break
            time.sleep(0.05)
        base, p, target = serve(ember, store, procs)
        with open(os.path.join(sync, "go.tmp"), "w") as f:
            f.write(base)
        os.rename(os.path.join(sync, "go.tmp"), os.path.join(sync, "go"))
        out, _ = b_.communicate(timeout=600)
        stop(p, target)
        if b_.returncode != 0:
            sys.exit("bench/ui_load.mjs failed")
        o = json.loads(out)
        b["profile_ms"].append(o["profile_ms"][0])
        b["warm_ms"].append(o["profile_ms"][1])
        for k in ("asked_ms", "answered_ms", "arrived_ms"):   # the warm draw's
            b[k].append(o[k][1])
        b["redraw_ms"] += o["redraw_ms"]
        b["search_ms"] += o["search_ms"]
        b["timeline_ms"].append(o["timeline_ms"][0])
        b["timeline_later_ms"].append(o["timeline_ms"][1])
        b["nodes"] = o["nodes"]

        base, p, target = serve(ember, store, procs)
        before = rss_mb(p.pid)
        for s_, cpu in ((cold_s, cold_cpu), (warm_s, warm_cpu)):
            c = cpu_of(p.pid)
            t, body = timed(["curl", "-sSf", f"{base}/api/v1/calltree?{rng}"])
            cpu.append(cpu_of(p.pid) - c)
            s_.append(t)
            json_bytes = len(body)
        rss.append(rss_mb(p.pid) - before)
        stop(p, target)

        t0 = time.monotonic()
        base, p, target = serve(ember, store, procs)
        c, w = wait_idle(p.pid, t0)
        warmup_cpu.append(c)
        warmup_s.append(w)
        c = cpu_of(p.pid)
        t, _ = timed(["curl", "-sSf", f"{base}/api/v1/calltree?{rng}"])
        after_cpu.append(cpu_of(p.pid) - c)
        after_s.append(t)
        c, g = cpu_of(p.pid), children_cpu()
        t, _ = timed(["go", "tool", "pprof", "-symbolize=none", "-top", "-nodecount=20",
                      f"{base}/api/v1/merge?{rng}"],
                     env=dict(os.environ, PPROF_TMPDIR=tmp))
        pprof_cpu.append(cpu_of(p.pid) - c + children_cpu() - g)
        pprof_s.append(t)
        stop(p, target)
    b.update(api_s=cold_s, api_cpu=cold_cpu, warm_s=warm_s, warm_cpu=warm_cpu, pprof_s=pprof_s,
             pprof_cpu=pprof_cpu, json_bytes=json_bytes, folded_mb=rss, warmup_cpu=warmup_cpu,
             warmup_s=warmup_s, after_cpu=after_cpu, after_s=after_s,
             store_mb=sum(os.path.getsize(os.path.join(store, f)) for f in os.listdir(store)) / 1e6)
    return b


def rows_of(name, b):
    med = statistics.median
    prof, warm, peer = med(b["profile_ms"]) / 1000, med(b["warm_ms"]) / 1000, med(b["pprof_s"])
    return [
        (f"{name}: flame graph of 1 h drawn, request to canvas, **warm** (the 360 windows "
         f"folded in memory)", f"{warm:.2f} s", f"{peer:.2f} s", f"{warm / peer:.2f}x"),
        (f"{name}: the same, **cold** (first request after a restart: 360 windows decoded "
         f"and folded)", f"{prof:.2f} s", f"{peer:.2f} s", f"{prof / peer:.2f}x"),
        (f"{name}: inside the warm draw (the page's resource timing): the call tree asked for; "
         f"its first byte; all of it arrived; drawn",
         f"{med(b['asked_ms']) / 1000:.2f} s; {med(b['answered_ms']) / 1000:.2f} s; "
         f"{med(b['arrived_ms']) / 1000:.2f} s; {warm:.2f} s", "", ""),
        (f"{name}: CPU seconds to answer, warm / cold: ember serve for /api/v1/calltree; "
         f"serve + go for the peer",
         f"{med(b['warm_cpu']):.2f} s / {med(b['api_cpu']):.2f} s", f"{med(b['pprof_cpu']):.2f} s",
         f"{med(b['warm_cpu']) / med(b['pprof_cpu']):.2f}x / "
         f"{med(b['api_cpu']) / med(b['pprof_cpu']):.2f}x"),
        (f"{name}: /api/v1/calltree of that hour alone (curl, wall), warm / cold",
         f"{med(b['warm_s']):.2f} s / {med(b['api_s']):.2f} s, {b['json_bytes'] / 1e6:.2f} MB "
         f"JSON, {b['nodes']:,} nodes", "", ""),
        (f"{name}: after a restart: serve's warm-up (folding the last hour's windows), CPU "
         f"and wall; then /api/v1/calltree, CPU and wall",
         f"{med(b['warmup_cpu']):.2f} s in {med(b['warmup_s']):.1f} s; "
         f"{med(b['after_cpu']):.2f} s, {med(b['after_s']):.2f} s", "", ""),
        (f"{name}: memory of the hour folded (ember serve's RSS growth)",
         f"{med(b['folded_mb']):.0f} MB", "", ""),
        (f"{name}: redraw of the whole tree; search highlight",
         f"{med(b['redraw_ms']):.0f} ms; {med(b['search_ms']):.0f} ms", "", ""),
        (f"{name}: timeline /ui/ of the 360 windows, first visit / later visits",
         f"{med(b['timeline_ms']) / 1000:.2f} s / {med(b['timeline_later_ms']) / 1000:.2f} s",
         "", ""),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--readme", action="store_true")
    a = ap.parse_args()
    ember = os.path.join(a.build, "cli", "ember")
    gen = os.path.join(a.build, "bench", "ui_store")
    load0 = os.getloadavg()
    d = tempfile.mkdtemp(prefix="ember-ui-bench-")
    procs = []
    try:
        # real: windows `ember serve -a` stored on this machine (whatever it
        # ran meanwhile), repeated over the hour
        rec = os.path.join(d, "rec")
        r = subprocess.Popen([ember, "serve", "-a", "--window", "10s", "--listen", "127.0.0.1:0",
                              "--storage.path", rec], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        procs.append(r)
        time.sleep(32)
        r.terminate()
        r.wait(timeout=60)
        full = sorted(os.path.join(rec, f) for f in os.listdir(rec) if "Z-10s." in f)
        if not full:
            sys.exit("ember serve -a stored no full window in 32 s")
        real = os.path.join(d, "real")
        _, out = timed([gen, real, "360", *full])
        rs, re_ = out.decode().split()
        heavy = os.path.join(d, "heavy")
        gen_s, out = timed([gen, heavy, "360"])
        hs, he = out.decode().split()
        b_real = measure(ember, real, rs, re_, a.rounds, d, procs)
        b_heavy = measure(ember, heavy, hs, he, a.rounds, d, procs)
        load = os.getloadavg()
        web = os.path.join(ROOT, "web")
        assets = {f: os.path.getsize(os.path.join(web, f)) for f in os.listdir(web)
                  if f.endswith((".html", ".js", ".css", ".svg"))}
        page = sum(assets[f] for f in ("profile.html", "ember.css", "favicon.svg", "prefetch.js",
                                       "common.js", "flame.js", "profile.js"))
        rows = rows_of("real", b_real) + rows_of("heavy", b_heavy) + [
            ("assets: all of web/ / what a profile page loads",
             f"{sum(assets.values()) / 1024:.1f} KiB / {page / 1024:.1f} KiB", "", "(bar 200 KB)")]
        lines = [
            f"Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node()} "
            f"({os.cpu_count()} CPUs, load average {load0[0]:.1f} at the start, {load[0]:.1f} at "
            f"the end), medians of "
            f"{a.rounds} rounds; `bench/ui_load.py --rounds {a.rounds}`. real: {len(full)} windows "
            f"`ember serve -a` stored here, repeated to 360 ({b_real['store_mb']:.1f} MB zstd); "
            f"heavy: bench/ui_store.c's synthetic windows, 1,500 sample records each "
            f"({b_heavy['store_mb']:.0f} MB zstd, generated in {gen_s:.1f} s).",
            "",
            "| what | ember UI | peer: `go tool pprof -top` of /api/v1/merge, same hour | ratio |",
            "| --- | --- | --- | --- |",
        ] + [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} |" for r in rows]
        text = "\n".join(lines) + "\n"
        print(text)
        print(json.dumps({"real": b_real, "heavy": b_heavy}), file=sys.stderr)
        if a.readme:
            p = os.path.join(HERE, "README.md")
            s = open(p).read()
            if BEGIN in s:
                s = s[:s.index(BEGIN) + len(BEGIN)] + "\n" + text + s[s.index(END):]
            else:
                s += f"\n## UI (bench/ui_load.py)\n\n{BEGIN}\n{text}{END}\n"
            open(p, "w").write(s)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=30)
        shutil.rmtree(d, ignore_errors=True)


main()
