#!/bin/bash
# scripts/test.sh — set up and run every ember test: install packages, build,
# run the suite with `meson test`, then run it again under AddressSanitizer
# and UndefinedBehaviorSanitizer (LeakSanitizer on), then run every libFuzzer
# target for EMBER_FUZZ_SECONDS (default 10) each. Each test and each fuzz
# target counts once. The last line is "N passed, N failed".
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
  # tests in the suites "heavy" (containers, browsers, long outages, long
  # load runs) and "bench" run in the plain build only: the sanitizer run
  # adds nothing to them but time (CI stays under 25 minutes)
  local suites=()
  [ "$dir" = build ] || suites=(--no-suite heavy --no-suite bench)
  meson test -C "$dir" "${suites[@]}" --print-errorlogs --num-processes 1 --timeout-multiplier 3 \
    >"$dir/test-output.txt" 2>&1
  cat "$dir/test-output.txt" | grep -E "^ *[0-9]+/[0-9]+ " || true
  local ok fail
  ok=$(grep -E "^Ok:" "$dir/test-output.txt" | awk '{print $2}')
  fail=$(grep -E "^(Fail|Timeout|Unexpected Pass):" "$dir/test-output.txt" | awk '{s+=$2} END {print s+0}')
  passed=$((passed + ${ok:-0}))
  failed=$((failed + ${fail:-0}))
  if [ "${fail:-0}" != 0 ]; then
    # each failed test's log (--print-errorlogs puts it after its FAIL
    # line, up to a closing rule): all of it on stderr, and its end again
    # on stdout before the last line, for a CI that keeps only the tail
    awk '/^Summary of Failures/{exit} /^ *[0-9]+\/[0-9]+ .* (FAIL|TIMEOUT) /{p=1}
         p{print} p&&/^―/&&!/✀/{p=0}' \
      "$dir/test-output.txt" >"$why.$dir" || true
    cat "$why.$dir" >&2
    tail -40 "$why.$dir" >>"$why"
    rm -f "$why.$dir"
  fi
}
why=$(mktemp)
trap 'rm -f "$why"' EXIT

run_suite build
if [ "${EMBER_SKIP_SANITIZE:-0}" != 1 ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false
fi
if [ "${EMBER_SKIP_FUZZ:-0}" != 1 ]; then
  # one ok/FAILED line per target; a build failure fails every target
  fuzzlog=$(mktemp)
  bash fuzz/run.sh "${EMBER_FUZZ_SECONDS:-10}" >"$fuzzlog" 2>&1
  grep -E "^fuzz: " "$fuzzlog" || true
  fuzz_ok=$(grep -cE "^fuzz: [^ ]+ ok" "$fuzzlog")
  fuzz_fail=$(grep -cE "^fuzz: [^ ]+ FAILED" "$fuzzlog")
  [ "$fuzz_ok" = 0 ] && [ "$fuzz_fail" = 0 ] && fuzz_fail=1   # nothing ran at all
  passed=$((passed + fuzz_ok))
  failed=$((failed + fuzz_fail))
  [ "$fuzz_fail" = 0 ] || cat "$fuzzlog" >&2
  rm -f "$fuzzlog"
fi
if [ -s "$why" ]; then
  echo "why the failed tests failed (their logs are above, on stderr):"
  cat "$why"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
