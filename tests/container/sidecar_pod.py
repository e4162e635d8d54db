"""ember as a sidecar, for real: scripts/image.sh builds localhost/ember:latest
(podman, runc), then a pod sharing its PID namespace (Kubernetes'
shareProcessNamespace) and, for the test, the host network runs
  - the app: tests/container/gosplit, a Go program built now, stripped
    (-ldflags=-s -w: no symbol table, no DWARF, only .gopclntab), burning CPU
    in main.alphaBurn / main.betaBurn / main.gammaBurn split 50/30/20 by
    construction;
  - the sidecar: the ember container of deploy/kubernetes/ember-sidecar.yaml,
    started as the manifest says: its command and args, its env (APP_PROCESS
    set to the app, EMBER_LISTEN moved to a free port since the pod shares the
    host's network), its securityContext (user, capabilities dropped and
    added, no privilege escalation, read-only root, the seccomp profile it
    names), its resource limits and its emptyDir (a host directory here);
    never privileged.
Meanwhile the node agent of deploy/kubernetes/ember-node.yaml (DaemonSet:
hostPID, `serve -a`, the node's /sys/fs/cgroup mounted, container_id among
its metrics labels) runs in the host's PID namespace, started the same way,
in a private cgroup namespace (what a Kubernetes container gets on a
cgroup v2 node; the mounted hierarchy is what gives it the host's paths).
A real Prometheus (exemplar storage on) scrapes the sidecar. Asserted:
  - the same sidecar under podman's default seccomp profile fails with
    perf_event_open permission denied (why the manifest ships ember.json);
  - Prometheus has the app's three functions by name at their shares (±5);
  - an exemplar's profile_id downloads from the sidecar as a pprof that go
    tool pprof reads and that holds the functions;
  - the node agent's /metrics has the app's functions at their shares too,
    in series whose container_id is the app container's full id as podman
    reports it (`podman inspect --format {{.Id}}`; its cgroup is podman's
    cgroupfs spelling /libpod_parent/<pod>/libpod-<id>, no .scope), and the
    app's samples in its merged pprof carry that container_id and cgroup;
  - `podman stop` exits 0, the sidecar and the node agent exit 0, and each
    stores its partial window in its volume.
The app's function names need .gopclntab symbolization (stripped Go).
Everything started here is removed in `finally`."""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

import yaml

SRC = os.environ["EMBER_SOURCE_ROOT"]
sys.path.insert(0, os.path.join(SRC, "tests", "faults"))
from faultlib import free_port, get  # noqa: E402  (the tests' HTTP helpers)
sys.path.insert(0, os.path.join(SRC, "tests", "profiler"))
import recordlib  # noqa: E402  (go tool pprof -raw, parsed)
BUILD = os.environ["EMBER_BUILD_ROOT"]
HERE = os.path.dirname(os.path.abspath(__file__))
KUBE = os.path.join(SRC, "deploy", "kubernetes")
SECCOMP_DIR = os.path.join(SRC, "deploy", "seccomp")   # the kubelet's seccomp directory
IMAGE = "localhost/ember:latest"
FUNCS = {"main.alphaBurn": 50, "main.betaBurn": 30, "main.gammaBurn": 20}
T0 = time.time()


def log(msg):
    print(f"[{time.time() - T0:6.1f}s] {msg}", flush=True)


