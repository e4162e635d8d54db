#!/bin/bash
# fuzz/run.sh [SECONDS] [TARGET...] — build the libFuzzer targets with clang,
# ASan, UBSan and LeakSanitizer, and run each for SECONDS (default 30) on a
# copy of its seed corpus (fuzz/corpus/NAME for fuzz_NAME). Prints one line
# per target, "fuzz: TARGET ok ..." or "fuzz: TARGET FAILED ...", and exits
# non-zero if any target found a crash, leak, hang or sanitizer report; the
# reproducer is left in build-fuzz/findings/ and the log in build-fuzz/TARGET.log.
# Reproduce a finding with: build-fuzz/fuzz/TARGET build-fuzz/findings/FILE
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
shift || true
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dwerror=true >/dev/null || { echo "fuzz: setup FAILED" >&2; exit 1; }
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=($(cd fuzz && ls fuzz_*.c | sed 's/\.c$//'))
fi
if ! ninja -C build-fuzz $(printf 'fuzz/%s ' "${targets[@]}") >build-fuzz/ninja.log 2>&1; then
  tail -30 build-fuzz/ninja.log >&2
  for t in "${targets[@]}"; do echo "fuzz: $t FAILED (build)"; done
  exit 1
fi
# UBSan reports must stop the run (its default is to print and go on);
# leaks are reported by libFuzzer's LeakSanitizer after each input.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
mkdir -p build-fuzz/findings
status=0
for t in "${targets[@]}"; do
  work=build-fuzz/corpus-$t
  mkdir -p "$work"
  seeds=fuzz/corpus/${t#fuzz_}
  [ -d "$seeds" ] && cp -n "$seeds"/* "$work"/ 2>/dev/null
  # -rss_limit_mb: a hostile input must not make a target balloon either
  if "build-fuzz/fuzz/$t" -max_total_time="$secs" -max_len=65536 -timeout=10 \
       -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="build-fuzz/findings/$t-" "$work" >"build-fuzz/$t.log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "build-fuzz/$t.log")
    echo "fuzz: $t ok: ${execs:-?} executions in ${secs}s, corpus $(ls "$work" | wc -l) inputs"
  else
    echo "fuzz: $t FAILED: see build-fuzz/$t.log and build-fuzz/findings/"
    grep -E "ERROR|runtime error|Assertion|SUMMARY|Test unit written" "build-fuzz/$t.log" | head -8 >&2
    status=1
  fi
done
exit $status
