"""tests/server/user_drop.py — ember serve without root, two ways, against a
split workload running as root from a directory the user cannot enter (so
reading its binary and kernel symbols needs the kept capabilities, not the
user's own rights):
  1. started as root with --user ember-test: every thread runs as the user,
     the sampling thread holds exactly cap_sys_ptrace, cap_dac_read_search,
     cap_checkpoint_restore and cap_syslog, the HTTP threads (libmicrohttpd's
     and the request deadline's watchdog, started before the drop) none; no_new_privs on sampler and worker; it samples, symbolizes split_a/b/c, stores windows the user owns;
  2. started as the user by setpriv with the README's capabilities as ambient
     capabilities (cap_perfmon for -a at perf_event_paranoid 2): it samples
     and serves; the same without cap_perfmon fails with one clear line;
  3. refusals: an unknown user (exit 2), a storage directory the user cannot
     write (exit 1, names the fix), --user when not started as root (exit 2),
     --user with -- COMMAND (exit 2)."""
import os
import shutil
import subprocess
import tempfile
import time

from accesslib import (EMBER, check, cleanup, ensure_user, fail, free_port, get, parse_metrics,
                       read_log, rmtree, run, spawn, stop, tmpdir, TEST_USER)

KEPT = {19: "cap_sys_ptrace", 2: "cap_dac_read_search", 40: "cap_checkpoint_restore",
        34: "cap_syslog"}
README_CAPS = "+perfmon,+sys_ptrace,+dac_read_search,+checkpoint_restore,+syslog"