def run(cmd, timeout=120, check=True, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and out.returncode != 0:
        raise AssertionError(f"{cmd} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
    return out


def fetch(url, timeout=10):
    status, body, _ = get(url, timeout)
    return status, body


def wait_http(url, deadline_s, alive=lambda: True):
    end = time.time() + deadline_s
    while time.time() < end and alive():
        try:
            if fetch(url, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} did not answer 200 within {deadline_s}s")


def manifest_container(path, kind, name):
    """The pod spec of the manifest's workload of this kind, and its container."""
    docs = list(yaml.safe_load_all(open(path)))
    pod = next(d for d in docs if d["kind"] == kind)["spec"]["template"]["spec"]
    return pod, next(c for c in pod["containers"] if c["name"] == name)


def podman_args(pod, c, port, store):
    """`podman run` flags for container c as the kubelet would start it
    (the caller adds the namespaces: --pod, or --pid=host)."""
    sc = c["securityContext"]
    assert not sc.get("privileged", False), "ember must not run privileged"
    args = ["--user", str(sc["runAsUser"]), "--read-only" if sc["readOnlyRootFilesystem"] else "",
            # Kubernetes gives a read-only root no writable /tmp or /run
            "--read-only-tmpfs=false"]
    if sc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    for cap in sc["capabilities"].get("drop", []):
        args += ["--cap-drop", cap.lower()]
    for cap in sc["capabilities"].get("add", []):
        args += ["--cap-add", cap.lower()]
    prof = sc["seccompProfile"]
    assert prof["type"] == "Localhost", "RuntimeDefault refuses perf_event_open (step 4)"
    path = os.path.join(SECCOMP_DIR, prof["localhostProfile"])
    # read alike by every runtime: no conditions (containerd ignores them),
    # perf_event_open allowed outright
    rules = json.load(open(path))["syscalls"]
    assert not any("includes" in r or "excludes" in r for r in rules), path
    assert {"names": ["perf_event_open"], "action": "SCMP_ACT_ALLOW"} in rules, path
    args += ["--security-opt", f"seccomp={path}"]
    for e in c["env"]:
        value = e["value"]
        if e["name"] == "APP_PROCESS":
            value = "gosplit"
        elif e["name"] == "EMBER_LISTEN":
            value = re.sub(r":\d+$", f":{port}", value)
        args += ["-e", f"{e['name']}={value}"]
    lim = c["resources"]["limits"]
    cpu = lim["cpu"]
    args += ["--cpus", str(int(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu))]
    mem = lim["memory"]
    assert mem.endswith("Mi"), mem
    args += ["--memory", f"{int(mem[:-2])}m"]
    for m in c["volumeMounts"]:
        vol = next(v for v in pod["volumes"] if v["name"] == m["name"])
        assert "emptyDir" in vol or "hostPath" in vol, vol
        host = vol.get("hostPath", {}).get("path", "")
        if host.startswith("/sys/"):   # the node's cgroup hierarchy, as is
            args += ["-v", f"{host}:{m['mountPath']}" + (":ro" if m.get("readOnly") else "")]
        else:                          # the windows' store: a directory of the test's
            args += ["-v", f"{store}:{m['mountPath']}"]
    if "command" in c:
        args += ["--entrypoint", json.dumps(c["command"])]
    args += [IMAGE, *c.get("args", [])]
    return [a for a in args if a]


def shares(got):
    """Each of FUNCS's share of their sum, in percent."""
    total = sum(got.get(fn, 0) for fn in FUNCS)
    assert total > 0, f"none of {list(FUNCS)} in {sorted(got)}"
    return {fn: 100 * got.get(fn, 0) / total for fn in FUNCS}


tmp = tempfile.mkdtemp(prefix="ember-container-")
podname = f"ember-test-{os.getpid()}"
prom = None
try:
    # 1. the image (cached: a warm run only checks the layers)
    out = run(["bash", os.path.join(SRC, "scripts", "image.sh")], timeout=3000)
    log(f"image: {out.stdout.strip().splitlines()[-1]}")

    # 2. the app, stripped: names come from .gopclntab alone
    gosplit = os.path.join(tmp, "gosplit")
    env = dict(os.environ, CGO_ENABLED="0", HOME=tmp,
               GOCACHE=os.path.join(BUILD, "container-gocache"))
    run(["go", "build", "-trimpath", "-ldflags=-s -w", "-o", gosplit, "."],
        cwd=os.path.join(HERE, "gosplit"), env=env)
    sections = run(["readelf", "-SW", gosplit]).stdout
    assert ".gopclntab" in sections and ".symtab" not in sections and ".debug_info" not in sections
    log("gosplit built, stripped (.gopclntab only)")

    # 3. the pod: PID namespace shared (plus ipc/uts as in Kubernetes), host network
    run(["podman", "pod", "create", "--name", podname, "--share", "ipc,net,uts,pid",
         "--network", "host"])
    run(["podman", "run", "-d", "--pod", podname, "--name", f"{podname}-app",
         "-v", f"{gosplit}:/app/gosplit:ro", "--entrypoint", '["/app/gosplit"]', IMAGE])
    app_pid, app_id = run(["podman", "inspect", "--format", "{{.State.Pid}} {{.Id}}",
                           f"{podname}-app"]).stdout.split()
    app_pid = int(app_pid)
    assert re.fullmatch(r"[0-9a-f]{64}", app_id), app_id
    app_cgroup = next(l[3:] for l in open(f"/proc/{app_pid}/cgroup").read().splitlines()
                      if l.startswith("0::"))
    log(f"app: host pid {app_pid}, id {app_id}, cgroup {app_cgroup}")

    pod, c = manifest_container(f"{KUBE}/ember-sidecar.yaml", "Deployment", "ember")
    assert pod.get("shareProcessNamespace") is True
    port = free_port()
    store = os.path.join(tmp, "store")
    os.mkdir(store)
    sidecar = podman_args(pod, c, port, store)

    # 4. RuntimeDefault is not enough: podman's default profile refuses
    # perf_event_open to a container with PERFMON but without SYS_ADMIN
    i = next(i for i, a in enumerate(sidecar) if a.startswith("seccomp="))
    dflt = [a.replace(store, tmp) for a in sidecar[:i - 1] + sidecar[i + 1:]]
    out = run(["podman", "run", "--rm", "--pod", podname, *dflt], timeout=60, check=False)
    log(f"default seccomp profile: exit {out.returncode}: {(out.stdout + out.stderr).strip()}")
    assert out.returncode == 1 and "perf_event_open: permission denied" in out.stdout + out.stderr

    # 5. the sidecar as the manifest says; meanwhile the node agent of
    # ember-node.yaml (DaemonSet: hostPID, -a) on the host's PID namespace
    ctr = f"{podname}-ember"
    run(["podman", "run", "-d", "--pod", podname, "--name", ctr, *sidecar])
    npod, nc = manifest_container(f"{KUBE}/ember-node.yaml", "DaemonSet", "ember")
    assert npod.get("hostPID") is True and nc["args"] == ["serve", "-a"], nc
    nlabels = next(e["value"] for e in nc["env"] if e["name"] == "EMBER_METRICS_LABELS")
    assert "container_id" in nlabels.split(","), nlabels
    nport = free_port()
    nstore = os.path.join(tmp, "node-store")
    os.mkdir(nstore)
    node = f"{podname}-node"
    run(["podman", "run", "-d", "--name", node, "--pid", "host", "--network", "host",
         "--cgroupns", "private", *podman_args(npod, nc, nport, nstore)])
    base, nbase = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{nport}"

    def running(name):
        st = run(["podman", "inspect", "--format", "{{.State.Running}}", name], check=False)
        if st.stdout.strip() != "true":
            logs = run(["podman", "logs", name], check=False)
            raise AssertionError(f"{name} exited:\n{logs.stdout}{logs.stderr}")
        return True

    wait_http(f"{base}/healthz", 30, lambda: running(ctr))
    wait_http(f"{nbase}/healthz", 30, lambda: running(node))
    log(f"sidecar healthy on {base}, node agent on {nbase}")

    # Prometheus on the host, as deploy/prometheus/prometheus.yml but for
    # this one target, scraping every 2 s
    prom_port = free_port()
    cfg = os.path.join(tmp, "prometheus.yml")
    job = {"job_name": "ember", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
    with open(cfg, "w") as f:
        yaml.safe_dump({"global": {"scrape_interval": "2s", "scrape_timeout": "2s"},
                        "scrape_configs": [job]}, f)
    prom_log = open(os.path.join(tmp, "prometheus.log"), "w")
    prom = subprocess.Popen(["prometheus", "--enable-feature=exemplar-storage",
                             f"--config.file={cfg}", f"--storage.tsdb.path={tmp}/prom",
                             f"--web.listen-address=127.0.0.1:{prom_port}"],
                            stdout=prom_log, stderr=subprocess.STDOUT)
    prom_url = f"http://127.0.0.1:{prom_port}"
    wait_http(f"{prom_url}/-/ready", 30)

    def query(q, path="query", **params):
        url = f"{prom_url}/api/v1/{path}?" + urllib.parse.urlencode(dict(query=q, **params))
        status, body = fetch(url)
        assert status == 200, body
        return json.loads(body)["data"]

    # 6. shares by name, from what Prometheus scraped: wait for two stored
    # windows (10 s each, the manifest's default) and 8 s of the app's CPU
    deadline = time.time() + 90
    while time.time() < deadline:
        running(ctr)
        stored = query('ember_windows_stored_total{job="ember"}')["result"]
        cpu = query('sum(ember_function_self_seconds_total{comm="gosplit"})')["result"]
        if stored and float(stored[0]["value"][1]) >= 2 and cpu and float(cpu[0]["value"][1]) >= 8:
            break
        time.sleep(2)
    assert cpu and float(cpu[0]["value"][1]) >= 8, "too little of the app's CPU in Prometheus"
    res = query('ember_function_cumulative_seconds_total{comm="gosplit"}')["result"]
    got = {r["metric"]["function"]: float(r["value"][1]) for r in res}
    top = sorted(got.items(), key=lambda kv: -kv[1])[:8]
    log(f"app: {float(cpu[0]['value'][1]):.1f} CPU seconds in Prometheus; cumulative by "
        f"function, top 8 of {len(got)}: {top}")
    for fn, share in shares(got).items():
        log(f"  {fn}: {share:.1f}% (want {FUNCS[fn]} +- 5)")
        assert abs(share - FUNCS[fn]) <= 5, (fn, share, top)

    # 7. an exemplar's profile downloads and holds the functions
    series = query('ember_function_self_seconds_total{function="main.alphaBurn"}',
                   "query_exemplars", start=T0 - 60, end=time.time() + 5)
    ids = [e["labels"]["profile_id"] for s in series for e in s["exemplars"]]
    assert ids, f"no exemplars: {series}"
    status, prof = fetch(f"{base}/api/v1/profiles/{ids[-1]}")
    assert status == 200 and prof[:2] == b"\x1f\x8b", (status, prof[:100])
    assert len(gzip.decompress(prof)) > 0
    path = os.path.join(tmp, "exemplar.pb.gz")
    open(path, "wb").write(prof)
    text = run(["go", "tool", "pprof", "-top", path], env=dict(env, PPROF_TMPDIR=tmp)).stdout
    assert all(fn in text for fn in FUNCS), text
    log(f"exemplar {ids[-1]} downloads ({len(prof)} bytes) and holds the three functions")

    # 8. the node agent saw the app too (its /metrics, no Prometheus), in
    # series labelled with the app container's id
    running(node)
    status, body = fetch(f"{nbase}/metrics")
    got, ids = {}, {}
    for m in re.finditer(r'^ember_function_cumulative_seconds_total\{([^}]*)\} (\S+)',
                         body.decode(), re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if labels.get("comm") == "gosplit":
            got[labels["function"]] = got.get(labels["function"], 0) + float(m.group(2))
            cid = labels.get("container_id")
            ids[cid] = ids.get(cid, 0) + float(m.group(2))
    log(f"node agent (-a, hostPID): {shares(got)}; gosplit's seconds by container_id: {ids}")
    for fn, share in shares(got).items():
        assert abs(share - FUNCS[fn]) <= 5, (fn, share, got)
    assert set(ids) == {app_id}, f"gosplit's series' container_id: {ids}, want {app_id}"
    # and its pprof: every sample of the app carries the id and the cgroup
    st, prof = fetch(f"{nbase}/api/v1/merge?start={int(T0) - 1}&end={int(time.time()) + 1}",
                     timeout=30)
    assert st == 200, prof[:300]
    path = os.path.join(tmp, "node.pb.gz")
    open(path, "wb").write(prof)
    app = [(c, lb) for c, _, _, lb in recordlib.pprof_raw(path, tmp)["samples"]
           if lb.get("comm") == "gosplit"]
    assert sum(c for c, _ in app) > 100, f"{sum(c for c, _ in app)} samples of the app"
    bad = [lb for _, lb in app
           if lb.get("container_id") != app_id or lb.get("cgroup") != app_cgroup]
    assert not bad, f"{len(bad)} of {len(app)} app samples without the container: {bad[:3]}"
    log(f"node agent's pprof: {sum(c for c, _ in app)} app samples, all container_id "
        f"{app_id[:12]}..., cgroup {app_cgroup}")

    # 9. podman stop: SIGTERM, exit 0, the window in progress stored
    for name, where in ((ctr, store), (node, nstore)):
        before = set(os.listdir(where))
        t = time.time()
        out = run(["podman", "stop", "-t", "30", name], timeout=60, check=False)
        took = time.time() - t
        code = run(["podman", "inspect", "--format", "{{.State.ExitCode}}", name]).stdout.strip()
        logs = run(["podman", "logs", name])
        log(f"podman stop {name}: exit {out.returncode} in {took:.1f}s, container exit {code}")
        assert out.returncode == 0, out.stderr
        assert code == "0", logs.stdout + logs.stderr
        new = sorted(set(os.listdir(where)) - before)
        # <start>Z-<length>.<samples>.pb.zst, length "2495ms" or "3s": shorter
        # than the window (10 s, the manifests' default) when cut by the stop
        lengths = [re.match(r"^\d{8}T\d{6}(?:\.\d{3})?Z-(\d+)(ms|s)\.\d+\.pb\.zst$", n) for n in new]
        partial = [m.group(0) for m in lengths
                   if m and int(m.group(1)) * (1 if m.group(2) == "ms" else 1000) < 10000]
        log(f"  stored at stop: {new}")
        assert partial, f"no partial window stored at stop: {new}; log:\n{logs.stdout}{logs.stderr}"
    print("ok")
finally:
    if prom and prom.poll() is None:
        prom.kill()
        prom.wait()
    subprocess.run(["podman", "rm", "-f", "-t", "0", f"{podname}-node"], capture_output=True)
    subprocess.run(["podman", "pod", "rm", "-f", "-t", "0", podname], capture_output=True)
    shutil.rmtree(tmp, ignore_errors=True)
