#!/usr/bin/env bash
# Warren vs RabbitMQ (and LavinMQ with LAVINMQ=1), the fixed scenario matrix of issue #6, on
# this machine, in one run.
#
#   crates/warren-perf/compare.sh                 # RUNS=3 runs x SECS=10 s per scenario and broker
#   RUNS=5 SECS=20 crates/warren-perf/compare.sh
#   crates/warren-perf/compare.sh --table FILE... # reprint the table of earlier runs' JSON lines
#
# Builds the release binaries, starts Warren (target/release/warren) on
# 127.0.0.1:$WARREN_PORT (default 5680) with a temporary data dir and stops it at the end,
# starts the reference RabbitMQ with $RABBITMQ_UP (default ../shared/tools/rabbitmq-up
# relative to the repository root; 127.0.0.1:$RABBIT_PORT, default 5673) unless it is up,
# then runs every scenario against both brokers, alternating broker run by run. Queues are
# deleted before and after every run. Each run's JSON goes to $OUT (default: a temporary
# file), the table to stdout. Loopback only; every run has a time limit.
#
# Scenarios (warren-perf options; all 1 producer / 1 consumer unless said):
#   a  16 B transient, auto-ack                         -s 16 -a
#   b  1 KiB transient, manual ack, prefetch 100        -s 1024 -q 100
#   c  1 KiB persistent, durable queue, confirms 1000,  -s 1024 -f -c 1000 -q 100
#      manual ack
#   d  4 producers / 4 consumers over 4 queues, 16 B,   -x 4 -y 4 --queues 4 -s 16 -q 100
#      manual ack
#   e  fanout to 10 queues, 1 producer, 10 consumers,   -y 10 --fanout-queues 10 -s 16 -a
#      16 B auto-ack
#   f  latency at a fixed 1,000 msg/s, 16 B auto-ack    -r 1000 -s 16 -a
#   g  1,000,000 x 1 KiB published with confirms and    -y 0 -C 1000000 -s 1024 -c 1000
#      no consumer; broker RSS growth / message         (RUNS_G runs, default 1)
#   p  as g, persistent to a durable queue (-f): Warren  -y 0 -C 1000000 -s 1024 -c 1000 -f
#      keeps such a backlog on disk beyond 16,384      (RUNS_G runs)
#      messages per queue (not an issue #6 scenario)
#   h  10,000 queues declared on one channel, then 1,000 idle connections; broker RSS
#      growth and declare rate (compare.py footprint; RUNS_H runs, default 1)
#   For g and h Warren is restarted first (fresh process and data dir). The shared
#   reference RabbitMQ is not restarted: its RSS growth may be understated when its
#   allocators kept memory from earlier scenarios, which can only flatter RabbitMQ.
#   i  16 B auto-ack to a queue with x-max-priority=10  -s 16 -a --queue-args x-max-priority=10
#   pub  publish-only persistent: 1 KiB persistent to a  -y 0 -s 1024 -f -c 1000
#      durable queue, confirms 1000, no consumer, SECS long (the publish side of c, time-boxed;
#      msg/s and broker CPU µs per published message)
#   s1 stream, 1 producer / 1 consumer, 1 KiB, confirms 1000, prefetch 1000:
#      -s 1024 -f -c 1000 -q 1000 --queue-args x-queue-type=stream --consumer-args x-stream-offset=first
#   s3 as s1 with 3 consumers, each reading the whole stream (-y 3); received msg/s counts
#      every reader's deliveries, CPU µs/msg is per delivery
#   (not in the default SCENARIOS: pub s1 s3)
# Broker CPU µs/msg comes from warren-perf --broker-pid (RabbitMQ: the beam.smp pid).
#
# LAVINMQ=1 adds LavinMQ as a third broker: $LAVINMQ_BIN (default $LAVINMQ_DIR/bin/lavinmq;
# how to build LavinMQ 1.0.0: ../shared/tools/lavinmq.md) is started on
# 127.0.0.1:$LAVINMQ_PORT (default 5685; HTTP $LAVINMQ_HTTP_PORT, default 15685) with a
# fresh data dir, restarted like Warren before g, p and h, and every scenario runs
# against it too, alternating with the others run by run (CPU from the lavinmq pid).
# LavinMQ 1.0 has no streams (it ignores x-queue-type and would serve s1/s3 from a plain
# queue, its 3 consumers sharing), so s1 and s3 skip it; TLS=1 skips it too.
#
# TLS=1 runs the warren-perf scenarios (a-f, i) over TLS (amqps://, TLS 1.3): Warren gets
# an amqps listener on $WARREN_TLS_PORT (default 5681), and a second RabbitMQ with a TLS
# listener is started by rabbitmq-tls-up.sh (plain 127.0.0.1:$RABBIT_PORT, default 5675;
# TLS $RABBIT_TLS_PORT, default 5676), leaving the shared reference broker alone. The
# certificates come from $TLS_DIR (ca.pem, server.pem, server.key), made with openssl in
# a temporary directory when it is not set.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
helper="$here/compare.py"

