#!/usr/bin/env bash
# The soak (docs/soak.md): starts a release `warren` on a fresh data directory and runs
# `warren-soak` against it — mixed traffic at half the mix's measured capacity, the
# broker's RSS, fds, data directory and p99 latency sampled into a CSV every 10 s,
# PNG plots at the end — and exits with warren-soak's status (1: RSS or fds grew past
# the bound, or a message was lost).
#
#   crates/warren-perf/soak.sh                          # 30 minutes, output in OUT
#   DURATION=120 crates/warren-perf/soak.sh --warmup-secs 20 --window-secs 30   # CI's 2 minutes
#
# DURATION (seconds, default 1800), OUT (default: a new temporary directory), PORT
# (default 5799), NO_BUILD=1 (use the binaries in target/release as they are),
# WARREN_BIN (default target/release/warren). Other arguments go to warren-soak
# (`target/release/warren-soak --help`).
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION="${DURATION:-1800}"
PORT="${PORT:-5799}"
OUT="${OUT:-$(mktemp -d /tmp/warren-soak.XXXXXX)}"
if [ -z "${NO_BUILD:-}" ]; then
  cargo build --release -p warren-server --bin warren -p warren-perf --bin warren-soak
fi
release="${CARGO_TARGET_DIR:-target}/release"
BIN="${WARREN_BIN:-$release/warren}"

work="$(mktemp -d /tmp/warren-soak-broker.XXXXXX)"
"$BIN" --listen "127.0.0.1:$PORT" --management-listen off --data-dir "$work/data" --log warn \
  >"$work/warren.log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "soak.sh: warren exited at start-up:" >&2
    cat "$work/warren.log" >&2
    exit 1
  fi
  sleep 0.1
done

echo "soak.sh: warren pid $pid on 127.0.0.1:$PORT, ${DURATION}s, output in $OUT"
status=0
"$release/warren-soak" --uri "amqp://guest:guest@127.0.0.1:$PORT/%2f" --broker-pid "$pid" \
  --data-dir "$work/data" --duration "$DURATION" --out "$OUT" "$@" || status=$?
if [ "$status" -ne 0 ] && [ -s "$work/warren.log" ]; then
  echo "soak.sh: broker log:" >&2
  tail -n 50 "$work/warren.log" >&2
fi
exit "$status"
