#!/usr/bin/env bash
# The benchmark harness: builds the release binaries and runs scripts/bench.py, which starts
# private Mosquitto brokers, the engine and the simulator and measures each figure next to the
# machine's own limit (a bare subscriber on the same queue). Prints a table, writes JSON.
#
#   scripts/bench.sh                 # full run, release build (see BENCHMARKS.md)
#   scripts/bench.sh --smoke         # a minute and a half, small volumes (the test suite runs it)
#   scripts/bench.sh --only b1a --drain-events 1000000,3000000
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ioc-target}"
command -v mosquitto >/dev/null && command -v mosquitto_sub >/dev/null || {
  echo "bench needs mosquitto and mosquitto_sub (Debian: mosquitto mosquitto-clients)" >&2; exit 2; }
profile=(--release)
for arg in "$@"; do [ "$arg" = --smoke ] && profile=(); done
if [ -z "${IOC_BENCH_NO_BUILD:-}" ]; then
  # One command for the whole workspace: selecting packages with -p would resolve other
  # dependency features and rebuild polars.
  cargo build --locked "${profile[@]}" --workspace --bin ioc --examples
fi
if [ ${#profile[@]} -gt 0 ]; then set -- --release "$@"; fi
exec python3 scripts/bench.py "$@"