def status_fields(path):
    out = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def wait_http(proc, port, log, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            fail(f"ember serve exited with {proc.returncode} at start:\n{read_log(log)}")
        try:
            if get(f"http://127.0.0.1:{port}/healthz", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    fail("ember serve did not answer /healthz in time:\n" + read_log(log))


def samples_and_symbols(port, d, what):
    """Waits for a stored window; checks samples counted, none lost, and the
    split functions named in the merged profile."""
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        _, body, _ = get(base + "/api/v1/profiles")
        if body.count(b'"id"') >= 2:
            break
        time.sleep(0.3)
    else:
        fail(f"{what}: fewer than 2 windows stored in 20 s")
    m = parse_metrics(get(base + "/metrics")[1].decode())
    check(m.get("ember_samples_total", 0) > 0, f"{what}: no samples: {m.get('ember_samples_total')}")
    check(m.get("ember_samples_lost_total", 0) == 0, f"{what}: samples lost")
    top = ""
    deadline = time.monotonic() + 25   # split_c is 20 %: wait until it has samples
    while time.monotonic() < deadline:
        status, body, _ = get(f"{base}/api/v1/merge?start=0&end={int(time.time()) + 5}")
        check(status == 200, f"{what}: /api/v1/merge answered {status}")
        path = os.path.join(d, "merged.pb.gz")
        with open(path, "wb") as f:
            f.write(body)
        top = run([EMBER, "export", path, "--format", "top"]).stdout.decode(errors="replace")
        if all(fn in top for fn in ("split_a", "split_b", "split_c")):
            kernel = [ln for ln in top.splitlines() if "[kernel.kallsyms]" in ln]
            check(not kernel or any("kernel.kallsyms]+0x" not in ln for ln in kernel),
                  f"{what}: no kernel frame named (cap_syslog for /proc/kallsyms?):\n{top[:1500]}")
            return
        time.sleep(1)
    fail(f"{what}: split_a/b/c not all symbolized (maps or binary of a root process "
         f"unreadable?):\n{top[:1500]}")


def main():
    uid, gid = ensure_user()
    d = tmpdir("ember-user-")
    os.chmod(d, 0o755)
    try:
        # The workload runs as root from a directory only root can enter, so
        # the user cannot read its binary: symbolizing it takes the kept
        # capabilities (cap_dac_read_search, or map_files with
        # cap_checkpoint_restore).
        private = os.path.join(d, "private")
        os.mkdir(private, 0o700)
        split = os.path.join(private, "split")
        shutil.copy(os.environ["EMBER_WORKLOAD_SPLIT"], split)
        w = spawn([split, "60", "1"], stdout=subprocess.DEVNULL)
        # 1. root drops to the user
        store = os.path.join(d, "store")
        os.mkdir(store)
        os.chown(store, uid, gid)
        port = free_port()
        log = tempfile.TemporaryFile()
        p = spawn([EMBER, "serve", "-p", str(w.pid), "-F", "199", "--window", "1s",
                   "--listen", f"127.0.0.1:{port}", "--storage.path", store,
                   "--user", TEST_USER], stdout=log, stderr=log)
        wait_http(p, port, log)
        tasks = os.listdir(f"/proc/{p.pid}/task")
        check(len(tasks) >= 3, f"only {len(tasks)} threads")
        want = sum(1 << b for b in KEPT)
        seen_http_thread = False
        for t in tasks:
            try:
                st = status_fields(f"/proc/{p.pid}/task/{t}/status")
            except FileNotFoundError:
                continue   # ended since the listing (a connection's thread)
            check(st["Uid"].split() == [str(uid)] * 4, f"thread {t} Uid {st['Uid']}")
            check(st["Gid"].split() == [str(gid)] * 4, f"thread {t} Gid {st['Gid']}")
            eff, prm = int(st["CapEff"], 16), int(st["CapPrm"], 16)
            check(int(st["CapInh"], 16) == 0 and int(st["CapAmb"], 16) == 0,
                  f"thread {t} inheritable/ambient caps")
            if st["Name"].startswith(("MHD", "http-deadline")):   # the HTTP server's
                seen_http_thread = True
                check(eff == 0 and prm == 0, f"HTTP thread {st['Name']} has caps {eff:x}")
            else:   # per thread: set by the drop on the thread that becomes the sampler
                check(st["NoNewPrivs"] == "1", f"thread {t} without no_new_privs")
                check(eff == want and prm == want,
                      f"thread {t} ({st['Name']}) caps {eff:x}/{prm:x}, want {want:x}")
        check(seen_http_thread, "no MHD thread seen")
        check(int(status_fields(f"/proc/{p.pid}/status")["CapEff"], 16) == want,
              "main thread caps")
        check(f"running as {TEST_USER}" in read_log(log), "no 'running as' line")
        samples_and_symbols(port, d, "--user")
        check(stop(p) == 0, "serve --user did not exit 0:\n" + read_log(log))
        files = os.listdir(store)
        check(files, "nothing stored")
        for fn in files:
            check(os.stat(os.path.join(store, fn)).st_uid == uid, f"{fn} not owned by the user")

        # 2. started as the user with the README's capabilities
        store2 = os.path.join(d, "store2")
        os.mkdir(store2)
        os.chown(store2, uid, gid)

        def as_user(caps, port, log):
            return spawn(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                          f"--inh-caps={caps}", f"--ambient-caps={caps}", "--",
                          EMBER, "serve", "-a", "-F", "99", "--window", "1s",
                          "--listen", f"127.0.0.1:{port}", "--storage.path", store2],
                         stdout=log, stderr=log)
        port = free_port()
        log = tempfile.TemporaryFile()
        p = as_user(README_CAPS, port, log)
        wait_http(p, port, log)
        samples_and_symbols(port, d, "setpriv with the README capabilities")
        check(stop(p) == 0, "serve as the user did not exit 0:\n" + read_log(log))
        with open("/proc/sys/kernel/perf_event_paranoid") as f:
            paranoid = int(f.read())
        if paranoid >= 1:   # -a needs cap_perfmon then; show it is the one missing
            log = tempfile.TemporaryFile()
            p = as_user(README_CAPS.replace("+perfmon,", ""), free_port(), log)
            try:
                rc = p.wait(timeout=30)
            except Exception:
                fail("serve without cap_perfmon did not exit")
            out = read_log(log)
            check(rc == 1 and "perf_event_open" in out,
                  f"without cap_perfmon: exit {rc}, want 1 and a perf_event_open line:\n{out}")

        # 3. refusals
        r = run([EMBER, "serve", "-p", str(w.pid), "--user", "no-such-ember-user"])
        check(r.returncode == 2 and b"no such user" in r.stderr, f"unknown user: {r}")
        root_store = os.path.join(d, "root-store")
        os.mkdir(root_store, 0o755)
        r = run([EMBER, "serve", "-p", str(w.pid), "--listen", f"127.0.0.1:{free_port()}",
                 "--storage.path", root_store, "--user", TEST_USER], timeout=30)
        err = r.stderr.decode(errors="replace")
        check(r.returncode == 1 and "not writable" in err and "chown" in err,
              f"unwritable storage: exit {r.returncode}: {err}")
        r = run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--",
                 EMBER, "serve", "-p", str(w.pid), "--listen", f"127.0.0.1:{free_port()}",
                 "--storage.path", store2, "--user", TEST_USER], timeout=30)
        err = r.stderr.decode(errors="replace")
        check(r.returncode == 2 and "started as root" in err, f"--user without root: {err}")
        r = run([EMBER, "serve", "--user", TEST_USER, "--", "true"])
        check(r.returncode == 2 and b"--user with -- COMMAND" in r.stderr, f"--user + command: {r}")
        w.kill()
    finally:
        cleanup()
        rmtree(d)
    print("ok: --user drop and running on capabilities alone")


if __name__ == "__main__":
    main()
