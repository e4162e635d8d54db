#!/bin/bash
# scripts/serve.sh [ember serve flags...] — the quick start's first command:
# install what ember needs, build it, and run `ember serve` profiling the
# whole machine (-a) in the foreground. Extra arguments go to `ember serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh build
exec build/cli/ember serve "$@"
