"""A real Prometheus (2.42, exemplar storage on) scrapes the OpenMetrics
exposition from a small HTTP server that serves it with the exact content
type, and then has the series and their profile_id exemplars: the strict
check that our OpenMetrics parses, exemplars included."""
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

fixture = sys.argv[1]
body = subprocess.run([fixture, "metrics", "openmetrics"], check=True,
                      capture_output=True).stdout
assert body.endswith(b"# EOF\n")
CT = "application/openmetrics-text; version=1.0.0; charset=utf-8"
scrapes = []


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        scrapes.append(self.headers.get("Accept", ""))
        self.send_response(200)
        self.send_header("Content-Type", CT)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
tmp = tempfile.mkdtemp(prefix="ember-prom-")
prom = None
try:
    port = free_port()
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: ember
    static_configs:
      - targets: ['127.0.0.1:{server.server_address[1]}']
""")
    log = open(os.path.join(tmp, "prometheus.log"), "w")
    prom = subprocess.Popen(
        ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={tmp}/data",
         f"--web.listen-address=127.0.0.1:{port}", "--enable-feature=exemplar-storage"],
        stdout=log, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}/api/v1"
    q = urllib.parse.quote('ember_function_self_seconds_total{function="main"}')
    deadline = time.time() + 25
    result = []
    while time.time() < deadline:
        time.sleep(0.5)
        try:
            result = get(f"{api}/query?query={q}")["data"]["result"]
        except OSError:
            continue
        if len(result) == 2:
            break
    # exemplars are stored with the scrape; give it one more
    time.sleep(1.5)
    assert scrapes, "Prometheus never scraped"
    print("Accept:", scrapes[0])
    assert "application/openmetrics-text" in scrapes[0]
    # a failed scrape shows as up == 0 with the parser's error in targets
    targets = get(f"{api}/targets")["data"]["activeTargets"]
    print(json.dumps(targets, indent=1))
    assert targets[0]["health"] == "up", targets[0].get("lastError")
    assert len(result) == 2, result
    comms = sorted(r["metric"]["comm"] for r in result)
    assert comms == ["app", 'we"ird comm'], comms
    assert all(float(r["value"][1]) == 0.4 for r in result), result
    hostile = get(f"{api}/query?query=" + urllib.parse.quote(
        'ember_function_cumulative_seconds_total{comm="app"}'))["data"]["result"]
    names = {r["metric"]["function"] for r in hostile}
    assert 'quote"back\\slash\nnewline' in names, names
    assert "gr\u00fc\u00dfe" in names and "bad\ufffdbyte" in names, names
    samples = get(f"{api}/query?query=ember_samples_total")["data"]["result"]
    assert samples and samples[0]["value"][1] == "100", samples

    now = time.time()
    ex = get(f"{api}/query_exemplars?query=" + urllib.parse.quote(
        "ember_function_self_seconds_total") + f"&start={now - 3600}&end={now + 60}")
    print(json.dumps(ex, indent=1)[:3000])
    by_comm = {}
    for series in ex["data"]:
        for e in series["exemplars"]:
            by_comm.setdefault(series["seriesLabels"]["comm"], set()).add(
                e["labels"]["profile_id"])
    assert by_comm.get("app") == {"window-a"}, by_comm
    assert by_comm.get('we"ird comm') == {"window-b"}, by_comm
finally:
    if prom:
        prom.terminate()
        try:
            prom.wait(timeout=10)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
    server.shutdown()
    if os.environ.get("EMBER_KEEP_TMP"):
        print("kept", tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
print("ok")
