"""push/serve: `ember serve -p <split>` with --window 1s pushing to test
receivers for Pyroscope and OTLP that decode with the upstream schemas.

  - every stored window reaches each receiver exactly once, and its decoded
    samples and CPU totals equal the stored window's (/api/v1/profiles/{id},
    read by go tool pprof);
  - a 429 with Retry-After: 3 is waited out (the next try >= 3 s later) and
    ember_push_lag_seconds rises past 2 s meanwhile, then falls back;
  - the ember_push_* metrics count what arrived;
  - with the receiver down and --storage.retention 2s, windows removed
    before they were sent are counted as ember_push_dropped_total{reason=
    "retention"}; when the receiver returns the lag falls to 0; the log says
    the outage once and its end once."""
import os
import time

from pushlib import (PYRO_PATH, Receiver, Serve, check, check_every_window_once, cleanup,
                     push_metric, rmtree, stored_windows, tmpdir, wait_for, workload)


def lag(serve, dest):
    return push_metric(serve, "ember_push_lag_seconds", destination=dest)


def delivery(tmp):
    rv = Receiver()
    w = workload(40, 2)
    s = Serve(["-p", str(w.pid)], os.path.join(tmp, "store"), extra=[
        "-F", "199", "--push.pyroscope.url", rv.url(), "--push.otlp.endpoint", rv.url(),
        "--push.labels", "env=ci"]).start()
    wait_for(lambda: len(rv.got(PYRO_PATH)) >= 3, 20, "3 windows pushed")
    # a 429 with Retry-After: the next try waits it out; the lag rises and falls
    rv.script.append((PYRO_PATH, 429, {"Retry-After": "3"}))
    lags, t_end = [], time.monotonic() + 5
    while time.monotonic() < t_end:
        lags.append(lag(s, "pyroscope"))
        time.sleep(0.25)
    wait_for(lambda: lag(s, "pyroscope") < 1.5, 15, "the lag back under 1.5 s")
    status = s.stop()
    check(status == 0, f"ember serve exited {status}:\n{s.output()}")
    # read the store back through a fresh serve (no push): what did arrive?
    q = Serve(["-p", str(w.pid)], os.path.join(tmp, "store")).start()
    windows = stored_windows(q)
    check(len(windows) >= 6, f"only {len(windows)} windows stored")
    pyro = [r for r in rv.requests if r[0] == PYRO_PATH]
    i429 = [i for i, r in enumerate(pyro) if r[4] == 429]
    check(len(i429) == 1, f"{len(i429)} answers of 429")
    gap = pyro[i429[0] + 1][3] - pyro[i429[0]][3]
    check(gap >= 2.9, f"the try after a 429 with Retry-After: 3 came {gap:.2f}s later")
    check(max(lags) >= 2.0, f"the lag never rose past 2 s while a window waited: {lags}")
    check_every_window_once(q, rv, windows, "delivery")
    print(f"push/serve: {len(windows)} windows, each once at both receivers with equal samples; "
          f"429 waited {gap:.2f}s; lag rose to {max(lags):.2f}s and fell")
    q.stop()
    rv.down()
    return s


def retention(tmp):
    rv = Receiver()
    rv.down()
    w = workload(30, 1)
    s = Serve(["-p", str(w.pid)], os.path.join(tmp, "store2"), extra=[
        "--push.pyroscope.url", rv.url(), "--storage.retention", "2s"]).start()
    wait_for(lambda: push_metric(s, "ember_push_dropped_total", destination="pyroscope",
                                 reason="retention") >= 2, 25, "2 windows dropped by retention")
    check(lag(s, "pyroscope") > 0, "no lag while the receiver is down")
    rv.up()
    # the next try (backoff: at most 10 s) finds the windows younger than 2 s
    wait_for(lambda: push_metric(s, "ember_push_windows_total", destination="pyroscope",
                                 result="sent") >= 1, 30, "a window sent once the receiver returned")
    wait_for(lambda: lag(s, "pyroscope") < 1.5, 15, "the lag back down once the receiver returned")
    sent = push_metric(s, "ember_push_windows_total", destination="pyroscope", result="sent")
    dropped = push_metric(s, "ember_push_dropped_total", destination="pyroscope",
                          reason="retention")
    status = s.stop()
    log = s.output()
    check(status == 0, f"ember serve exited {status}:\n{log}")
    # the outage and its end are said once each, not per try
    check(log.count("retrying window") == 1 and "delivering again" in log,
          f"the log does not say the receiver was down, once, then back:\n{log}")
    check(log.count("removed by retention before it could be sent") == 1,
          f"retention drops not said once:\n{log}")
    rv.down()
    print(f"push/serve: receiver down, retention 2s: {dropped:.0f} windows counted as "
          f"dropped (retention), {sent:.0f} sent once it returned")


def main():
    tmp = tmpdir("ember-push-serve-")
    try:
        delivery(tmp)
        retention(tmp)
    finally:
        cleanup()
        rmtree(tmp)
    print("push/serve: ok")


if __name__ == "__main__":
    main()
