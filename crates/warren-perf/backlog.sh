#!/usr/bin/env bash
# A persistent backlog bigger than memory (issue #5, items 3-5), measured through the
# broker: publish N persistent 1 KiB messages with confirms to one durable queue and no
# consumer, kill -9 the broker, restart it and time recovery, then drain the queue with
# a consumer, sampling broker RSS throughout and the data directory's size at each step.
#
#   crates/warren-perf/backlog.sh                 # N=1000000
#   N=5000000 crates/warren-perf/backlog.sh
#
# Environment: N (messages), PRODUCERS (2), PORT (5691), RESTART=0 drains without the
# kill -9 and restart, WARREN_ARGS (extra broker options), DRAIN_SECS (limit for the
# drain, default N/10000+60), KEEP=1 keeps the data directory. Prints one summary block;
# per-second drain lines go to $OUT_DIR/drain.txt (default: a temporary directory).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
N=${N:-1000000}
PRODUCERS=${PRODUCERS:-2}
PORT=${PORT:-5691}
DRAIN_SECS=${DRAIN_SECS:-$((N / 10000 + 60))}
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/warren-backlog-XXXX)}
WARREN=${WARREN_BIN:-$root/target/release/warren}
PERF=${PERF:-$root/target/release/warren-perf}
URI="amqp://guest:guest@127.0.0.1:$PORT/%2f"
data=$(mktemp -d /tmp/warren-backlog-data-XXXX)

if [[ -z ${NO_BUILD:-} ]]; then
  (cd "$root" && cargo build --release -p warren-perf -p warren-server)
fi

pid=""
sampler=""
cleanup() {
  [[ -n $sampler ]] && kill "$sampler" 2>/dev/null || true
  [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
  [[ -z ${KEEP:-} ]] && rm -rf "$data"
  return 0
}
trap cleanup EXIT

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
rss_mib() { awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }
du_mib() { du -sm "$data" | cut -f1; }

# Starts the broker; sets start_ms to the milliseconds until it accepted connections.
start() {
  local began now
  began=$(date +%s%N)
  # shellcheck disable=SC2086 # WARREN_ARGS is a list of options
  "$WARREN" --listen "127.0.0.1:$PORT" --data-dir "$data" ${WARREN_ARGS:-} >>"$OUT_DIR/warren.log" 2>&1 &
  pid=$!
  until listening; do
    kill -0 "$pid" 2>/dev/null || { echo "warren exited; see $OUT_DIR/warren.log" >&2; exit 1; }
    sleep 0.05
  done
  now=$(date +%s%N)
  start_ms=$(((now - began) / 1000000))
}

# Samples RSS every second into $1 (the peak is its maximum).
sample() {
  while kill -0 "$pid" 2>/dev/null; do
    echo "$(rss_mib "$pid")" >>"$1"
    sleep 1
  done
}
peak() { sort -n "$1" | tail -n1; }

du_start=$(du_mib)
start
sample "$OUT_DIR/rss-publish.txt" &
sampler=$!
per=$((N / PRODUCERS))
began=$(date +%s)
"$PERF" --uri "$URI" -x "$PRODUCERS" -y 0 -s 1024 -f -c 1000 -C "$per" -u backlog \
  --broker-pid "$pid" --json >"$OUT_DIR/publish.json" 2>/dev/null
publish_secs=$(($(date +%s) - began))
rss_after_publish=$(rss_mib "$pid")
kill "$sampler" 2>/dev/null || true
du_backlog=$(du_mib)

if [[ ${RESTART:-1} != 0 ]]; then
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  start
  recover_ms=$start_ms
  rss_after_recovery=$(rss_mib "$pid")
else
  recover_ms="(no restart)"
  rss_after_recovery="(no restart)"
fi
recovered=$(sed "s/\x1b\[[0-9;]*m//g" "$OUT_DIR/warren.log" | grep -o 'persistent messages recovered.*' | tail -n1 || true)
opened=$(sed "s/\x1b\[[0-9;]*m//g" "$OUT_DIR/warren.log" | grep -o 'store opened.*' | tail -n1 || true)

sample "$OUT_DIR/rss-drain.txt" &
sampler=$!
"$PERF" --uri "$URI" -x 0 -y 1 -f -q 500 -A 100 -u backlog -z "$DRAIN_SECS" --broker-pid "$pid" \
  --json >"$OUT_DIR/drain.json" 2>"$OUT_DIR/drain.txt" || true
kill "$sampler" 2>/dev/null || true
sleep 5 # let the store's compaction run
du_drained=$(du_mib)
# The steady part of the drain: every full second until the backlog was gone.
drain_rates=$(python3 - "$OUT_DIR/drain.txt" "$OUT_DIR/drain.json" <<'PY'
import json, re, statistics, sys
pattern = re.compile(r"received\s+(\d+) msg/s")
rates = [int(m.group(1)) for m in map(pattern.search, open(sys.argv[1])) if m]
busy = [i for i, r in enumerate(rates) if r > 0]
# Full seconds of draining: from the first busy second up to (not including) the last,
# which is partial.
full = rates[busy[0]:busy[-1]] if busy else []
total = json.load(open(sys.argv[2]))["received_total"]
print(f"{total} received in {len(full) + 1} s; per-second rate over the {len(full)} full "
      f"seconds: min {min(full, default=0)}, median {statistics.median(full) if full else 0:.0f}, "
      f"max {max(full, default=0)} msg/s")
PY
)

cat <<EOF
messages published:        $N x 1 KiB persistent, confirms (window 1000), $PRODUCERS producers, no consumer
publish:                   ${publish_secs} s; summary $(cat "$OUT_DIR/publish.json")
broker RSS while publishing: peak $(peak "$OUT_DIR/rss-publish.txt") MiB, at the end ${rss_after_publish} MiB
data dir:                  ${du_start} MiB empty, ${du_backlog} MiB with the backlog, ${du_drained} MiB after the drain
kill -9, restart:          accepting connections after ${recover_ms} ms; RSS ${rss_after_recovery} MiB
                           ${opened}
                           ${recovered}
drain (1 consumer, prefetch 500, multi-ack every 100): peak RSS $(peak "$OUT_DIR/rss-drain.txt") MiB
                           ${drain_rates}
                           summary $(cat "$OUT_DIR/drain.json")
per-second drain lines:    $OUT_DIR/drain.txt
EOF
