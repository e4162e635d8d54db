"""push/cli: `ember push FILE` to test receivers that decode with the upstream
schemas (tests/push/pushlib.py), and the bad input of both `ember push` and
`ember serve`.

  - bad URL, unknown scheme, missing credentials file, bad labels, a bad
    OTEL_* value: exit 2 with one line, before anything is sent or sampled;
  - a recording of two processes pushed to Pyroscope: one series per comm
    with __name__, service_name = comm and the extra labels, basic auth and
    X-Scope-OrgID, Content-Type application/proto, raw_profile gzip, the
    window id as ID and annotation; the series together hold exactly the
    file's samples (go tool pprof -raw reads both);
  - the same to OTLP through OTEL_EXPORTER_OTLP_ENDPOINT (+ the path),
    OTEL_EXPORTER_OTLP_HEADERS (percent-decoded) and OTEL_RESOURCE_ATTRIBUTES:
    Content-Encoding gzip, resource attributes per process, zero entries,
    one sample type per Profile, 16-byte profile ids; samples equal the file's;
  - --push.service-name wins over OTEL_SERVICE_NAME: one series; a bearer
    token; OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT used as is; the same window
    gets the same profile ids again (the dedup key);
  - OTEL_SERVICE_NAME alone names the service;
  - a 429 with Retry-After: 2 is waited out; a 400 is not retried (exit 1);
    an OTLP partial success is acknowledged and said in one line;
  - a corrupt file, or a receiver that is not there: exit 1, said."""
import base64
import os
import shutil
import time

from pushlib import (PYRO_PATH, OTLP_PATH, SPLIT, Receiver, check, cleanup,
                     otlp_as_pprof_samples, otlp_window, pprof_samples, pyroscope_window, record,
                     rmtree, run_ember, spawn, tmpdir, totals)


def bad_input(tmp):
    cases = [
        (["--push.pyroscope.url", "ftp://example.com"], {}, "unknown scheme 'ftp'"),
        (["--push.pyroscope.url", "localhost:4040"], {}, "not a URL"),
        (["--push.otlp.endpoint", "http://"], {}, "no host"),
        (["--push.otlp.endpoint", "http://host:99999"], {}, "port out of range"),
        (["--push.pyroscope.url", "http://127.0.0.1:1", "--push.pyroscope.basic-auth-file",
          os.path.join(tmp, "missing")], {}, "No such file"),
        (["--push.pyroscope.url", "http://127.0.0.1:1", "--push.labels", "9x=1"], {},
         "bad label name"),
        (["--push.pyroscope.url", "http://127.0.0.1:1", "--push.labels", "service_name=x"], {},
         "set by ember"),
        ([], {"OTEL_EXPORTER_OTLP_ENDPOINT": "gopher://x"}, "unknown scheme 'gopher'"),
        (["--push.otlp.endpoint", "http://127.0.0.1:1"],
         {"OTEL_EXPORTER_OTLP_HEADERS": "api-key=%zz"}, "bad %XX escape"),
        (["--push.otlp.endpoint", "http://127.0.0.1:1", "--push.labels", "a=b"], {},
         "need --push.pyroscope.url"),
    ]
    for args, env, want in cases:
        for cmd in (["push", os.path.join(tmp, "any.pb.gz")],
                    ["serve", "--storage.path", os.path.join(tmp, "store"), "--listen",
                     "127.0.0.1:0"]):
            r = run_ember([*cmd, *args], env=env, timeout=30)
            err = r.stderr.decode(errors="replace")
            check(r.returncode == 2, f"ember {cmd[0]} {args} {env}: exit {r.returncode}, want 2: {err}")
            first = err.splitlines()[0] if err else ""
            check(want in first, f"ember {cmd[0]} {args} {env}: first line {first!r} lacks {want!r}")
            check(len(err.splitlines()) <= 2, f"ember {cmd[0]}: more than one line of error: {err}")
    r = run_ember(["push", os.path.join(tmp, "any.pb.gz")], timeout=30)
    check(r.returncode == 2 and b"no destination" in r.stderr, "push without a destination: "
          + r.stderr.decode(errors="replace"))


def two_process_recording(tmp):
    """A 2 s -a recording while split and a copy of it named split2 run."""
    other = os.path.join(tmp, "split2")
    shutil.copy(SPLIT, other)
    a = spawn([SPLIT, "4", "1"], stdout=open(os.devnull, "w"))
    b = spawn([other, "4", "1"], stdout=open(os.devnull, "w"))
    path = os.path.join(tmp, "rec.pb.gz")
    record(path, seconds=2)
    a.wait(timeout=30)
    b.wait(timeout=30)
    return path


