#!/bin/bash
# bench/load.sh — `ember serve` under HTTP load (issue 8): wrk against
# /metrics and /api/v1/merge at once (half the connections each) while
# ember samples every CPU and a busy workload (tests/workloads/split, 2
# threads) keeps both CPUs loaded. Reports requests, failed requests
# (non-2xx + socket errors), p50/p99 latency per endpoint and samples lost
# or windows dropped meanwhile; exits 1 on any failed request or lost
# sample. The peer: then /metrics alone with half the connections, ember's
# and Prometheus's own (a Go net/http server on the same machine), in the
# same run while ember keeps sampling; ratios ember / Prometheus.
#
#   bench/load.sh                         # 100 connections, 30 s (the bench)
#   LOAD_SECONDS=3 LOAD_CONNECTIONS=20 LOAD_PEER=0 bench/load.sh   # the test
#
# Env: EMBER (default build/cli/ember), SPLIT (build/tests/workloads/split),
# LOAD_SECONDS, LOAD_CONNECTIONS, LOAD_PEER (1: measure Prometheus too).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
EMBER=${EMBER:-$here/build/cli/ember}
SPLIT=${SPLIT:-${EMBER_WORKLOAD_SPLIT:-$here/build/tests/workloads/split}}
secs=${LOAD_SECONDS:-30}
conns=${LOAD_CONNECTIONS:-100}
peer=${LOAD_PEER:-1}
half=$((conns / 2))
for t in wrk curl "$EMBER" "$SPLIT"; do
	command -v "$t" >/dev/null || { echo "load.sh: $t not found (scripts/deps.sh, ninja -C build)" >&2; exit 1; }
