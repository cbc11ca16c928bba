#!/usr/bin/env bash
# Runs the Python examples against a release warren on free ports, in a virtualenv this
# script creates once (target/py-venv) with pinned versions:
#   - pika: 200 tasks published with confirms, two workers share them, and together they
#     must do all 200, each once;
#   - kombu (examples/python/kombu_consumer.py): 100 orders through a topic exchange and a
#     durable queue, published with confirms and consumed with prefetch and manual acks; all
#     100 must arrive, and none of the events its binding leaves out;
#   - Celery (examples/python/celery_app): a worker and a client; tasks, results over the
#     RPC backend, a retry with a countdown and an ETA task must all give their answers.
# Exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --release --bin warren
warren="${CARGO_TARGET_DIR:-target}/release/warren"
venv="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)/py-venv"
if [ ! -x "$venv/bin/celery" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "pika==1.3.2" "celery==5.4.0" "kombu==5.7.0"
fi
python="$venv/bin/python"

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
out_a="$(mktemp)"; out_b="$(mktemp)"
$python examples/python/worker.py --url "$url" --count 200 --queue py.tasks --idle-timeout 3 >"$out_a" 2>&1 &
a=$!
$python examples/python/worker.py --url "$url" --count 200 --queue py.tasks --idle-timeout 3 >"$out_b" 2>&1 &
b=$!
# Both workers are consuming before the tasks arrive, so both get some (prefetch 1
# hands them out in turn).
sleep 1
$python examples/python/producer.py --url "$url" --count 200 --queue py.tasks
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

# kombu: publishes 100 orders (and events its binding must filter out), then consumes them.
kombu_out="$(timeout 60 "$python" examples/python/kombu_consumer.py --url "$url" --count 100 --idle-timeout 5 2>&1)" || {
  echo "kombu against warren failed:" >&2
  echo "$kombu_out" >&2
  exit 1
}
echo "$kombu_out"
if ! grep -q '^kombu consumer got 100 of 100 orders' <<<"$kombu_out"; then
  echo "kombu against warren: expected 100 of 100 orders" >&2
  exit 1
fi

# Celery: a worker, then the client's checks.
celery_log="$(mktemp)"
BROKER_URL="amqp://guest:guest@127.0.0.1:$port//" timeout 120 "$venv/bin/celery" \
  --workdir examples/python/celery_app -A tasks worker --loglevel=warning --concurrency=2 \
  >"$celery_log" 2>&1 &
celery_pid=$!
if ! (cd examples/python/celery_app && BROKER_URL="amqp://guest:guest@127.0.0.1:$port//" timeout 90 "$python" client.py); then
  echo "Celery against warren failed; worker log:" >&2
  cat "$celery_log" >&2
  kill -TERM "$celery_pid" 2>/dev/null || true
  exit 1
fi
# timeout passes the TERM on to the worker, which shuts down warmly.
kill -TERM "$celery_pid" 2>/dev/null || true
wait "$celery_pid" 2>/dev/null || true
rm -f "$celery_log"
echo "Celery against warren: ok"
