#!/usr/bin/env bash
# Runs the Node.js examples (examples/node, amqplib pinned in its package-lock.json) against a
# release warren on a free port: two workers consume from one durable queue, the producer
# publishes 200 tasks on a ConfirmChannel, and together the workers must do all 200, each
# exactly once, with both doing some. `npm ci` installs examples/node/node_modules once
# (again when package-lock.json is newer). Exits non-zero on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --release --bin warren
warren="${CARGO_TARGET_DIR:-target}/release/warren"
if [ ! -d examples/node/node_modules/amqplib ] \
   || [ examples/node/package-lock.json -nt examples/node/node_modules/.package-lock.json ]; then
  (cd examples/node && npm ci --no-audit --no-fund)
fi

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
data_dir="$(mktemp -d)"
work="$(mktemp -d)"
"$warren" --listen "127.0.0.1:$port" --management-listen off --data-dir "$data_dir" --log warn &
pid=$!
cleanup() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$data_dir" "$work"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  "$warren" --check --listen "127.0.0.1:$port" 2>/dev/null && break
  sleep 0.1
done
"$warren" --check --listen "127.0.0.1:$port"
url="amqp://guest:guest@127.0.0.1:$port/%2f"

count=200
node examples/node/worker.js --url "$url" --queue node.tasks --idle-timeout 2 \
  --record "$work/a.ids" >"$work/a.out" 2>&1 &
a=$!
node examples/node/worker.js --url "$url" --queue node.tasks --idle-timeout 2 \
  --record "$work/b.ids" >"$work/b.out" 2>&1 &
b=$!
# Both workers are consuming before the tasks arrive, so both get some (prefetch 1 hands
# them out in turn).
sleep 1
status=0
node examples/node/producer.js --url "$url" --queue node.tasks --count "$count" || status=1
wait "$a" || status=1
wait "$b" || status=1
cat "$work/a.out" "$work/b.out"
done_a="$(grep -o 'worker did [0-9]*' "$work/a.out" | grep -o '[0-9]*$' || echo 0)"
done_b="$(grep -o 'worker did [0-9]*' "$work/b.out" | grep -o '[0-9]*$' || echo 0)"
distinct="$(cat "$work/a.ids" "$work/b.ids" | sort -u | wc -l)"
twice="$(cat "$work/a.ids" "$work/b.ids" | sort | uniq -d | wc -l)"
expected="$(seq 0 $((count - 1)) | sed 's/^/task-/' | sort)"
missing="$(comm -23 <(echo "$expected") <(sort -u "$work/a.ids" "$work/b.ids") | wc -l)"
echo "node workers: $done_a + $done_b tasks; $distinct distinct, $twice done twice, $missing of $count missing"
if [ "$status" -ne 0 ] || [ "$distinct" -ne "$count" ] || [ "$twice" -ne 0 ] || [ "$missing" -ne 0 ] \
   || [ "$((done_a + done_b))" -ne "$count" ] || [ "$done_a" -eq 0 ] || [ "$done_b" -eq 0 ]; then
  echo "node examples failed: expected $count tasks, each done once, shared by both workers" >&2
  exit 1
fi
echo "Node.js (amqplib) against warren: ok"
