#!/usr/bin/env bash
# A persistent backlog bigger than memory (issue #5, items 3-5; issue #16, item 3),
# measured through the broker: publish N persistent 1 KiB messages with confirms to one
# durable queue and no consumer, kill -9 the broker, restart it and time recovery, then
# drain the queue with a consumer, sampling broker RSS throughout and the data
# directory's size at each step.
#
#   crates/warren-perf/backlog.sh                 # N=1000000
#   N=5000000 crates/warren-perf/backlog.sh
#   # publish once and keep the backlog, then measure restarts on it without draining:
#   N=5000000 DATA_DIR=/tmp/b5m DRAIN=0 crates/warren-perf/backlog.sh
#   DATA_DIR=/tmp/b5m RESTARTS=3 DRAIN=0 crates/warren-perf/backlog.sh
#
# Each restart reports when the port accepted TCP connections ("listening": the broker
# binds before it recovers, so the kernel queues early clients instead of refusing
# them), when an AMQP client got the queue's count back (connection.open + passive
# queue.declare: "ready"), the RSS then, and the peak and last RSS over the next
# SETTLE_SECS (the store's background pass runs then) with /proc/PID/smaps_rollup's
# anonymous/file split.
#
# Environment: N (messages), PRODUCERS (2), PORT (5691), RESTART=0 drains without any
# kill -9 and restart, RESTARTS (kill -9/restart cycles before the drain, default 1),
# DRAIN=0 skips the drain (the backlog stays for the next run), DATA_DIR (use and keep
# this data directory; if it already holds a store, publishing is skipped and the
# restarts measure the backlog it holds), SETTLE_SECS (10), WARREN_ARGS (extra broker
# options; the management API is off), DRAIN_SECS (limit for the drain, default
# N/10000+60), KEEP=1 keeps a temporary data directory, NO_BUILD=1 skips the release
# build. The binaries are taken from $CARGO_TARGET_DIR (default target/)/release unless
# WARREN_BIN / PERF say otherwise. Needs python3 with pika (the ready probe). Prints
# one summary block; per-second drain lines go to $OUT_DIR/drain.txt (default: a
# temporary directory).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
N=${N:-1000000}
PRODUCERS=${PRODUCERS:-2}
PORT=${PORT:-5691}
RESTARTS=${RESTARTS:-1}
[[ ${RESTART:-1} == 0 ]] && RESTARTS=0
SETTLE_SECS=${SETTLE_SECS:-10}
DRAIN_SECS=${DRAIN_SECS:-$((N / 10000 + 60))}
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/warren-backlog-XXXX)}
release=$(cd "$root" && mkdir -p "${CARGO_TARGET_DIR:-target}" && cd "${CARGO_TARGET_DIR:-target}" && pwd)/release
WARREN=${WARREN_BIN:-$release/warren}
PERF=${PERF:-$release/warren-perf}
URI="amqp://guest:guest@127.0.0.1:$PORT/%2f"
if [[ -n ${DATA_DIR:-} ]]; then
  data=$DATA_DIR
  mkdir -p "$data"
  KEEP=1
else
  data=$(mktemp -d /tmp/warren-backlog-data-XXXX)
fi
reuse=""
[[ -d $data/store ]] && reuse=1

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
# "anon X MiB, file Y MiB" from smaps_rollup.
rss_split() {
  awk '/^Anonymous:/ {a = $2} /^Rss:/ {r = $2}
       END {printf "anon %.0f MiB, file %.0f MiB", a / 1024, (r - a) / 1024}' \
    "/proc/$1/smaps_rollup" 2>/dev/null || echo "n/a"
}
du_mib() { du -sm "$data" | cut -f1; }

# Starts the broker; sets start_ns (when) and start_ms (milliseconds until the port
# accepted a connection).
start() {
  local now
  start_ns=$(date +%s%N)
  # shellcheck disable=SC2086 # WARREN_ARGS is a list of options
  "$WARREN" --listen "127.0.0.1:$PORT" --management-listen off --data-dir "$data" ${WARREN_ARGS:-} >>"$OUT_DIR/warren.log" 2>&1 &
  pid=$!
  until listening; do
    kill -0 "$pid" 2>/dev/null || { echo "warren exited; see $OUT_DIR/warren.log" >&2; exit 1; }
    sleep 0.02
  done
  now=$(date +%s%N)
  start_ms=$(((now - start_ns) / 1000000))
}

