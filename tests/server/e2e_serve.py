"""ember serve end to end, with real peers: a real Prometheus (2.42,
exemplar storage on) scrapes `ember serve -p <split workload>`, and
  - the per-function rates in PromQL match the workload's known 50/30/20
    split within 5 points, and the total matches the workload's CPU use;
  - query_exemplars gives a profile_id whose /api/v1/profiles/{id} download
    go tool pprof reads and that shows the split functions;
  - go tool pprof -raw reads /debug/pprof/profile?seconds=3;
  - /api/v1/merge with function=split_a keeps only stacks holding split_a;
  - bad requests get 400/404 with a JSON error, a fifth concurrent profile
    request 503;
  - SIGTERM exits 0 and stores the partial window; a restart lists every
    window stored before.
Every process started here is killed in `finally`."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

EMBER = os.environ["EMBER"]
SPLIT = os.environ["EMBER_WORKLOAD_SPLIT"]
WINDOW = 2


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_http(url, deadline_s):
    end = time.time() + deadline_s
    while time.time() < end:
        try:
            status, _ = fetch(url, timeout=2)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer 200 within {deadline_s}s")


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_serve(tmp, port, pid, name):
    log = open(os.path.join(tmp, f"{name}.log"), "w")
    return subprocess.Popen(
        # 397 Hz: prime, and its period does not nearly divide split's 10 ms
        # slice cycle (at 99 Hz samples sweep the cycle's phase too slowly and
        # shares wander; 397 Hz also gives more samples on a loaded machine)
        [EMBER, "serve", "-p", str(pid), "-F", "397", "--window", f"{WINDOW}s",
         "--storage.path", os.path.join(tmp, "store"), "--listen", f"127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT)


def stop(p, sig=signal.SIGTERM, timeout=15):
    if p and p.poll() is None:
        p.send_signal(sig)
        try:
            return p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise AssertionError("process did not exit after the signal")
    return p.returncode if p else None


def pprof(env, *args):
    out = subprocess.run(["go", "tool", "pprof", *args], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, f"go tool pprof {args} failed:\n{out.stderr}"
    return out.stdout


def traces(text):
    """Blocks of `go tool pprof -traces`, one per sample stack."""
    blocks = re.split(r"\n-+\+-+\n", text)
    return [b for b in blocks[1:] if b.strip() and "samples/count" not in b.split("\n")[0]]


tmp = tempfile.mkdtemp(prefix="ember-serve-e2e-")
env = dict(os.environ, HOME=tmp, GOCACHE=os.path.join(tmp, "gocache"), PPROF_TMPDIR=tmp)
split = serve = prom = None
try:
    # one workload thread: with both vCPUs of this VM busy the host
    # deschedules them at times, the guest's clocks (and /proc) go on but the
    # cpu-clock timer's missed periods are skipped, perf's and ember's alike
    # (tests/exporter/split_metrics.py); one thread leaves a vCPU for the rest
    split = subprocess.Popen([SPLIT, "60", "1"], stdout=subprocess.DEVNULL)
    port, prom_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    serve = start_serve(tmp, port, split.pid, "serve1")
    wait_http(f"{base}/healthz", 10)

    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: ember
    static_configs:
      - targets: ['127.0.0.1:{port}']
""")
    prom = subprocess.Popen(
        ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={tmp}/prom",
         f"--web.listen-address=127.0.0.1:{prom_port}", "--enable-feature=exemplar-storage"],
        stdout=open(os.path.join(tmp, "prometheus.log"), "w"), stderr=subprocess.STDOUT)
    papi = f"http://127.0.0.1:{prom_port}/api/v1"
    wait_http(f"http://127.0.0.1:{prom_port}/-/ready", 20)

    # go tool pprof reads the next 3 s (meanwhile Prometheus starts scraping)
    t = time.time()
    raw = pprof(env, "-raw", f"{base}/debug/pprof/profile?seconds=3")
    took = time.time() - t
    assert 2.9 <= took < 10, f"/debug/pprof/profile?seconds=3 took {took:.1f}s"
    assert "split_a" in raw and "cpu/nanoseconds" in raw, raw[:2000]

    # the workload's own CPU use, logged every 50 ms while Prometheus scrapes
    cpu_log, logging = [], [True]

    def log_cpu():
        while logging[0]:
            cpu_log.append((time.time(), proc_cpu_seconds(split.pid)))
            time.sleep(0.05)

    logger = threading.Thread(target=log_cpu)
    logger.start()
    time.sleep(12)
    logging[0] = False
    logger.join()

    def cpu_at(t):
        for (ta, ca), (tb, cb) in zip(cpu_log, cpu_log[1:]):
            if ta <= t <= tb:
                return ca + (cb - ca) * (t - ta) / (tb - ta)
        raise AssertionError(f"no CPU log around {t}")

    def query(q, at=None):
        extra = f"&time={at}" if at is not None else ""
        status, body = fetch(f"{papi}/query?query={urllib.parse.quote(q)}{extra}")
        assert status == 200, body
        return json.loads(body)["data"]["result"]

    # The counters step once per window, so rates are taken between two
    # window boundaries B_a < B_b, evaluated at B + 1.8 s (after the scrape
    # that saw the window): (value - value offset span) / span, which PromQL's
    # rate() would blur with its extrapolation at the series' start.
    b_b = (time.time() - 1.9) // WINDOW * WINDOW
    total_q = 'sum(ember_function_self_seconds_total{comm="split"})'
    b_a = next((b for b in (b_b - k * WINDOW for k in (7, 6, 5, 4, 3, 2))
                if query(total_q, b + 1.8) and b > cpu_log[0][0]), None)
    assert b_a is not None, "Prometheus has fewer than 2 windows of data"
    span = int(b_b - b_a)
    sel = '{comm="split",function=~"split_[abc]"}'
    res = query(f"sum by (function) (ember_function_cumulative_seconds_total{sel} - "
                f"ember_function_cumulative_seconds_total{sel} offset {span}s) / {span}",
                b_b + 1.8)
    got = {r["metric"]["function"]: float(r["value"][1]) for r in res}
    print(f"cumulative CPU rate by function over [{b_a}, {b_b}]:", got)
    assert set(got) == {"split_a", "split_b", "split_c"}, got
    total = sum(got.values())
    assert total > 0
    for fn, want in (("split_a", 50), ("split_b", 30), ("split_c", 20)):
        share = 100 * got[fn] / total
        print(f"{fn}: {share:.1f}% (want {want} +- 5)")
        assert abs(share - want) <= 5, (fn, share)
    self_series = query('ember_function_self_seconds_total{comm="split",function=~"split_[abc]"}')
    assert {r["metric"]["function"] for r in self_series} == {"split_a", "split_b", "split_c"}
    # total CPU of the workload against /proc over the same span
    res = query(f"{total_q} - {total_q.replace(')', f' offset {span}s)')}", b_b + 1.8)
    ember_cpu = float(res[0]["value"][1])
    proc_cpu = cpu_at(b_b) - cpu_at(b_a)
    print(f"CPU in [{b_a}, {b_b}]: ember {ember_cpu:.2f} s, /proc {proc_cpu:.2f} s")
    assert abs(ember_cpu - proc_cpu) <= 0.1 * proc_cpu, (ember_cpu, proc_cpu)

    # exemplars name stored windows
    now = time.time()
    q = urllib.parse.quote('ember_function_cumulative_seconds_total{function="split_a"}')
    status, body = fetch(f"{papi}/query_exemplars?query={q}&start={now - 60}&end={now + 5}")
    assert status == 200, body
    ids = [e["labels"]["profile_id"] for s in json.loads(body)["data"]
           for e in s["exemplars"]]
    print("exemplar profile ids:", ids[:5])
    assert ids, body
    status, gz = fetch(f"{base}/api/v1/profiles/{ids[-1]}")
    assert status == 200 and gz[:2] == b"\x1f\x8b", status
    path = os.path.join(tmp, "window.pb.gz")
    with open(path, "wb") as f:
        f.write(gz)
    top = pprof(env, "-top", "-cum", path)
    assert "split_a" in top and "spin_cpu" in top, top

    # merge over the run, focused on split_a
    status, body = fetch(f"{base}/api/v1/profiles")
    windows = json.loads(body)
    assert len(windows) >= 5, windows
    start_ms, end_ms = windows[0]["start_ms"], windows[-1]["end_ms"]
    status, gz = fetch(f"{base}/api/v1/merge?start={start_ms}&end={end_ms}&function=split_a")
    assert status == 200, gz
    with open(path, "wb") as f:
        f.write(gz)
    blocks = traces(pprof(env, "-traces", path))
    assert len(blocks) >= 1
    for b in blocks:
        assert "split_a" in b, b
    status, gz = fetch(f"{base}/api/v1/merge?start={start_ms}&end={end_ms}")
    with open(path, "wb") as f:
        f.write(gz)
    unfocused = traces(pprof(env, "-traces", path))
    assert any("split_b" in b for b in unfocused) and len(unfocused) > len(blocks)

    # the Grafana dashboard's data link, filled in as Grafana does (ms times)
    dash = json.load(open(os.path.join(os.environ["EMBER_SOURCE_ROOT"], "deploy", "grafana",
                                       "ember-dashboard.json")))
    links = dash["panels"][0]["fieldConfig"]["defaults"]["links"]

    def filled(link):
        return (link.replace("${ember_url}", base).replace("${__from}", str(start_ms))
                .replace("${__to}", str(end_ms))
                .replace("${__field.labels.function:percentencode}", urllib.parse.quote("split_c")))
    url = filled(next(l["url"] for l in links
                      if "/api/v1/merge" in l["url"] and "function=" in l["url"]))
    status, gz = fetch(url)
    assert status == 200 and gz[:2] == b"\x1f\x8b", (url, status)
    with open(path, "wb") as f:
        f.write(gz)
    assert all("split_c" in b for b in traces(pprof(env, "-traces", path)))
    # ... and the one to the UI: the page, and its JSON holds only split_c's stacks
    url = filled(next(l["url"] for l in links if "/ui/profile?" in l["url"]))
    status, page = fetch(url)
    assert status == 200 and b"/ui/profile.js" in page, (url, status)
    status, body = fetch(url.replace("/ui/profile?", "/api/v1/calltree?"))
    tree = json.loads(body)
    cum = {tree["names"][f[0]]: f[2] for f in tree["functions"]}
    assert status == 200 and tree["total"] > 0 and cum["split_c"] == tree["total"], (url, cum)
    assert "split_a" not in cum, cum

    # bad requests
    for url, want, needle in (
            ("/api/v1/profiles/..%2F..%2Fetc%2Fpasswd", 400, "bad window id"),
            ("/api/v1/profiles/20001125T010000Z-10s", 404, "no stored window"),
            ("/api/v1/merge?start=yesterday&end=now", 400, "bad time"),
            ("/api/v1/merge?start=1000&end=2000", 404, "no stored windows"),
            ("/api/v1/merge?start=1000&end=2000&function=(", 400, "regex"),
            ("/debug/pprof/profile?seconds=100000", 400, "limit"),
            ("/debug/pprof/profile?seconds=abc", 400, "seconds")):
        status, body = fetch(base + url)
        assert status == want, (url, status, body)
        assert needle in json.loads(body)["error"], (url, body)

    # at most 4 profile requests at once: a fifth gets 503 with a JSON error
    results = []

    def profile_request():
        results.append(fetch(f"{base}/debug/pprof/profile?seconds=1", timeout=30))

    workers = [threading.Thread(target=profile_request) for _ in range(5)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    codes = sorted(r[0] for r in results)
    assert codes == [200, 200, 200, 200, 503], codes
    assert "already running" in json.loads(next(b for c, b in results if c == 503))["error"]
    assert all(b[:2] == b"\x1f\x8b" for c, b in results if c == 200)

    # /metrics: self-observability, both formats
    status, text = fetch(f"{base}/metrics")
    text = text.decode()
    for name in ("ember_samples_total", "ember_samples_lost_total", "ember_unwind_errors_total",
                 "ember_windows_stored_total", "ember_store_bytes", "ember_scrapes_total",
                 "process_cpu_seconds_total", "process_resident_memory_bytes",
                 "process_start_time_seconds", "process_open_fds"):
        assert re.search(rf"^{name}(\{{[^}}]*\}})? \S+$", text, re.M), name
    assert "# EOF" not in text

    # SIGTERM: exit 0, the partial window stored
    before = {w["id"] for w in windows}
    time.sleep(0.7)  # into the next window, away from its boundary
    assert stop(serve) == 0, "ember serve did not exit 0 on SIGTERM"
    stored = sorted(f[:-len(".pb.zst")].rsplit(".", 1)[0]
                    for f in os.listdir(os.path.join(tmp, "store")) if f.endswith(".pb.zst"))
    partial = [i for i in stored if i.endswith("ms") and i not in before]
    print("stored after SIGTERM:", stored[-3:])
    assert partial, stored
    assert not [f for f in os.listdir(os.path.join(tmp, "store")) if ".tmp." in f]

    # restart on the same storage keeps every window
    port2 = free_port()
    serve = start_serve(tmp, port2, split.pid, "serve2")
    wait_http(f"http://127.0.0.1:{port2}/healthz", 10)
    status, body = fetch(f"http://127.0.0.1:{port2}/api/v1/profiles")
    listed = {w["id"] for w in json.loads(body)}
    assert set(stored) <= listed, set(stored) - listed
    status, gz = fetch(f"http://127.0.0.1:{port2}/api/v1/profiles/{partial[0]}")
    assert status == 200 and gz[:2] == b"\x1f\x8b"
    assert stop(serve) == 0
    print("ok")
except Exception:
    for name in ("serve1.log", "serve2.log", "prometheus.log"):
        p = os.path.join(tmp, name)
        if os.path.exists(p):
            print(f"--- {name}", file=sys.stderr)
            print(open(p).read()[-3000:], file=sys.stderr)
    raise
finally:
    for p in (serve, prom, split):
        if p and p.poll() is None:
            p.kill()
            p.wait()
    shutil.rmtree(tmp, ignore_errors=True)
