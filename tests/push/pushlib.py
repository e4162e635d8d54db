"""tests/push/pushlib.py — what the push tests share: test receivers for
Grafana Pyroscope and the OpenTelemetry Collector that decode with the
UPSTREAM schemas (/work/shared/reference, compiled here with protoc at test
time, never ember's own proto/ files), and the referee for pprof content,
`go tool pprof -raw`.

Runs under Debian's /usr/bin/python3 (python3-protobuf). Every helper is
bounded in time; processes are tracked by faultlib and killed at the end."""
import gzip
import http.server
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "faults"))
from faultlib import (EMBER, SPLIT, Serve, check, cleanup, fail, free_port, get,  # noqa: E402,F401
                      parse_metrics, rmtree, spawn, tmpdir, workload)

from google.protobuf import descriptor_pb2, message_factory  # noqa: E402

def _reference():
    """The upstream schemas: $EMBER_PUSH_REFERENCE, else the workplace's
    shared/reference beside the checkout, else /work/shared/reference."""
    if os.environ.get("EMBER_PUSH_REFERENCE"):
        return os.environ["EMBER_PUSH_REFERENCE"]
    src = os.environ.get("EMBER_SOURCE_ROOT", ".")
    beside = os.path.join(os.path.dirname(os.path.abspath(src)), "shared", "reference")
    return beside if os.path.isdir(beside) else "/work/shared/reference"


REFERENCE = _reference()
OTLP_PATH = "/v1development/profiles"
PYRO_PATH = "/push.v1.PusherService/Push"


def _compile(root, files, tmp):
    out = os.path.join(tmp, os.path.basename(root) + ".pb")
    r = subprocess.run(["protoc", "--include_imports", f"--descriptor_set_out={out}",
                        f"--proto_path={root}", *files], capture_output=True, timeout=60)
    check(r.returncode == 0, "protoc on the upstream schemas failed: "
          + r.stderr.decode(errors="replace"))
    fds = descriptor_pb2.FileDescriptorSet()
    with open(out, "rb") as f:
        fds.ParseFromString(f.read())
    return message_factory.GetMessages(fds.file)


def upstream_messages():
    """{full name: class} for the upstream OTLP profiles and Pyroscope push
    messages (a descriptor set: Pyroscope's package types.v1 would shadow
    Python's module `types` as generated code)."""
    check(os.path.isdir(REFERENCE), f"{REFERENCE}: the upstream schemas are missing")
    tmp = tempfile.mkdtemp(prefix="ember-push-proto-")
    try:
        msgs = _compile(os.path.join(REFERENCE, "otlp-profiles"),
                        ["opentelemetry/proto/collector/profiles/v1development/profiles_service.proto"],
                        tmp)
        msgs.update(_compile(os.path.join(REFERENCE, "pyroscope"),
                             ["push/v1/push.proto"], tmp))
    finally:
        rmtree(tmp)
    return msgs


MSGS = upstream_messages()
ExportRequest = MSGS["opentelemetry.proto.collector.profiles.v1development.ExportProfilesServiceRequest"]
ExportResponse = MSGS["opentelemetry.proto.collector.profiles.v1development.ExportProfilesServiceResponse"]
PushRequest = MSGS["push.v1.PushRequest"]


