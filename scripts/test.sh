#!/bin/bash
# scripts/test.sh — set up and run every ember test: install packages, build,
# run the suite with `meson test`, then run it again under AddressSanitizer
# and UndefinedBehaviorSanitizer. The last line is "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh || { echo "0 passed, 1 failed"; exit 1; }

passed=0 failed=0
run_suite() {   # run_suite BUILDDIR [meson options]
  local dir=$1; shift
  if ! bash scripts/build.sh "$dir" "$@"; then
    echo "build of $dir failed" >&2
    failed=$((failed + 1))
    return
  fi
  meson test -C "$dir" --print-errorlogs --num-processes 1 --timeout-multiplier 3 \
    >"$dir/test-output.txt" 2>&1
  cat "$dir/test-output.txt" | grep -E "^ *[0-9]+/[0-9]+ " || true
  local ok fail
  ok=$(grep -E "^Ok:" "$dir/test-output.txt" | awk '{print $2}')
  fail=$(grep -E "^(Fail|Timeout|Unexpected Pass):" "$dir/test-output.txt" | awk '{s+=$2} END {print s+0}')
  passed=$((passed + ${ok:-0}))
  failed=$((failed + ${fail:-0}))
  if [ "${fail:-0}" != 0 ]; then
    grep -A60 -E "^=+ [0-9]+/[0-9]+ =+$" "$dir/test-output.txt" | tail -200 >&2 || true
  fi
}

run_suite build
if [ "${EMBER_SKIP_SANITIZE:-0}" != 1 ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
