#!/bin/bash
# fuzz/run.sh [SECONDS] [TARGET...] — build the libFuzzer targets with clang,
# ASan and UBSan, and run each for SECONDS (default 30) on a copy of its seed
# corpus. Exits non-zero if any target finds a crash, leak or sanitizer
# report; the reproducer is left in build-fuzz/findings/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
shift || true
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dwerror=true >/dev/null
fi
ninja -C build-fuzz >/dev/null
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=($(cd fuzz && ls fuzz_*.c | sed 's/\.c$//'))
fi
mkdir -p build-fuzz/findings
status=0
for t in "${targets[@]}"; do
  work=build-fuzz/corpus-$t
  mkdir -p "$work"
  seeds=fuzz/corpus/${t#fuzz_}
  [ -d "$seeds" ] && cp -n "$seeds"/* "$work"/ 2>/dev/null || true
  echo "fuzz: $t for ${secs}s" >&2
  if ! "build-fuzz/fuzz/$t" -max_total_time="$secs" -max_len=65536 -timeout=10 \
       -artifact_prefix="build-fuzz/findings/$t-" "$work" >"build-fuzz/$t.log" 2>&1; then
    echo "fuzz: $t FAILED; see build-fuzz/$t.log and build-fuzz/findings/" >&2
    tail -30 "build-fuzz/$t.log" >&2
    status=1
  else
    grep -E "^#[0-9]+.*DONE" "build-fuzz/$t.log" | tail -1 >&2 || true
  fi
done
exit $status
