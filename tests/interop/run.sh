#!/usr/bin/env bash
# Builds the release `warren`, starts it on a free port with a temporary data directory,
# runs the pika interop script and pika_streams.py against it (and pika_tls.py against its
# amqps listener, with certificates made by openssl), and stops it. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --release --bin warren
target_dir="${CARGO_TARGET_DIR:-target}"
warren="$target_dir/release/warren"

if ! python3 -c 'import pika' 2>/dev/null; then
  pip install --quiet pika || pip install --quiet --break-system-packages pika
fi

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
port="$(free_port)"
tls_port="$(free_port)"
data_dir="$(mktemp -d)"
log="$data_dir.log"
certs="$(mktemp -d)"
# TLS certificates for pika_tls.py (openssl is required: no silent skip): a CA, the
# server's certificate for localhost, a client certificate with CN=guest (EXTERNAL logs
# in as guest), and a second CA the broker's certificate does not chain to.
command -v openssl >/dev/null || { echo "tests/interop/run.sh needs openssl for the TLS check" >&2; exit 1; }
(
  cd "$certs"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=interop CA"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 2 -subj "/CN=other CA"
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost"
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext
  openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/O=interop/CN=guest"
  printf 'extendedKeyUsage=clientAuth\n' >client.ext
  openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 -extfile client.ext
) 2>/dev/null
"$warren" --listen "127.0.0.1:$port" --management-listen off --data-dir "$data_dir" --log warn \
  --amqps-listen "127.0.0.1:$tls_port" --tls-cert "$certs/server.pem" --tls-key "$certs/server.key" \
  --tls-ca "$certs/ca.pem" --tls-verify-peer >"$log" 2>&1 &
pid=$!
cleanup() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$data_dir" "$log" "$certs"
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

if ! python3 tests/interop/pika_streams.py "$port"; then
  echo "pika streams failed; warren log:" >&2
  cat "$log" >&2
  exit 1
fi

if ! python3 tests/interop/pika_tls.py "$tls_port" "$certs"; then
  echo "pika over TLS failed; warren log:" >&2
  cat "$log" >&2
  exit 1
fi
