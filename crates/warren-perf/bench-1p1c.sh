#!/usr/bin/env bash
# Side-by-side 1 producer / 1 consumer transient throughput of Warren and RabbitMQ
# (issue #3's closing note), alternating brokers run by run on the same machine.
#
#   crates/warren-perf/bench-1p1c.sh            # 3 runs x 10 s per scenario and broker
#   RUNS=5 SECS=20 crates/warren-perf/bench-1p1c.sh
#
# Uses the release builds (cargo build --release -p warren-perf -p warren-server) or
# PERF / WARREN_BIN. Starts Warren on 127.0.0.1:$WARREN_PORT with a temporary data dir
# (and stops it at the end) unless something already listens there; starts the
# reference RabbitMQ with ../shared/tools/rabbitmq-up unless it is up. Every run's JSON
# summary goes to $OUT (default: a temporary file); the table goes to stdout.
# `bench-1p1c.sh --table FILE...` prints the table of earlier runs' JSON lines.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-3}
SECS=${SECS:-10}
PERF=${PERF:-$root/target/release/warren-perf}
WARREN_BIN=${WARREN_BIN:-$root/target/release/warren}
WARREN_PORT=${WARREN_PORT:-5680}
RABBIT_PORT=${RABBIT_PORT:-5673}
OUT=${OUT:-$(mktemp /tmp/warren-bench-XXXX.jsonl)}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid_on_port() { ss -ltnpH "sport = :$1" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n1; }

table() {
  python3 - "$@" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for f in sys.argv[1:] for l in open(f)]
def fig(scenario, broker, key):
    v = [r["summary"][key] for r in rows if r["scenario"] == scenario and r["broker"] == broker and r["summary"].get(key) is not None]
    return (statistics.median(v), min(v), max(v)) if v else None
def fmt(f, digits=0):
    if f is None: return "-"
    m, lo, hi = f
    return f"{m:,.{digits}f} ({lo:,.{digits}f}–{hi:,.{digits}f})"
print("| scenario | broker | received msg/s | sent msg/s | broker CPU µs/msg | broker CPU % | warren-perf CPU % |")
print("|---|---|---|---|---|---|---|")
order = list(dict.fromkeys(r["scenario"] for r in rows))
for s in order:
    for b in ("warren", "rabbitmq"):
        print(f"| {s} | {b} | {fmt(fig(s,b,'received_mean_rate'))} | {fmt(fig(s,b,'sent_mean_rate'))} | "
              f"{fmt(fig(s,b,'broker_cpu_us_per_msg'),2)} | {fmt(fig(s,b,'broker_cpu_percent'))} | {fmt(fig(s,b,'perf_cpu_percent'))} |")
    w, r = fig(s, "warren", "received_mean_rate"), fig(s, "rabbitmq", "received_mean_rate")
    wc, rc = fig(s, "warren", "broker_cpu_us_per_msg"), fig(s, "rabbitmq", "broker_cpu_us_per_msg")
    if w and r:
        cpu = f"**÷{rc[0]/wc[0]:.1f}**" if wc and rc else ""
        print(f"| {s} | **Warren vs RabbitMQ** | **{w[0]/r[0]:.2f}×** | | {cpu} | | |")
loads = [r["load1"] for r in rows]
print(f"\n{len(rows)} runs; medians with (min–max); 1-minute load average after each run "
      f"{min(loads):.2f}–{max(loads):.2f}; raw JSON: {' '.join(sys.argv[1:])}")
PY
}

if [[ ${1:-} == --table ]]; then
  shift
  table "$@"
  exit 0
fi

warren_pid=""
data_dir=""
cleanup() {
  if [[ -n $warren_pid ]]; then kill "$warren_pid" 2>/dev/null || true; wait "$warren_pid" 2>/dev/null || true; fi
  if [[ -n $data_dir ]]; then rm -rf "$data_dir"; fi
}
trap cleanup EXIT

if ! listening "$WARREN_PORT"; then
  data_dir=$(mktemp -d /tmp/warren-bench-data-XXXX)
  "$WARREN_BIN" --listen "127.0.0.1:$WARREN_PORT" --data-dir "$data_dir" --log warn &
  warren_pid=$!
  for _ in $(seq 50); do listening "$WARREN_PORT" && break; sleep 0.1; done
fi
if ! listening "$RABBIT_PORT"; then
  RMQ_PORT=$RABBIT_PORT "$root/../shared/tools/rabbitmq-up"
fi
declare -A pid=([warren]=$(pid_on_port "$WARREN_PORT") [rabbitmq]=$(pid_on_port "$RABBIT_PORT"))
declare -A port=([warren]=$WARREN_PORT [rabbitmq]=$RABBIT_PORT)

scenarios=(
  "16 B auto-ack|-s 16 -a"
  "16 B ack, prefetch 100|-s 16 -q 100"
  "1 KiB auto-ack|-s 1024 -a"
  "1 KiB ack, prefetch 100|-s 1024 -q 100"
)
for sc in "${scenarios[@]}"; do
  name=${sc%%|*}
  opts=${sc#*|}
  for run in $(seq "$RUNS"); do
    for broker in warren rabbitmq; do
      # shellcheck disable=SC2086 # opts is a list of options
      json=$("$PERF" --uri "amqp://guest:guest@127.0.0.1:${port[$broker]}/%2f" -x 1 -y 1 $opts \
        -z "$SECS" -u warren-bench --delete-queues --broker-pid "${pid[$broker]}" --json 2>/dev/null)
      load=$(cut -d' ' -f1 /proc/loadavg)
      printf '{"scenario":"%s","broker":"%s","run":%d,"load1":%s,"summary":%s}\n' "$name" "$broker" "$run" "$load" "$json" >>"$OUT"
      echo "$name / $broker / run $run done" >&2
    done
  done
done

table "$OUT"
