#!/usr/bin/env bash
# Builds the release `warren`, starts it on a free port with a temporary data directory,
# runs the pika interop script against it, and stops it. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --release --bin warren
target_dir="${CARGO_TARGET_DIR:-target}"
warren="$target_dir/release/warren"

if ! python3 -c 'import pika' 2>/dev/null; then
  pip install --quiet pika || pip install --quiet --break-system-packages pika
fi

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
data_dir="$(mktemp -d)"
log="$data_dir.log"
"$warren" --listen "127.0.0.1:$port" --management-listen off --data-dir "$data_dir" --log warn >"$log" 2>&1 &
pid=$!
cleanup() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$data_dir" "$log"
}
trap cleanup EXIT

# Wait (up to 10 s) for the port to accept connections.
for _ in $(seq 1 100); do
  if python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()' "$port" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "warren exited early:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done

if ! python3 tests/interop/pika_interop.py "$port"; then
  echo "pika interop failed; warren log:" >&2
  cat "$log" >&2
  exit 1
fi