class Receiver:
    """One HTTP server that is both a Pyroscope (Connect push) and an OTLP
    profiles receiver. Every request is kept: (path, headers, decoded
    message, time, status). `script` is a list of (path suffix, status,
    headers) answers, each used once by the first request to a matching path
    before the default 200; `down()` / `up()` stop and restart listening on
    the same port."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.requests = []
        self.script = []
        self.lock = threading.Lock()
        self.conns = set()
        self.otlp_reject = None   # (count, message): answer with a partial success
        self.server = None
        self.up()

    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def up(self):
        recv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                with recv.lock:
                    recv.conns.add(self.connection)

            def finish(self):
                with recv.lock:
                    recv.conns.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                scripted = None
                with recv.lock:
                    for i, sc in enumerate(recv.script):
                        if self.path.endswith(sc[0]):
                            scripted = recv.script.pop(i)
                            break
                if scripted:   # kept before answering: the client may act at once
                    _, status, extra = scripted
                    with recv.lock:
                        recv.requests.append((self.path, dict(self.headers), None,
                                              time.monotonic(), status))
                    self.send_response(status)
                    for k, v in extra.items():
                        self.send_header(k, v)
                    msg = b'{"code":"unavailable","message":"scripted"}'
                    self.send_header("Content-Length", str(len(msg)))
                    self.end_headers()
                    self.wfile.write(msg)
                    return
                try:
                    if self.path == PYRO_PATH:
                        m = PushRequest()
                        m.ParseFromString(body)
                        out = b""
                        ctype = "application/proto"
                    elif self.path.endswith(OTLP_PATH):
                        raw = body
                        if self.headers.get("Content-Encoding") == "gzip":
                            raw = gzip.decompress(body)
                        m = ExportRequest()
                        m.ParseFromString(raw)
                        resp = ExportResponse()
                        if recv.otlp_reject:
                            resp.partial_success.rejected_profiles = recv.otlp_reject[0]
                            resp.partial_success.error_message = recv.otlp_reject[1]
                        out = resp.SerializeToString()
                        ctype = "application/x-protobuf"
                    else:
                        self.send_response(404)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                except Exception as e:   # a body the upstream schema rejects
                    msg = f"decode: {e}".encode()
                    with recv.lock:
                        recv.requests.append((self.path, dict(self.headers), None,
                                              time.monotonic(), 400))
                    self.send_response(400)
                    self.send_header("Content-Length", str(len(msg)))
                    self.end_headers()
                    self.wfile.write(msg)
                    return
                with recv.lock:
                    recv.requests.append((self.path, dict(self.headers), m, time.monotonic(), 200))
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self):
        """Stops listening and cuts the kept-alive connections too."""
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def got(self, path_suffix, status=200):
        with self.lock:
            return [r for r in self.requests if r[0].endswith(path_suffix) and r[4] == status]


# ---- pprof through the referee: go tool pprof -raw ------------------------

_SAMPLE = re.compile(r"^\s+(\d+)\s+(\d+): ([\d ]+)\s*$")
_LOC = re.compile(r"^\s+(\d+): 0x([0-9a-f]+)(?: M=(\d+))?")
_MAP = re.compile(r"^(\d+): 0x([0-9a-f]+)/0x[0-9a-f]+/0x([0-9a-f]+) (\S+)(?: ([0-9a-f]{8,}))?")
_LABEL = re.compile(r"(\w+):\[(.*?)\](?=\s+\w+:\[|\s*$)")


def file_address(mapping, address):
    """(binary, address relative to the file) of a location, the binary
    being its build id, else its file name: go tool pprof merges the
    mappings of one build id (into the first one's name and place), so
    absolute addresses and names differ between two readings."""
    if not mapping:
        return ("", address)
    name, start, offset = mapping
    return (name, address - start + offset)


def pprof_samples(data):
    """{(pid, tid, comm, ((mapping file, file address), ... leaf first)):
    [count, cpu ns]} of a pprof (gzip or raw bytes), as go tool pprof reads
    it."""
    with tempfile.NamedTemporaryFile(suffix=".pb.gz") as f:
        f.write(data)
        f.flush()
        r = subprocess.run(["go", "tool", "pprof", "-raw", "-symbolize=none", f.name], capture_output=True,
                           timeout=120)
    check(r.returncode == 0, "go tool pprof -raw failed: " + r.stderr.decode(errors="replace"))
    lines = r.stdout.decode(errors="replace").splitlines()
    check(any(l.strip() == "samples/count cpu/nanoseconds" for l in lines),
          "the pprof's sample types are not samples/count, cpu/nanoseconds")
    section, samples, locs, maps, cur = None, [], {}, {}, None
    for line in lines:
        if line.startswith("Samples:"):
            section = "s"
            continue
        if line.startswith("Locations"):
            section = "l"
            continue
        if line.startswith("Mappings"):
            section = "m"
            continue
        if section == "s":
            m = _SAMPLE.match(line)
            if m:
                cur = {"v": (int(m.group(1)), int(m.group(2))),
                       "locs": [int(x) for x in m.group(3).split()], "labels": {}}
                samples.append(cur)
            elif cur is not None:
                for k, v in _LABEL.findall(line):
                    cur["labels"][k] = v
        elif section == "l":
            m = _LOC.match(line)
            if m:
                locs[int(m.group(1))] = (int(m.group(2), 16), int(m.group(3) or 0))
        elif section == "m":
            m = _MAP.match(line)
            if m:
                maps[int(m.group(1))] = (m.group(5) or m.group(4), int(m.group(2), 16),
                                         int(m.group(3), 16))
    out = {}
    for s in samples:
        stack = tuple(file_address(maps.get(locs[l][1]), locs[l][0]) for l in s["locs"])
        key = (int(s["labels"].get("pid", 0)), int(s["labels"].get("tid", 0)),
               s["labels"].get("comm", ""), stack)
        acc = out.setdefault(key, [0, 0])
        acc[0] += s["v"][0]
        acc[1] += s["v"][1]
    return out


def totals(samples):
    return [sum(v[0] for v in samples.values()), sum(v[1] for v in samples.values())]


def merge_into(acc, samples):
    for k, v in samples.items():
        a = acc.setdefault(k, [0, 0])
        a[0] += v[0]
        a[1] += v[1]
    return acc


# ---- what the receivers got ------------------------------------------------

def labels_of(series):
    return {l.name: l.value for l in series.labels}


def pyroscope_window(req):
    """(window id, {service: labels}, samples) of one PushRequest."""
    ids, services, acc = set(), {}, {}
    for s in req.series:
        lab = labels_of(s)
        notes = {a.key: a.value for a in s.annotations}
        check(len(s.samples) == 1, f"a series with {len(s.samples)} samples")
        ids.add(notes.get("ember.window_id"))
        ids.add(s.samples[0].ID)
        raw = s.samples[0].raw_profile
        check(raw[:2] == b"\x1f\x8b", "raw_profile is not gzip")
        smp = pprof_samples(raw)
        services[lab.get("service_name")] = (lab, smp)
        merge_into(acc, smp)
    check(len(ids) == 1, f"one push names several windows: {ids}")
    return ids.pop(), services, acc


def otlp_attr(kv):
    v = kv.value
    which = v.WhichOneof("value")
    return getattr(v, which) if which else None


def otlp_window(req):
    """(set of profile ids, [resource attribute dicts], samples by type) of
    an ExportProfilesServiceRequest, decoded through its dictionary; checks
    every table's zero entry and one sample type per Profile."""
    d = req.dictionary
    st = d.string_table
    check(len(st) > 0 and st[0] == "", "string_table[0] is not the empty string")
    for name in ("mapping_table", "location_table", "function_table", "link_table",
                 "attribute_table", "stack_table"):
        table = getattr(d, name)
        check(len(table) > 0, f"{name} has no zero entry")
        check(table[0].ByteSize() == 0, f"{name}[0] is not the zero value: {table[0]}")
    by_type, ids, resources = {}, set(), []
    for rp in req.resource_profiles:
        attrs = {kv.key: otlp_attr(kv) for kv in rp.resource.attributes}
        resources.append(attrs)
        for sp in rp.scope_profiles:
            for p in sp.profiles:
                check(len(p.profile_id) == 16 and any(p.profile_id),
                      f"profile_id is not 16 non-zero bytes: {p.profile_id!r}")
                ids.add(bytes(p.profile_id))
                t = (st[p.sample_type.type_strindex], st[p.sample_type.unit_strindex])
                acc = by_type.setdefault(t, {})
                for s in p.samples:
                    check(len(s.values) == 1, "a sample with more than one value")
                    stack = []
                    for li in d.stack_table[s.stack_index].location_indices:
                        loc = d.location_table[li]
                        m = d.mapping_table[loc.mapping_index]
                        bid = [otlp_attr(d.attribute_table[i]) for i in m.attribute_indices
                               if st[d.attribute_table[i].key_strindex]
                               == "process.executable.build_id.gnu"]
                        stack.append(file_address(
                            ((bid[0] if bid else st[m.filename_strindex]), m.memory_start,
                             m.file_offset) if loc.mapping_index else None, loc.address))
                    sattrs = {}
                    for ai in s.attribute_indices:
                        a = d.attribute_table[ai]
                        sattrs[st[a.key_strindex]] = otlp_attr(a)
                    key = (int(attrs.get("process.pid", 0)), int(sattrs.get("thread.id", 0)),
                           attrs.get("process.executable.name", ""), tuple(stack))
                    acc[key] = acc.get(key, 0) + s.values[0]
    return ids, resources, by_type


def otlp_as_pprof_samples(by_type):
    """The OTLP samples in pprof_samples' shape: {key: [count, cpu ns]}."""
    out = {}
    counts = by_type.get(("samples", "count"), {})
    cpu = by_type.get(("cpu", "nanoseconds"), {})
    for k in set(counts) | set(cpu):
        out[k] = [counts.get(k, 0), cpu.get(k, 0)]
    return out


def record(path, seconds=2, target=("-a",), freq=199):
    r = subprocess.run([EMBER, "record", *target, "-F", str(freq), "-d", str(seconds), "-o", path],
                       capture_output=True, timeout=120)
    check(r.returncode == 0, "ember record failed: " + r.stderr.decode(errors="replace"))


def run_ember(args, env=None, timeout=120):
    e = dict(os.environ)
    for k in list(e):
        if k.startswith("OTEL_") or k.startswith("EMBER_PUSH"):
            del e[k]
    e.update(env or {})
    return subprocess.run([EMBER, *args], capture_output=True, timeout=timeout, env=e)


# ---- ember serve's windows against what arrived ------------------------------

def stored_windows(serve):
    """[{id, start_ms, end_ms, samples, ...}] of the store, oldest first."""
    import json
    status, body, _ = serve.get(f"/api/v1/profiles?start=0&end={int(time.time()) + 3600}")
    check(status == 200, f"/api/v1/profiles answered {status}: {body[:200]!r}")
    return json.loads(body)["profiles"] if body.startswith(b"{") else json.loads(body)


def arrivals(rv):
    """({window id: [samples of each Pyroscope push]}, {start ms: [samples of
    each OTLP export]}) of every acknowledged push so far."""
    pyro, otlp = {}, {}
    for path, _, msg, _, status in list(rv.requests):
        if status != 200 or msg is None:
            continue
        if path == PYRO_PATH:
            wid, _, acc = pyroscope_window(msg)
            pyro.setdefault(wid, []).append(acc)
        else:
            _, _, by_type = otlp_window(msg)
            starts = {p.time_unix_nano // 1000000 for rp in msg.resource_profiles
                      for sp in rp.scope_profiles for p in sp.profiles}
            check(len(starts) == 1, f"one export holds profiles of several windows: {starts}")
            otlp.setdefault(starts.pop(), []).append(otlp_as_pprof_samples(by_type))
    return pyro, otlp


def check_every_window_once(serve, rv, windows, what):
    """Each stored window reached both receivers exactly once, with the
    stored window's samples and CPU totals."""
    pyro, otlp = arrivals(rv)
    for w in windows:
        check(len(pyro.get(w["id"], [])) == 1,
              f"{what}: window {w['id']} reached Pyroscope {len(pyro.get(w['id'], []))} times")
        check(len(otlp.get(w["start_ms"], [])) == 1,
              f"{what}: window {w['id']} reached OTLP {len(otlp.get(w['start_ms'], []))} times")
        status, body, _ = serve.get(f"/api/v1/profiles/{w['id']}")
        check(status == 200, f"{what}: /api/v1/profiles/{w['id']} answered {status}")
        ref = pprof_samples(body)
        check(pyro[w["id"]][0] == ref,
              f"{what}: window {w['id']}: Pyroscope got totals {totals(pyro[w['id']][0])}, "
              f"stored {totals(ref)} (or other stacks)")
        check(otlp[w["start_ms"]][0] == ref,
              f"{what}: window {w['id']}: OTLP got totals {totals(otlp[w['start_ms']][0])}, "
              f"stored {totals(ref)} (or other stacks)")
    extra = set(pyro) - {w["id"] for w in windows}
    check(not extra, f"{what}: Pyroscope got windows the store does not hold: {sorted(extra)}")


def push_metric(serve, name, **labels):
    """The value of one ember_push_* sample from /metrics."""
    status, body, _ = serve.get("/metrics")
    check(status == 200, f"/metrics answered {status}")
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in body.decode().splitlines():
        if line.startswith(name + "{") and line.split("}")[0][len(name) + 1:] == want:
            return float(line.rsplit(" ", 1)[1])
    fail(f"/metrics has no {name}{{{want}}}")


def wait_for(cond, timeout, what):
    """Polls cond() every 0.25 s; fails the test after timeout seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.25)
    fail(f"{what}: not within {timeout}s")
