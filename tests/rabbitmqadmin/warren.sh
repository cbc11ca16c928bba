#!/usr/bin/env bash
# Builds the release `warren`, starts it on free ports (AMQP and management HTTP API) with a
# temporary data directory, runs tests/rabbitmqadmin/run.sh (rabbitmqadmin v1 and v2)
# against it, and stops it. Exits non-zero on any failure.
# Warren's default user guest/guest is allowed on loopback, which is where it listens.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --release --bin warren
target_dir="${CARGO_TARGET_DIR:-target}"
warren="$target_dir/release/warren"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
amqp_port="$(free_port)"
mgmt_port="$(free_port)"
while [ "$mgmt_port" = "$amqp_port" ]; do
  mgmt_port="$(free_port)"
done

data_dir="$(mktemp -d)"
log="$data_dir.log"
"$warren" --listen "127.0.0.1:$amqp_port" --management-listen "127.0.0.1:$mgmt_port" \
  --data-dir "$data_dir" --log warn >"$log" 2>&1 &
pid=$!
cleanup() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$data_dir" "$log"
}
trap cleanup EXIT

# Wait (up to 10 s) for both ports to accept connections.
for port in "$amqp_port" "$mgmt_port"; do
  up=""
  for _ in $(seq 1 100); do
    if python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()' "$port" 2>/dev/null; then
      up=1
      break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "warren exited early:" >&2
      cat "$log" >&2
      exit 1
    fi
    sleep 0.1
  done
  if [ -z "$up" ]; then
    echo "warren did not listen on 127.0.0.1:$port within 10 s; log:" >&2
    cat "$log" >&2
    exit 1
  fi
done

if ! AMQP_PORT="$amqp_port" tests/rabbitmqadmin/run.sh 127.0.0.1 "$mgmt_port" guest guest; then
  echo "rabbitmqadmin compatibility failed; warren log:" >&2
  cat "$log" >&2
  exit 1
fi
