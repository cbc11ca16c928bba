#!/usr/bin/env bash
# Starts a second reference RabbitMQ (Debian's package, as ../shared/tools/rabbitmq-up does)
# with a TLS listener, for compare.sh TLS=1. It leaves the shared reference broker alone.
#
#   TLS_DIR=/tmp/certs crates/warren-perf/rabbitmq-tls-up.sh        # AMQP 127.0.0.1:5675, amqps :5676
#   crates/warren-perf/rabbitmq-tls-up.sh stop
#
# TLS_DIR holds ca.pem, server.pem and server.key (PEM; compare.sh TLS=1 makes them with
# openssl). RMQ_PORT / RMQ_TLS_PORT change the ports. guest/guest, vhost "/".
set -euo pipefail
port=${RMQ_PORT:-5675}
tls_port=${RMQ_TLS_PORT:-5676}
dir=/tmp/rabbitmq-tls-$port
export RABBITMQ_CONFIG_FILE=$dir/rabbitmq RABBITMQ_NODENAME=rabbit$port@localhost \
       RABBITMQ_NODE_PORT=$port RABBITMQ_DIST_PORT=$((port + 20000)) \
       RABBITMQ_MNESIA_BASE=$dir/mnesia RABBITMQ_LOG_BASE=$dir/log \
       RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins

if [[ ${1:-} == stop ]]; then
  rabbitmqctl -n "$RABBITMQ_NODENAME" stop >/dev/null 2>&1 && echo "stopped RabbitMQ on $port" || echo "no RabbitMQ of ours on $port"
  exit 0
fi
if (exec 3<>/dev/tcp/127.0.0.1/"$tls_port") 2>/dev/null; then
  echo "something already listens on 127.0.0.1:$tls_port (RabbitMQ with TLS assumed up)"
  exit 0
fi
: "${TLS_DIR:?TLS_DIR must name a directory with ca.pem, server.pem and server.key}"
mkdir -p "$dir/log" "$dir/mnesia" "$dir/tls"
cp "$TLS_DIR/ca.pem" "$TLS_DIR/server.pem" "$TLS_DIR/server.key" "$dir/tls/"
cat >"$dir/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$port
listeners.ssl.default = 127.0.0.1:$tls_port
ssl_options.cacertfile = $dir/tls/ca.pem
ssl_options.certfile = $dir/tls/server.pem
ssl_options.keyfile = $dir/tls/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
ssl_options.versions.1 = tlsv1.3
ssl_options.versions.2 = tlsv1.2
loopback_users = none
CONF
echo "[]." >"$dir/enabled_plugins"
chown -R rabbitmq:rabbitmq "$dir" 2>/dev/null || chmod -R a+rwX "$dir"
rabbitmq-server -detached >/dev/null 2>&1
for _ in $(seq 60); do
  if (exec 3<>/dev/tcp/127.0.0.1/"$tls_port") 2>/dev/null; then
    echo "RabbitMQ $(rabbitmqctl -n "$RABBITMQ_NODENAME" version 2>/dev/null) up: amqp://127.0.0.1:$port/  amqps://localhost:$tls_port/"
    exit 0
  fi
  sleep 1
done
echo "RabbitMQ did not come up within 60 s; logs in $dir/log" >&2
exit 1
