#!/usr/bin/env bash
# Run every fuzz target for a bounded time. This is what `cargo xtask test` runs.
#   fuzz/run.sh [SECONDS_PER_TARGET]     (default 20)
# Exits non-zero on the first crash; the reproducer is left in fuzz/artifacts/<target>/.
set -euo pipefail
secs="${1:-20}"
cd "$(dirname "$0")"
for target in $(cargo +nightly fuzz list); do
    echo "== fuzz $target for ${secs}s"
    cargo +nightly fuzz run "$target" -- -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1
done
