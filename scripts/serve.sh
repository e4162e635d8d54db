#!/bin/bash
# scripts/serve.sh [ember serve flags...] — the quick start's first command:
# install what building ember needs (scripts/deps.sh --build: not the tests'
# packages), build it, and run `ember serve` profiling the
# whole machine (-a) in the foreground. Extra arguments go to `ember serve`
# (e.g. `-p PID`, `--listen 0.0.0.0:9464`); so do EMBER_* variables.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --build
bash scripts/build.sh build
listen=${EMBER_LISTEN:-127.0.0.1:9464}
prev=
for a in "$@"; do   # the address --listen gives, for the hints below
  case $a in --listen=*) listen=${a#--listen=} ;; esac
  [ "$prev" = --listen ] && listen=$a
  prev=$a
done
cat >&2 <<MSG
ember: starting \`ember serve $*\` (Ctrl-C stores the current window and stops)
  Prometheus:     scrape http://$listen/metrics  (deploy/prometheus/prometheus.yml,
                  run it with --enable-feature=exemplar-storage)
  go tool pprof:  go tool pprof -http=: 'http://$listen/debug/pprof/profile?seconds=30'
  stored windows: http://$listen/  and  http://$listen/api/v1/profiles
MSG
exec build/cli/ember serve "$@"
