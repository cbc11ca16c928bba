#!/usr/bin/env bash
# The management API at scale, Warren beside RabbitMQ in one run: N queues (default
# 10,000), GET /api/queues (full objects) fetched back to back while scenario (a)
# (16 B, auto-ack) runs, against a run of (a) alone. See mgmt_scale.py for what is
# reported. Needs the reference RabbitMQ (../shared/tools/rabbitmq-up: AMQP 5673,
# management 15673) and python3 with pika; builds the release warren and warren-perf
# unless NO_BUILD=1 (then WARREN_BIN / PERF_BIN). Loopback only, bounded in time.
#
#   crates/warren-perf/mgmt-scale.sh            # QUEUES=10000 SECS=20
set -euo pipefail
cd "$(dirname "$0")/../.."
QUEUES=${QUEUES:-10000}
SECS=${SECS:-20}
if [[ -z ${NO_BUILD:-} ]]; then
  cargo build --release --bin warren --bin warren-perf
fi
WARREN_BIN=${WARREN_BIN:-target/release/warren}
PERF_BIN=${PERF_BIN:-target/release/warren-perf}
python3 -c 'import pika' 2>/dev/null || pip install --quiet pika || pip install --quiet --break-system-packages pika

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
amqp=$(free_port); http=$(free_port)
data=$(mktemp -d)
"$WARREN_BIN" --listen "127.0.0.1:$amqp" --management-listen "127.0.0.1:$http" --data-dir "$data" --log warn &
warren_pid=$!
trap 'kill $warren_pid 2>/dev/null || true; wait $warren_pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do
  python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()' "$http" 2>/dev/null && break
  sleep 0.1
done
rabbit_pid=$(pgrep -o -f beam.smp || true)
if [[ -z $rabbit_pid ]]; then
  echo "the reference RabbitMQ is not running (../shared/tools/rabbitmq-up)" >&2
  exit 1
fi
python3 crates/warren-perf/mgmt_scale.py --name warren --amqp "$amqp" --http "$http" --pid "$warren_pid" \
  --perf "$PERF_BIN" --queues "$QUEUES" --secs "$SECS"
python3 crates/warren-perf/mgmt_scale.py --name rabbitmq --amqp 5673 --http 15673 --pid "$rabbit_pid" \
  --perf "$PERF_BIN" --queues "$QUEUES" --secs "$SECS"
