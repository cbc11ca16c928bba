#!/usr/bin/env bash
# Runs the Python examples (examples/python: pika producer and worker) against a release
# warren on free ports: 200 tasks published with confirms, two workers share them, and
# together they must do all 200. Installs pika if missing. Exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --release --bin warren
warren="${CARGO_TARGET_DIR:-target}/release/warren"
if ! python3 -c 'import pika' 2>/dev/null; then
  pip install --quiet pika || pip install --quiet --break-system-packages pika
fi
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
data_dir="$(mktemp -d)"
"$warren" --listen "127.0.0.1:$port" --management-listen off --data-dir "$data_dir" --log warn &
pid=$!
cleanup() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$data_dir"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  "$warren" --check --listen "127.0.0.1:$port" 2>/dev/null && break
  sleep 0.1
done
url="amqp://guest:guest@127.0.0.1:$port/%2f"
python3 examples/python/producer.py --url "$url" --count 200 --queue py.tasks
out_a="$(mktemp)"; out_b="$(mktemp)"
python3 examples/python/worker.py --url "$url" --count 200 --queue py.tasks --idle-timeout 3 >"$out_a" 2>&1 &
a=$!
python3 examples/python/worker.py --url "$url" --count 200 --queue py.tasks --idle-timeout 3 >"$out_b" 2>&1 &
b=$!
wait "$a" || true
wait "$b" || true
done_a="$(grep -o 'worker did [0-9]*' "$out_a" | grep -o '[0-9]*$' || echo 0)"
done_b="$(grep -o 'worker did [0-9]*' "$out_b" | grep -o '[0-9]*$' || echo 0)"
rm -f "$out_a" "$out_b"
total=$((done_a + done_b))
echo "python workers: $done_a + $done_b = $total of 200 tasks"
if [ "$total" -ne 200 ] || [ "$done_a" -eq 0 ] || [ "$done_b" -eq 0 ]; then
  echo "python examples failed: expected 200 tasks shared by both workers" >&2
  exit 1
fi