def first_push(rv, path, tmp):
    auth = os.path.join(tmp, "basic")
    with open(auth, "w") as f:
        f.write("tenant-7:s3cret pass\n")
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": rv.url() + "/",
           "OTEL_EXPORTER_OTLP_HEADERS": "api-key=secret%20value, x-team = a%3Db",
           "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test,host.name=node-7"}
    r = run_ember(["push", path, "--push.pyroscope.url", rv.url(),
                   "--push.pyroscope.basic-auth-file", auth, "--push.pyroscope.tenant-id", "team-a",
                   "--push.labels", "env=test,region=eu-1"], env=env)
    check(r.returncode == 0, "ember push failed: " + r.stderr.decode(errors="replace"))
    ref = pprof_samples(open(path, "rb").read())
    comms = {k[2] for k in ref}
    check({"split", "split2"} <= comms, f"the recording lacks the two workloads: {comms}")

    pyro = [q for q in rv.requests if q[0] == PYRO_PATH]
    check(len(pyro) == 1, f"{len(pyro)} Pyroscope requests, want 1")
    _, h, msg, _, status = pyro[0]
    check(status == 200, f"the Pyroscope receiver answered {status}")
    check(h.get("Content-Type") == "application/proto", f"Content-Type {h.get('Content-Type')}")
    check(h.get("Authorization") == "Basic " + base64.b64encode(b"tenant-7:s3cret pass").decode(),
          f"Authorization {h.get('Authorization')}")
    check(h.get("X-Scope-OrgID") == "team-a", f"X-Scope-OrgID {h.get('X-Scope-OrgID')}")
    wid, services, acc = pyroscope_window(msg)
    check(set(services) == comms, f"series {sorted(services)}, want one per comm {sorted(comms)}")
    for svc, (lab, smp) in services.items():
        check(lab == {"__name__": "process_cpu", "service_name": svc, "env": "test",
                      "region": "eu-1"}, f"labels {lab}")
        check({k[2] for k in smp} == {svc}, f"series {svc} holds samples of {({k[2] for k in smp})}")
    check(acc == ref, f"Pyroscope got totals {totals(acc)}, the file has {totals(ref)}")

    otlp = [q for q in rv.requests if q[0].endswith(OTLP_PATH)]
    check(len(otlp) == 1, f"{len(otlp)} OTLP requests, want 1")
    path_, h, msg, _, status = otlp[0]
    check(path_ == OTLP_PATH, f"OTLP path {path_}, want {OTLP_PATH}")
    check(status == 200, f"the OTLP receiver answered {status}")
    check(h.get("Content-Encoding") == "gzip", f"Content-Encoding {h.get('Content-Encoding')}")
    check(h.get("Content-Type") == "application/x-protobuf", f"Content-Type {h.get('Content-Type')}")
    check(h.get("api-key") == "secret value" and h.get("x-team") == "a=b",
          f"OTEL_EXPORTER_OTLP_HEADERS not sent decoded: {h}")
    ids, resources, by_type = otlp_window(msg)
    check(set(by_type) == {("samples", "count"), ("cpu", "nanoseconds")},
          f"sample types {set(by_type)}")
    pids = {k[0] for k in ref}
    procs = {(k[0], k[2]) for k in ref}   # an exec makes another executable
    check(len(resources) == len(procs), f"{len(resources)} resources for {len(procs)} processes")
    for ra in resources:
        check(set(ra) == {"service.name", "host.name", "process.pid", "process.executable.name",
                          "deployment.environment"}, f"resource attributes {ra}")
        check(ra["service.name"] == ra["process.executable.name"], f"service.name {ra}")
        check(ra["host.name"] == "node-7" and ra["deployment.environment"] == "test", f"{ra}")
        check(isinstance(ra["process.pid"], int) and ra["process.pid"] in pids, f"{ra}")
    check(len(ids) == 2 * len(procs), f"{len(ids)} distinct profile ids for {len(procs)} processes")
    got = otlp_as_pprof_samples(by_type)
    check(got == ref, f"OTLP got totals {totals(got)}, the file has {totals(ref)}")
    print(f"push/cli: {len(comms)} comms, {len(procs)} processes, totals {totals(ref)} equal")
    return wid, ids


