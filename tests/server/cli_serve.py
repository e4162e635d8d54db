"""`ember serve` as a command: --help lists every flag, bad flags and bad
EMBER_* values are usage errors (exit 2) with one line naming the flag, flags
fall back to EMBER_* environment variables, `-- COMMAND` stops serving
(exit 0) once the command exits, with its last partial window stored, and
SIGTERM to serve ends a command still running."""
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

EMBER = os.environ["EMBER"]
SPLIT = os.environ["EMBER_WORKLOAD_SPLIT"]


def run(args, env=None, timeout=30):
    return subprocess.run([EMBER, "serve", *args], capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), timeout=timeout)


out = run(["--help"])
assert out.returncode == 0, out
for flag in ("-a", "-p", "-G", "-- COMMAND", "-F", "--call-graph", "--stack-size", "--window",
             "--listen", "--storage.path", "--storage.retention", "--storage.max-bytes",
             "--metrics.top", "--metrics.functions", "--metrics.max-series",
             "--ui.cache-size", "EMBER_UI_CACHE_SIZE", "EMBER_LISTEN", "EMBER_STORAGE_PATH", "0.0.0.0:9464"):
    assert flag in out.stdout, flag

for args, env, needle in (
        (["--bogus"], None, "unknown option"),
        (["-F", "0"], None, "-F"),
        (["-F", "fast"], None, "-F"),
        (["--window", "500ms"], None, "--window"),
        (["--window"], None, "needs a value"),
        ([], {"EMBER_WINDOW": "abc"}, "EMBER_WINDOW='abc' (from the environment, for --window)"),
        ([], {"EMBER_STORAGE_RETENTION": "forever"}, "EMBER_STORAGE_RETENTION='forever'"),
        (["--window", "abc"], {"EMBER_WINDOW": "abc"}, "--window 'abc'"),  # argv wins
        (["--storage.max-bytes", "lots"], None, "--storage.max-bytes"),
        (["--ui.cache-size", "12x"], None, "--ui.cache-size"),
        ([], {"EMBER_UI_CACHE_SIZE": "-1"}, "EMBER_UI_CACHE_SIZE='-1'"),
        (["--call-graph", "lbr"], None, "--call-graph"),
        (["--stack-size", "1"], None, "--stack-size"),
        (["--metrics.top", "0"], None, "--metrics.top"),
        (["--metrics.functions", "("], None, "--metrics.functions"),
        (["-a", "-p", "1"], None, "one target"),
        (["-p", "abc"], None, "-p"),
        (["stray"], None, "unexpected argument")):
    out = run(args, env)
    assert out.returncode == 2, (args, env, out.returncode, out.stderr)
    assert needle in out.stderr and out.stderr.startswith("ember serve: "), (args, out.stderr)
    assert not out.stdout

tmp = tempfile.mkdtemp(prefix="ember-serve-cli-")
try:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = os.path.join(tmp, "store")
    env = {"EMBER_LISTEN": f"127.0.0.1:{port}", "EMBER_STORAGE_PATH": store,
           "EMBER_WINDOW": "1s", "EMBER_FREQ": "199"}
    p = subprocess.Popen([EMBER, "serve", "--", SPLIT, "2.5", "1"], stderr=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, text=True, env=dict(os.environ, **env))
    # the env port answers while the command runs
    ok = False
    for _ in range(40):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                ok = r.status == 200
                break
        except OSError:
            time.sleep(0.05)
    rc = p.wait(timeout=20)
    err = p.stderr.read()
    assert ok, err
    assert rc == 0, (rc, err)
    assert "199 Hz" in err and store in err, err
    files = sorted(os.listdir(store))
    print(files)
    assert files, err
    # 1 s windows from EMBER_WINDOW; the last one is partial (ms) and holds samples
    assert any(f.split(".")[0].endswith("Z-1s") for f in files), files
    assert files[-1].split(".pb.zst")[0].rsplit(".", 1)[0].endswith("ms"), files
    assert all(int(f.split(".pb.zst")[0].rsplit(".", 1)[1]) > 0 for f in files), files
    # a target that uses no CPU: nothing stored, and still exit 0
    idle = os.path.join(tmp, "idle")
    # (-F 1: the dynamic loader's ~1 ms of CPU is unlikely to be sampled)
    out = run(["-F", "1", "--window", "1s", "--storage.path", idle, "--listen", "127.0.0.1:0", "--",
               "sleep", "2.2"])
    assert out.returncode == 0, out.stderr
    assert os.listdir(idle) == [], os.listdir(idle)
    # SIGTERM while the command still runs: serve exits 0 and ends the
    # command too (SIGTERM, as record does), leaving no orphan behind
    pidfile = os.path.join(tmp, "child.pid")
    p = subprocess.Popen([EMBER, "serve", "--window", "1s", "--storage.path", os.path.join(tmp, "t"),
                          "--listen", "127.0.0.1:0", "--", "sh", "-c", f"echo $$ > {pidfile}; exec {SPLIT} 60 1"],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    for _ in range(100):
        if os.path.exists(pidfile) and open(pidfile).read().strip():
            break
        time.sleep(0.05)
    child = int(open(pidfile).read())
    time.sleep(1.0)
    p.terminate()
    rc = p.wait(timeout=20)
    assert rc == 0, (rc, p.stderr.read())
    gone = False
    for _ in range(60):
        try:
            os.kill(child, 0)
            with open(f"/proc/{child}/stat") as f:
                if f.read().split(")")[-1].split()[0] == "Z":
                    gone = True
                    break
        except (ProcessLookupError, FileNotFoundError):
            gone = True
            break
        time.sleep(0.05)
    if not gone:
        os.kill(child, 9)
    assert gone, "serve left its -- COMMAND running after SIGTERM"
    # the port is taken: a runtime error naming the fix
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    out = run(["--listen", f"127.0.0.1:{blocker.getsockname()[1]}", "--storage.path", store,
               "--", "true"])
    blocker.close()
    assert out.returncode == 1 and "--listen" in out.stderr, out.stderr
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print("ok")