if [[ ${1:-} == --table ]]; then
  shift
  exec python3 "$helper" table "$@"
fi

RUNS=${RUNS:-3}
RUNS_G=${RUNS_G:-1}
RUNS_H=${RUNS_H:-1}
SECS=${SECS:-10}
PERF=${PERF:-$root/target/release/warren-perf}
WARREN_BIN=${WARREN_BIN:-$root/target/release/warren}
WARREN_PORT=${WARREN_PORT:-5680}
RABBIT_PORT=${RABBIT_PORT:-5673}
RABBITMQ_UP=${RABBITMQ_UP:-$root/../shared/tools/rabbitmq-up}
SCENARIOS=${SCENARIOS:-a b c d e f i h g p}
TLS=${TLS:-}
WARREN_TLS_PORT=${WARREN_TLS_PORT:-5681}
RABBIT_TLS_PORT=${RABBIT_TLS_PORT:-5676}
if [[ -n $TLS ]]; then
  RABBIT_PORT=${RABBIT_PORT_TLS_BROKER:-5675}
  RABBITMQ_UP=$here/rabbitmq-tls-up.sh
fi
OUT=${OUT:-$(mktemp /tmp/warren-compare-XXXX.jsonl)}
LAVINMQ=${LAVINMQ:-}
LAVINMQ_PORT=${LAVINMQ_PORT:-5685}
LAVINMQ_HTTP_PORT=${LAVINMQ_HTTP_PORT:-15685}
if [[ -n $LAVINMQ ]]; then
  if [[ -n $TLS ]]; then
    echo "TLS=1: LavinMQ is not set up for TLS here; running without it" >&2
    LAVINMQ=""
  else
    LAVINMQ_BIN=${LAVINMQ_BIN:-${LAVINMQ_DIR:?LAVINMQ=1 needs LAVINMQ_BIN or LAVINMQ_DIR}/bin/lavinmq}
    [[ -x $LAVINMQ_BIN ]] || { echo "no LavinMQ binary at $LAVINMQ_BIN" >&2; exit 1; }
  fi
fi
BROKERS="warren rabbitmq${LAVINMQ:+ lavinmq}"

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid_on_port() { ss -ltnpH "sport = :$1" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n1; }

if [[ -z ${NO_BUILD:-} ]]; then
  (cd "$root" && cargo build --release -p warren-perf -p warren-server)
fi