done
tmp=$(mktemp -d /tmp/ember-load.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
metric() { # NAME: summed value of a metric family in $tmp/metrics
	awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%d", s }' "$tmp/metrics"
}
# wrk output -> "requests failed p50_ms p99_ms rps"
wrk_summary() {
	awk '
	function ms(v) {
		if (v ~ /us$/) return v * 0.001; if (v ~ /ms$/) return v + 0;
		if (v ~ /m$/) return v * 60000; if (v ~ /s$/) return v * 1000; return v }
	/requests in/ { req = $1 }
	/Non-2xx or 3xx responses:/ { fail += $NF }
	/Socket errors:/ { gsub(",", ""); fail += $4 + $6 + $8 + $10 }
	$1 == "50%" { p50 = ms($2) }
	$1 == "99%" { p99 = ms($2) }
	/Requests\/sec:/ { rps = $2 }
	END { printf "%d %d %.2f %.2f %.0f\n", req, fail + 0, p50, p99, rps }' "$1"
}

"$SPLIT" $((secs + 30)) 2 >/dev/null & pids+=($!)
port=$(free_port)
"$EMBER" serve -a -F 99 --window 1s --listen "127.0.0.1:$port" --storage.path "$tmp/store" \
	--web.max-connections $((conns + 28)) --web.max-connections-per-ip $((conns + 16)) \
	2>"$tmp/serve.log" & serve=$!; pids+=($serve)
base=http://127.0.0.1:$port
for _ in $(seq 100); do
	curl -sf "$base/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done
sleep 4   # a few stored windows for /api/v1/merge
t0=$(date +%s)
merge="$base/api/v1/merge?start=$((t0 - 4))&end=$((t0 - 1))"
for i in $(seq 100); do   # until the last of them is stored
	curl -sf -o /dev/null "$merge" && break
	[ "$i" = 100 ] && { echo "load.sh: $merge failed before the load" >&2; exit 1; }
	sleep 0.2
done
curl -sf "$base/metrics" >"$tmp/metrics"
lost0=$(metric ember_samples_lost_total); dropped0=$(metric ember_windows_dropped_total)
samples0=$(metric ember_samples_total)

wrk -t2 -c"$half" -d"${secs}s" --timeout 10s --latency "$base/metrics" >"$tmp/wrk_metrics" &
w1=$!
wrk -t2 -c"$half" -d"${secs}s" --timeout 10s --latency "$merge" >"$tmp/wrk_merge" &
w2=$!
wait $w1 $w2
curl -sf "$base/metrics" >"$tmp/metrics"
lost=$(( $(metric ember_samples_lost_total) - lost0 ))
dropped=$(( $(metric ember_windows_dropped_total) - dropped0 ))
samples=$(( $(metric ember_samples_total) - samples0 ))
read -r m_req m_fail m_p50 m_p99 m_rps < <(wrk_summary "$tmp/wrk_metrics")
read -r g_req g_fail g_p50 g_p99 g_rps < <(wrk_summary "$tmp/wrk_merge")

# The peer comparison: /metrics alone with half the connections, ember and
# then Prometheus, while ember keeps sampling and split keeps the CPUs busy.
p_line=""
a_fail=0
if [ "$peer" = 1 ] && command -v prometheus >/dev/null; then
	wrk -t2 -c"$half" -d"${secs}s" --timeout 10s --latency "$base/metrics" >"$tmp/wrk_alone"
	read -r a_req a_fail a_p50 a_p99 a_rps < <(wrk_summary "$tmp/wrk_alone")
	pport=$(free_port)
	printf 'global:\n  scrape_interval: 1h\n' >"$tmp/prom.yml"
	prometheus --config.file "$tmp/prom.yml" --storage.tsdb.path "$tmp/prom" \
		--web.listen-address "127.0.0.1:$pport" >"$tmp/prom.log" 2>&1 & pids+=($!)
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$pport/-/ready" >/dev/null 2>&1 && break
		sleep 0.1
	done
	wrk -t2 -c"$half" -d"${secs}s" --timeout 10s --latency "http://127.0.0.1:$pport/metrics" \
		>"$tmp/wrk_prom"
	read -r p_req p_fail p_p50 p_p99 p_rps < <(wrk_summary "$tmp/wrk_prom")
	p_line="| ember /metrics alone ($half conns) | $a_req | $a_rps | $a_fail | $a_p50 | $a_p99 |
| Prometheus /metrics alone ($half conns, peer) | $p_req | $p_rps | $p_fail | $p_p50 | $p_p99 |"
fi
kill "$serve"; wait "$serve" || { echo "load.sh: ember serve exited non-zero:" >&2; cat "$tmp/serve.log" >&2; exit 1; }

echo "## load: $conns connections for ${secs} s ($half on each endpoint), ember serve -a -F 99 --window 1s, split x2 busy"
echo
echo "| endpoint | requests | req/s | failed | p50 ms | p99 ms |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
echo "| ember /metrics | $m_req | $m_rps | $m_fail | $m_p50 | $m_p99 |"
echo "| ember /api/v1/merge (3 windows) | $g_req | $g_rps | $g_fail | $g_p50 | $g_p99 |"
[ -n "$p_line" ] && echo "$p_line"
echo
echo "samples during the load: $samples; lost: $lost; windows dropped: $dropped"
if [ -n "$p_line" ]; then
	awk -v a="$a_p99" -v b="$p_p99" -v x="$a_rps" -v y="$p_rps" 'BEGIN { if (b > 0 && y > 0)
		printf "/metrics alone, ember / Prometheus: p99 %.2f, req/s %.2f\n", a / b, x / y }'
fi
failed=$((m_fail + g_fail + a_fail))
echo "failed requests: $failed"
if [ "$failed" -ne 0 ] || [ "$lost" -ne 0 ] || [ "$dropped" -ne 0 ] || [ "$samples" -le 0 ] ||
	[ "$m_req" -le 0 ] || [ "$g_req" -le 0 ]; then
	echo "load.sh: FAILED (failed requests, lost samples, dropped windows or no traffic)" >&2
	exit 1
fi
