"""push/outage (heavy): the store is the spool. `ember serve -p <split>
--window 1s` pushes to test receivers for Pyroscope and OTLP (upstream
schemas) while:

  1. the receivers are down for 30 s, then back: sampling goes on (a window
     stored every second of the outage), ember_push_lag_seconds rises past
     25 s and falls back under 2 s once they return;
  2. the receivers go down again and ember serve is restarted during the
     outage: the new process resumes from the cursors;
and in the end every stored window reached each receiver exactly once, with
the stored window's samples and CPU totals."""
import os
import time

from pushlib import (PYRO_PATH, Receiver, Serve, check, check_every_window_once, cleanup,
                     push_metric, rmtree, stored_windows, tmpdir, wait_for, workload)

OUTAGE_S = 30


def lag(serve):
    return max(push_metric(serve, "ember_push_lag_seconds", destination=d)
               for d in ("pyroscope", "otlp"))


def main():
    tmp = tmpdir("ember-push-outage-")
    rv = Receiver()
    store = os.path.join(tmp, "store")
    try:
        w = workload(OUTAGE_S + 60, 1)
        extra = ["--push.pyroscope.url", rv.url(), "--push.otlp.endpoint", rv.url()]
        s = Serve(["-p", str(w.pid)], store, extra=extra).start()
        wait_for(lambda: len(rv.got(PYRO_PATH)) >= 2, 20, "2 windows pushed")
        rv.down()
        t0 = time.time()
        time.sleep(OUTAGE_S)
        peak = lag(s)
        check(peak >= OUTAGE_S - 5, f"lag {peak:.1f}s after a {OUTAGE_S}s outage")
        rv.up()
        t1 = time.monotonic()
        wait_for(lambda: lag(s) < 2, 40, "the lag back under 2 s after the outage")
        caught_up = time.monotonic() - t1
        # 2: down again, restart ember during the outage
        rv.down()
        time.sleep(4)
        check(s.stop() == 0, "ember serve did not stop cleanly:\n" + s.output())
        s = Serve(["-p", str(w.pid)], store, extra=extra).start()
        time.sleep(3)
        check(lag(s) >= 3, f"the restarted serve shows lag {lag(s):.1f}s during the outage")
        rv.up()
        wait_for(lambda: lag(s) < 2, 40, "the lag back under 2 s after the restart")
        check(s.stop() == 0, "ember serve did not stop cleanly:\n" + s.output())
        q = Serve(["-p", str(w.pid)], store).start()
        windows = stored_windows(q)
        in_outage = [x for x in windows if t0 * 1000 <= x["start_ms"] < (t0 + OUTAGE_S) * 1000 - 1000]
        check(len(in_outage) >= OUTAGE_S - 3,
              f"only {len(in_outage)} windows stored during a {OUTAGE_S}s outage: sampling waited")
        check_every_window_once(q, rv, windows, "outage")
        q.stop()
        print(f"push/outage: {len(windows)} windows, each once at both receivers with equal "
              f"samples; lag peaked at {peak:.1f}s after {OUTAGE_S}s down, back under 2s "
              f"{caught_up:.1f}s after the receivers returned; a restart during an outage "
              f"resumed from the cursors")
    finally:
        rv.down()
        cleanup()
        rmtree(tmp)
    print("push/outage: ok")


if __name__ == "__main__":
    main()