warren_pid=""
data_dir=""
lavinmq_pid=""
lavinmq_dir=""
tmp=$(mktemp -d /tmp/warren-compare-tmp-XXXX)
cleanup() {
  if [[ -n $warren_pid ]]; then kill "$warren_pid" 2>/dev/null || true; wait "$warren_pid" 2>/dev/null || true; fi
  if [[ -n $data_dir ]]; then rm -rf "$data_dir"; fi
  if [[ -n $lavinmq_pid ]]; then kill "$lavinmq_pid" 2>/dev/null || true; wait "$lavinmq_pid" 2>/dev/null || true; fi
  if [[ -n $lavinmq_dir ]]; then rm -rf "$lavinmq_dir"; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

if [[ -n $TLS && -z ${TLS_DIR:-} ]]; then
  TLS_DIR=$tmp/tls
  mkdir -p "$TLS_DIR"
  (
    cd "$TLS_DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 7 -subj "/CN=compare.sh CA"
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost"
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >ext.cnf
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 7 -extfile ext.cnf
    chmod 644 ./*.pem ./*.key
  ) 2>/dev/null
fi

if listening "$WARREN_PORT"; then
  echo "127.0.0.1:$WARREN_PORT is taken; set WARREN_PORT to a free port" >&2
  exit 1
fi
# (Re)starts Warren on a fresh data dir: the memory scenarios g and h measure RSS growth,
# which a process whose allocator kept the heap of earlier backlogs would hide.
start_warren() {
  if [[ -n $warren_pid ]]; then
    kill "$warren_pid" 2>/dev/null || true
    wait "$warren_pid" 2>/dev/null || true
    for _ in $(seq 100); do listening "$WARREN_PORT" || break; sleep 0.1; done
  fi
  if [[ -n $data_dir ]]; then rm -rf "$data_dir"; fi
  data_dir=$(mktemp -d /tmp/warren-compare-data-XXXX)
  local tls_args=()
  if [[ -n $TLS ]]; then
    tls_args=(--amqps-listen "127.0.0.1:$WARREN_TLS_PORT" --tls-cert "$TLS_DIR/server.pem" --tls-key "$TLS_DIR/server.key")
  fi
  "$WARREN_BIN" --listen "127.0.0.1:$WARREN_PORT" "${tls_args[@]}" --data-dir "$data_dir" --log warn &
  warren_pid=$!
  for _ in $(seq 100); do listening "$WARREN_PORT" && break; sleep 0.1; done
  listening "$WARREN_PORT" || { echo "warren did not start" >&2; exit 1; }
  pid[warren]=$warren_pid
}
# (Re)starts LavinMQ on a fresh data dir, for the same reason.
start_lavinmq() {
  if [[ -n $lavinmq_pid ]]; then
    kill "$lavinmq_pid" 2>/dev/null || true
    wait "$lavinmq_pid" 2>/dev/null || true
    for _ in $(seq 100); do listening "$LAVINMQ_PORT" || break; sleep 0.1; done
  fi
  if [[ -n $lavinmq_dir ]]; then rm -rf "$lavinmq_dir"; fi
  lavinmq_dir=$(mktemp -d /tmp/warren-compare-lavinmq-XXXX)
  "$LAVINMQ_BIN" --data-dir "$lavinmq_dir/data" --bind 127.0.0.1 --amqp-port "$LAVINMQ_PORT" \
    --http-port "$LAVINMQ_HTTP_PORT" >"$lavinmq_dir/lavinmq.log" 2>&1 &
  lavinmq_pid=$!
  for _ in $(seq 150); do listening "$LAVINMQ_PORT" && break; sleep 0.1; done
  listening "$LAVINMQ_PORT" || { echo "lavinmq did not start (log: $lavinmq_dir/lavinmq.log)" >&2; exit 1; }
  pid[lavinmq]=$lavinmq_pid
}
declare -A pid
start_warren
if [[ -n $LAVINMQ ]]; then
  if listening "$LAVINMQ_PORT"; then
    echo "127.0.0.1:$LAVINMQ_PORT is taken; set LAVINMQ_PORT to a free port" >&2
    exit 1
  fi
  start_lavinmq
fi

if ! listening "$RABBIT_PORT"; then
  # Scenario h needs 1,000 connections: lift the default soft limit of 1,024 files,
  # which RabbitMQ inherits and sizes its socket limit by.
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  RMQ_PORT=$RABBIT_PORT RMQ_TLS_PORT=$RABBIT_TLS_PORT TLS_DIR=${TLS_DIR:-} "$RABBITMQ_UP"
fi
rabbit_pid=$(pid_on_port "$RABBIT_PORT")
rabbit_pid=${rabbit_pid:-$(pgrep -o -f beam.smp)}
pid[rabbitmq]=$rabbit_pid
declare -A port=([warren]=$WARREN_PORT [rabbitmq]=$RABBIT_PORT [lavinmq]=$LAVINMQ_PORT)
declare -A tls_port=([warren]=$WARREN_TLS_PORT [rabbitmq]=$RABBIT_TLS_PORT)
echo "warren pid $warren_pid on $WARREN_PORT, RabbitMQ pid $rabbit_pid on $RABBIT_PORT${LAVINMQ:+, LavinMQ pid $lavinmq_pid on $LAVINMQ_PORT}; JSON: $OUT" >&2

declare -A name=(
  [a]="1p/1c 16 B transient auto-ack"
  [b]="1p/1c 1 KiB transient ack, prefetch 100"
  [c]="1p/1c 1 KiB persistent, confirms 1000, ack"
  [d]="4p/4c 4 queues 16 B ack, prefetch 100"
  [e]="fanout to 10 queues, 16 B auto-ack"
  [f]="latency at 1,000 msg/s, 16 B auto-ack"
  [g]="1,000,000 × 1 KiB queued, no consumer"
  [p]="1,000,000 × 1 KiB persistent queued, durable queue"
  [h]="10,000 queues + 1,000 idle connections"
  [i]="1p/1c 16 B auto-ack, x-max-priority=10"
  [pub]="publish-only 1 KiB persistent, confirms 1000"
  [s1]="stream 1p/1c 1 KiB, confirms 1000"
  [s3]="stream 1p/3c 1 KiB, each reads all, confirms 1000"
)
declare -A opts=(
  [a]="-x 1 -y 1 -s 16 -a"
  [b]="-x 1 -y 1 -s 1024 -q 100"
  [c]="-x 1 -y 1 -s 1024 -f -c 1000 -q 100"
  [d]="-x 4 -y 4 --queues 4 -s 16 -q 100"
  [e]="-x 1 -y 10 --fanout-queues 10 -s 16 -a"
  [f]="-x 1 -y 1 -r 1000 -s 16 -a"
  [i]="-x 1 -y 1 -s 16 -a --queue-args x-max-priority=10"
  [pub]="-x 1 -y 0 -s 1024 -f -c 1000"
  [s1]="-x 1 -y 1 -s 1024 -f -c 1000 -q 1000 --queue-args x-queue-type=stream --consumer-args x-stream-offset=first"
  [s3]="-x 1 -y 3 -s 1024 -f -c 1000 -q 1000 --queue-args x-queue-type=stream --consumer-args x-stream-offset=first"
)

# One warren-perf run of scenario $1 against broker $2 (run $3), appended to $OUT.
perf_run() {
  local sc=$1 broker=$2 run=$3 target=(--uri "amqp://guest:guest@127.0.0.1:${port[$broker]}/%2f")
  if [[ -n $TLS ]]; then
    target=(--uri "amqps://guest:guest@localhost:${tls_port[$broker]}/%2f" --cacert "$TLS_DIR/ca.pem")
  fi
  # shellcheck disable=SC2086 # opts is a list of options
  timeout $((SECS + 60)) "$PERF" "${target[@]}" \
    ${opts[$sc]} -z "$SECS" -u "warren-compare-$sc" --delete-queues --broker-pid "${pid[$broker]}" --json \
    >"$tmp/out" 2>"$tmp/err" || echo "warren-perf exit $?" >>"$tmp/err"
  python3 "$helper" record "$sc" "${name[$sc]}${TLS:+ over TLS}" "$broker" "$run" "$tmp/out" "$tmp/err" >>"$OUT"
}

# Scenario g (p: persistent, durable queue): publish 1,000,000 x 1 KiB (confirmed, so the
# broker holds them all) to a queue without consumers; the broker's RSS before and after
# gives bytes per message.
queue_run() {
  local broker=$1 run=$2 sc=$3 q=warren-compare-$3 before after durable=""
  [[ $sc == p ]] && durable="-f"
  python3 "$helper" delete-queues "${port[$broker]}" "$q"
  before=$(python3 "$helper" rss "${pid[$broker]}")
  timeout 600 "$PERF" --uri "amqp://guest:guest@127.0.0.1:${port[$broker]}/%2f" -x 1 -y 0 -s 1024 \
    -c 1000 -C 1000000 $durable -u "$q" --broker-pid "${pid[$broker]}" --json \
    >"$tmp/out" 2>"$tmp/err" || echo "warren-perf exit $?" >>"$tmp/err"
  after=$(python3 "$helper" rss "${pid[$broker]}")
  python3 "$helper" record "$sc" "${name[$sc]}" "$broker" "$run" "$tmp/out" "$tmp/err" \
    "rss_before=$before" "rss_after=$after" >>"$OUT"
  python3 "$helper" delete-queues "${port[$broker]}" "$q"
}

# Scenario h: 10,000 queues and 1,000 idle connections (compare.py footprint).
footprint_run() {
  local broker=$1 run=$2
  timeout 900 python3 "$helper" footprint "${port[$broker]}" "${pid[$broker]}" 10000 1000 \
    >"$tmp/out" 2>"$tmp/err" || echo "footprint exit $?" >>"$tmp/err"
  python3 "$helper" record h "${name[h]}" "$broker" "$run" "$tmp/out" "$tmp/err" >>"$OUT"
}

for sc in $SCENARIOS; do
  runs=$RUNS
  [[ $sc == g || $sc == p ]] && runs=$RUNS_G
  [[ $sc == h ]] && runs=$RUNS_H
  for run in $(seq "$runs"); do
    for broker in $BROKERS; do
      if [[ $broker == lavinmq && ($sc == s1 || $sc == s3) ]]; then continue; fi
      if [[ $broker == warren && ($sc == g || $sc == h || $sc == p) ]]; then start_warren; fi
      if [[ $broker == lavinmq && ($sc == g || $sc == h || $sc == p) ]]; then start_lavinmq; fi
      case $sc in
        g | p) queue_run "$broker" "$run" "$sc" ;;
        h) footprint_run "$broker" "$run" ;;
        *) perf_run "$sc" "$broker" "$run" ;;
      esac
      echo "($sc) ${name[$sc]} / $broker / run $run done (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    done
  done
done

python3 "$helper" table "$OUT"
