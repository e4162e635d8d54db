"""deploy/ is checked by the tools that read it: promtool accepts the
Prometheus config and every PromQL expression of the Grafana dashboard (as
recording rules, template variables filled in), systemd-analyze accepts the
unit, and the dashboard and the Kubernetes manifest carry what they promise
(rate(ember_function_self_seconds_total[1m]), exemplars on, the data links
to the UI and to the merged pprof; shared process namespace, capabilities, scrape annotations)."""
import json
import os
import re
import shutil
import subprocess
import tempfile

SRC = os.environ["EMBER_SOURCE_ROOT"]
EMBER = os.environ["EMBER"]
D = os.path.join(SRC, "deploy")

out = subprocess.run(["promtool", "check", "config", f"{D}/prometheus/prometheus.yml"],
                     capture_output=True, text=True)
assert out.returncode == 0, out.stdout + out.stderr
cfg = open(f"{D}/prometheus/prometheus.yml").read()
assert "exemplar-storage" in cfg and "max_exemplars" in cfg

dash = json.load(open(f"{D}/grafana/ember-dashboard.json"))
targets = [t for p in dash["panels"] for t in p["targets"]]
exprs = [t["expr"] for t in targets]
top = dash["panels"][0]
assert "rate(ember_function_self_seconds_total{" in top["targets"][0]["expr"]
assert "[1m]" in top["targets"][0]["expr"]
assert top["targets"][0]["exemplar"] is True
links = top["fieldConfig"]["defaults"]["links"]
assert any("/api/v1/merge?start=${__from}&end=${__to}&function=${__field.labels.function"
           in l["url"] for l in links), links
ds = open(f"{D}/grafana/datasource.yml").read()
assert "exemplarTraceIdDestinations" in ds and "name: profile_id" in ds
assert "/api/v1/profiles/${__value.raw}" in ds
# exemplars and data links land in the UI; the pprof downloads stay
assert "/ui/profile?id=${__value.raw}" in ds
assert ds.index("/ui/profile?id=") < ds.index("/api/v1/profiles/"), "the UI link comes first"
assert all(any("/ui/profile?start=${__from}&end=${__to}&function=${__field.labels.function"
               in l["url"] for l in p["fieldConfig"]["defaults"]["links"])
           for p in dash["panels"] if p["fieldConfig"]["defaults"].get("links")), "UI data links"
assert any(l["url"] == "${ember_url}/ui/" for l in dash["links"])

tmp = tempfile.mkdtemp(prefix="ember-deploy-")
try:
    fill = {"$top": "10", "$instance": ".*", "$comm": ".*"}
    rules = ["groups:", "  - name: dashboard", "    rules:"]
    for i, e in enumerate(exprs):
        for k, v in fill.items():
            e = e.replace(k, v)
        assert "$" not in e, e
        rules += [f"      - record: ember:dashboard_{i}", f"        expr: {json.dumps(e)}"]
    path = os.path.join(tmp, "rules.yml")
    open(path, "w").write("\n".join(rules) + "\n")
    out = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    # metric names the dashboard uses are ones ember exports
    used = set(re.findall(r"\b((?:ember|process)_[a-z_]+)\b", " ".join(exprs)))
    help_text = open(os.path.join(SRC, "server", "serve_api.c")).read() + \
        open(os.path.join(SRC, "server", "serve_procstat.c")).read()
    for name in used - {"ember_function_self_seconds_total",
                        "ember_function_cumulative_seconds_total"}:
        base = re.sub(r"_total$", "", name)
        assert f'"{base}"' in help_text, f"dashboard uses {name}, which ember does not export"

    unit = open(f"{D}/systemd/ember.service").read()
    assert "ExecStart=/usr/local/bin/ember serve" in unit
    unit = unit.replace("/usr/local/bin/ember", EMBER)
    upath = os.path.join(tmp, "ember.service")
    open(upath, "w").write(unit)
    out = subprocess.run(["systemd-analyze", "verify", upath], capture_output=True, text=True)
    problems = [l for l in (out.stdout + out.stderr).splitlines()
                if "ember.service" in l and "Documentation" not in l]
    assert not problems, problems
finally:
    shutil.rmtree(tmp, ignore_errors=True)

k8s = open(f"{D}/kubernetes/ember-sidecar.yaml").read()
assert re.search(r"^\s+shareProcessNamespace: true$", k8s, re.M)
for cap in ("PERFMON", "SYS_PTRACE", "SYSLOG"):
    assert re.search(rf"add: \[[^\]]*\b{cap}\b", k8s), cap
    assert re.search(rf"#\s+{cap}\s+\S", k8s), f"no reason given for {cap}"
assert "drop: [ALL]" in k8s
assert "kind: Service" in k8s and k8s.count('prometheus.io/scrape: "true"') >= 2
assert "exec ember serve -p" in k8s and "/healthz" in k8s
print("ok")