# Waits until an AMQP client gets the backlog queue's count back; sets ready_ms (since
# the start) and ready_count.
ready_probe() {
  local out
  out=$(python3 - "$PORT" <<'PY'
import sys, time
import pika
params = pika.ConnectionParameters("127.0.0.1", int(sys.argv[1]), socket_timeout=120,
                                   stack_timeout=120, blocked_connection_timeout=120,
                                   connection_attempts=1)
while True:
    try:
        conn = pika.BlockingConnection(params)
        break
    except pika.exceptions.AMQPConnectionError:
        time.sleep(0.05)
ok = conn.channel().queue_declare("backlog", passive=True)
print(time.time_ns(), ok.method.message_count)
conn.close()
PY
)
  ready_ms=$(((${out% *} - start_ns) / 1000000))
  ready_count=${out#* }
}

# Samples RSS every second into $1 (the peak is its maximum).
sample() {
  while kill -0 "$pid" 2>/dev/null; do
    echo "$(rss_mib "$pid")" >>"$1"
    sleep 1
  done
}
peak() { sort -n "$1" | tail -n1; }

# One kill -9 (of the running broker, if any) and restart: appends to restarts_report.
restart_once() {
  local i=$1 rss_ready
  if [[ -n $pid ]]; then
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
  fi
  start
  ready_probe
  rss_ready=$(rss_mib "$pid")
  : >"$OUT_DIR/rss-settle-$i.txt"
  for _ in $(seq "$SETTLE_SECS"); do
    sleep 1
    echo "$(rss_mib "$pid")" >>"$OUT_DIR/rss-settle-$i.txt"
  done
  restarts_report+="restart $i: listening after ${start_ms} ms; ready (AMQP, queue count ${ready_count}) after ${ready_ms} ms; RSS ${rss_ready} MiB at ready, peak $(peak "$OUT_DIR/rss-settle-$i.txt") MiB over ${SETTLE_SECS} s, $(rss_mib "$pid") MiB at the end ($(rss_split "$pid"))
                           "
}

du_start=$(du_mib)
restarts_report=""
published="$N x 1 KiB persistent, confirms (window 1000), $PRODUCERS producers, no consumer"
if [[ -z $reuse ]]; then
  start
  sample "$OUT_DIR/rss-publish.txt" &
  sampler=$!
  per=$((N / PRODUCERS))
  began=$(date +%s)
  "$PERF" --uri "$URI" -x "$PRODUCERS" -y 0 -s 1024 -f -c 1000 -C "$per" -u backlog \
    --broker-pid "$pid" --json >"$OUT_DIR/publish.json" 2>/dev/null
  publish_report="$(($(date +%s) - began)) s; summary $(cat "$OUT_DIR/publish.json")"
  rss_publish="peak $(peak "$OUT_DIR/rss-publish.txt") MiB, at the end $(rss_mib "$pid") MiB"
  kill "$sampler" 2>/dev/null || true
else
  published="the backlog already in $data (the count at ready is its size; set N for DRAIN_SECS)"
  publish_report="(skipped: $data already holds a store)"
  rss_publish="(not published in this run)"
  [[ $RESTARTS == 0 ]] && start
fi
du_backlog=$(du_mib)

for i in $(seq "$RESTARTS"); do
  restart_once "$i"
done
[[ -z $restarts_report ]] && restarts_report="(no restart)"
log=$(sed "s/\x1b\[[0-9;]*m//g" "$OUT_DIR/warren.log")
opened=$(grep -o 'store opened.*' <<<"$log" | tail -n1 || true)
recovered=$(grep -o 'persistent messages recovered.*' <<<"$log" | tail -n1 || true)

if [[ ${DRAIN:-1} == 0 ]]; then
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
  cat <<EOF
messages published:        ${published}
publish:                   ${publish_report}
broker RSS while publishing: ${rss_publish}
data dir:                  $data: ${du_start} MiB at the start, ${du_backlog} MiB with the backlog (kept: DRAIN=0)
kill -9, restart:          ${restarts_report}
last restart:              ${opened}
                           ${recovered}
EOF
  exit 0
fi

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
messages published:        ${published}
publish:                   ${publish_report}
broker RSS while publishing: ${rss_publish}
data dir:                  ${du_start} MiB at the start, ${du_backlog} MiB with the backlog, ${du_drained} MiB after the drain
kill -9, restart:          ${restarts_report}
last restart:              ${opened}
                           ${recovered}
drain (1 consumer, prefetch 500, multi-ack every 100): peak RSS $(peak "$OUT_DIR/rss-drain.txt") MiB
                           ${drain_rates}
                           summary $(cat "$OUT_DIR/drain.json")
per-second drain lines:    $OUT_DIR/drain.txt
EOF