def second_push(rv, path, tmp, first_ids):
    tok = os.path.join(tmp, "token")
    with open(tok, "w") as f:
        f.write("tok-123\n")
    n0 = len(rv.requests)
    custom = "/custom" + OTLP_PATH
    env = {"OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT": rv.url() + custom,
           "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SERVICE_NAME": "from-env"}
    r = run_ember(["push", path, "--push.pyroscope.url", rv.url() + "/",
                   "--push.pyroscope.bearer-token-file", tok, "--push.service-name", "checkout"],
                  env=env)
    check(r.returncode == 0, "ember push failed: " + r.stderr.decode(errors="replace"))
    new = rv.requests[n0:]
    pyro = [q for q in new if q[0] == PYRO_PATH]
    otlp = [q for q in new if q[0].endswith(OTLP_PATH)]
    check(len(pyro) == 1 and len(otlp) == 1, f"requests {[q[0] for q in new]}")
    check(pyro[0][1].get("Authorization") == "Bearer tok-123", "no bearer token")
    _, services, _ = pyroscope_window(pyro[0][2])
    check(list(services) == ["checkout"], f"series {list(services)}, want one named checkout")
    check(otlp[0][0] == custom, f"OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT not used as is: {otlp[0][0]}")
    ids, resources, _ = otlp_window(otlp[0][2])
    check(all(ra["service.name"] == "checkout" for ra in resources), f"{resources}")
    check(ids == first_ids, "the same window got other profile ids the second time")
    # OTEL_SERVICE_NAME alone
    n0 = len(rv.requests)
    r = run_ember(["push", path, "--push.pyroscope.url", rv.url()],
                  env={"OTEL_SERVICE_NAME": "from-env"})
    check(r.returncode == 0, r.stderr.decode(errors="replace"))
    _, services, _ = pyroscope_window(rv.requests[n0][2])
    check(list(services) == ["from-env"], f"OTEL_SERVICE_NAME: series {list(services)}")


def retries(rv, path):
    n0 = len(rv.requests)
    rv.script.append((PYRO_PATH, 429, {"Retry-After": "2"}))
    r = run_ember(["push", path, "--push.pyroscope.url", rv.url()])
    check(r.returncode == 0, "push after a 429: " + r.stderr.decode(errors="replace"))
    new = rv.requests[n0:]
    check([q[4] for q in new] == [429, 200], f"answers {[q[4] for q in new]}, want 429 then 200")
    gap = new[1][3] - new[0][3]
    check(gap >= 1.9, f"retried {gap:.2f}s after a 429 with Retry-After: 2")
    n0 = len(rv.requests)
    rv.script.append((PYRO_PATH, 400, {}))
    r = run_ember(["push", path, "--push.pyroscope.url", rv.url()])
    check(r.returncode == 1, f"push answered 400: exit {r.returncode}, want 1")
    check(len(rv.requests) - n0 == 1,
          f"a 400 was retried: {[(q[0], q[4]) for q in rv.requests[n0:]]} {r.stderr!r}")
    print(f"push/cli: 429 Retry-After 2 waited {gap:.2f}s; 400 not retried")
    # OTLP partial success: acknowledged (not retried), and said
    rv.otlp_reject = (2, "unsupported sample type")
    n0 = len(rv.requests)
    r = run_ember(["push", path, "--push.otlp.endpoint", rv.url()])
    rv.otlp_reject = None
    err = r.stderr.decode(errors="replace")
    check(r.returncode == 0 and len(rv.requests) - n0 == 1, f"partial success: {err}")
    check("rejected 2 profiles: unsupported sample type" in err, f"partial success unsaid: {err}")


def failures(rv, path, tmp):
    """A corrupt file and a receiver that is not there: exit 1, said, bounded."""
    bad = os.path.join(tmp, "corrupt.pb.gz")
    with open(bad, "wb") as f:
        f.write(b"\x1f\x8b\x08\x00garbage")
    n0 = len(rv.requests)
    r = run_ember(["push", bad, "--push.pyroscope.url", rv.url()])
    err = r.stderr.decode(errors="replace")
    check(r.returncode == 1 and "corrupt.pb.gz" in err, f"corrupt file: exit {r.returncode}: {err}")
    check(len(rv.requests) == n0, "a corrupt file was pushed")
    gone = Receiver()
    gone.down()
    t = time.monotonic()
    r = run_ember(["push", path, "--push.otlp.endpoint", gone.url()], timeout=60)
    took = time.monotonic() - t
    err = r.stderr.decode(errors="replace")
    check(r.returncode == 1, f"push to a closed port: exit {r.returncode}: {err}")
    check("Couldn't connect" in err or "refused" in err.lower(), f"no reason given: {err}")
    check(took < 20, f"push to a closed port took {took:.1f}s")
    print(f"push/cli: corrupt file and closed port: exit 1 ({took:.1f}s of retries)")


def main():
    tmp = tmpdir("ember-push-cli-")
    rv = Receiver()
    try:
        bad_input(tmp)
        path = two_process_recording(tmp)
        _, ids = first_push(rv, path, tmp)
        second_push(rv, path, tmp, ids)
        retries(rv, path)
        failures(rv, path, tmp)
    finally:
        rv.down()
        cleanup()
        rmtree(tmp)
    print("push/cli: ok")


if __name__ == "__main__":
    main()
