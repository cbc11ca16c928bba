#!/usr/bin/env bash
# Runs RabbitMQ's own admin tools against a management HTTP API and checks every step:
#   v1: the Python rabbitmqadmin 3.10.8 (tests/fixtures/rabbitmqadmin)
#   v2: the Rust rabbitmqadmin (crate `rabbitmqadmin`), installed with cargo when missing
#
# Usage: tests/rabbitmqadmin/run.sh [HOST [PORT [USER [PASSWORD]]]]
# or the environment: MGMT_HOST (127.0.0.1), MGMT_PORT (15672), MGMT_USER (guest),
# MGMT_PASSWORD (guest). Optional:
#   AMQP_PORT        AMQP port of the same broker: a pika connection is held open so that
#                    `list connections` has something to show (checked by its client port)
#   AMQP_HOST        defaults to MGMT_HOST
#   RABBITMQADMIN_TOOLS           "v1 v2" (default), or one of them
#   RABBITMQADMIN_V2_VERSION      a version to pass to `cargo install --version` (default: latest)
#   RABBITMQADMIN_STATS_TIMEOUT   seconds to wait for message counts and connections to
#                                 show up in listings (default 30; RabbitMQ refreshes them
#                                 every 5 s)
#
# Each tool works in a vhost of its own, named rabbitmqadmin-compat-<tool>-<pid>, which it
# creates first and which is deleted at the end (also on failure), so nothing else on the
# broker is touched. Exits non-zero, naming the tool and step, at the first failed check.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"

host="${1:-${MGMT_HOST:-127.0.0.1}}"
port="${2:-${MGMT_PORT:-15672}}"
user="${3:-${MGMT_USER:-guest}}"
password="${4:-${MGMT_PASSWORD:-guest}}"
amqp_host="${AMQP_HOST:-$host}"
amqp_port="${AMQP_PORT:-}"
tools="${RABBITMQADMIN_TOOLS:-v1 v2}"
stats_timeout="${RABBITMQADMIN_STATS_TIMEOUT:-30}"

v1_script="$root/tests/fixtures/rabbitmqadmin"
rows="$here/rows.py"
v2_bin="${CARGO_HOME:-$HOME/.cargo}/bin/rabbitmqadmin"
work="$(mktemp -d)"
tool=""
step=""
hold_pid=""
vhosts_made=()

log() { echo "[$tool] $*"; }

fail() {
  echo "FAIL [${tool:-setup}] step '${step}': $*" >&2
  exit 1
}

# The management API itself, for cleanup only (no tool involved).
api_delete_vhost() {
  python3 - "$host" "$port" "$user" "$password" "$1" <<'EOF' || true
import base64, sys, urllib.parse, urllib.request, urllib.error
host, port, user, password, vhost = sys.argv[1:]
req = urllib.request.Request(
    "http://%s:%s/api/vhosts/%s" % (host, port, urllib.parse.quote(vhost, safe="")),
    method="DELETE",
    headers={"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()})
try:
    urllib.request.urlopen(req, timeout=10)
except urllib.error.HTTPError as e:
    if e.code != 404:
        print("cleanup: DELETE vhost %s -> %d" % (vhost, e.code), file=sys.stderr)
except Exception as e:
    print("cleanup: DELETE vhost %s: %s" % (vhost, e), file=sys.stderr)
EOF
}

cleanup() {
  local rc=$?
  if [ -n "$hold_pid" ]; then
    kill -TERM "$hold_pid" 2>/dev/null || true
    wait "$hold_pid" 2>/dev/null || true
  fi
  for vh in ${vhosts_made[@]+"${vhosts_made[@]}"}; do
    api_delete_vhost "$vh"
  done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

# run STEP CMD...: runs CMD, keeps its stdout in $out, fails the step when it exits non-zero.
out=""
run() {
  step="$1"
  shift
  local rc=0
  out="$("$@" 2>"$work/stderr")" || rc=$?
  if [ "$rc" -ne 0 ]; then
    fail "command exited $rc: $*
--- stdout:
$out
--- stderr:
$(cat "$work/stderr")"
  fi
}

# eventually SECONDS CHECK-FUNCTION: calls the function (which sets $why on failure) until it
# succeeds or SECONDS have passed.
why=""
eventually() {
  local deadline=$((SECONDS + $1))
  shift
  while true; do
    if "$@"; then
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      fail "$why"
    fi
    sleep 1
  done
}

need_rows() { # need_rows FORMAT WHAT ARGS... : asserts that $out has a matching row
  local fmt="$1" what="$2"
  shift 2
  if ! printf '%s' "$out" | python3 "$rows" "$fmt" "$@"; then
    fail "$what not found in the listing:
$out"
  fi
}

no_rows() { # no_rows FORMAT WHAT ARGS... : asserts that $out has no matching row
  local fmt="$1" what="$2"
  shift 2
  if printf '%s' "$out" | python3 "$rows" "$fmt" "$@"; then
    fail "$what is still listed:
$out"
  fi
}

# ---------------------------------------------------------------- tool adapters
# Each tool implements the same operations; listings come back in $out as rows that
# rows.py reads in the tool's format ($fmt), with the tool's own column names.

v1() { python3 "$v1_script" -H "$host" -P "$port" -u "$user" -p "$password" "$@"; }
v2() { "$v2_bin" --host "$host" --port "$port" --username "$user" --password "$password" --table-style markdown "$@"; }

v1_setup() {
  fmt=json
  q_messages=messages
  x_type=type
  conn_port=peer_port
  conn_user=user
}
v2_setup() {
  fmt=md
  q_messages=message_count
  x_type=exchange_type
  conn_port=client_port
  conn_user=username
}

v1_declare_vhost() { v1 declare vhost name="$vh"; }
v2_declare_vhost() { v2 declare vhost --name "$vh"; }
v1_grant() { v1 declare permission vhost="$vh" user="$user" configure='.*' write='.*' read='.*'; }
v2_grant() { v2 --vhost "$vh" declare permissions --username "$user" --configure '.*' --write '.*' --read '.*'; }
v1_delete_vhost() { v1 delete vhost name="$vh"; }
v2_delete_vhost() { v2 delete vhost --name "$vh"; }

v1_list_queues() { v1 -V "$vh" -f raw_json list queues name messages; }
v2_list_queues() { v2 --vhost "$vh" list queues; }
v1_list_exchanges() { v1 -V "$vh" -f raw_json list exchanges name type; }
v2_list_exchanges() { v2 --vhost "$vh" list exchanges; }
v1_list_bindings() { v1 -V "$vh" -f raw_json list bindings source destination destination_type routing_key properties_key; }
v2_list_bindings() { v2 list bindings; } # v2 lists the bindings of every vhost
v1_list_connections() { v1 -f raw_json list connections name user peer_port; }
v2_list_connections() { v2 list connections; }

v1_declare_queue() { v1 -V "$vh" declare queue name="$q" durable=true; }
v2_declare_queue() { v2 --vhost "$vh" declare queue --name "$q" --durable true; }
v1_declare_exchange() { v1 -V "$vh" declare exchange name="$x" type=direct; }
v2_declare_exchange() { v2 --vhost "$vh" declare exchange --name "$x" --type direct; }
v1_declare_binding() { v1 -V "$vh" declare binding source="$x" destination_type=queue destination="$q" routing_key="$rk"; }
v2_declare_binding() { v2 --vhost "$vh" declare binding --source "$x" --destination-type queue --destination "$q" --routing-key "$rk"; }

v1_publish() { v1 -V "$vh" publish exchange="$x" routing_key="$rk" payload="$payload"; }
v2_publish() { v2 --vhost "$vh" publish message --exchange "$x" --routing-key "$rk" --payload "$payload"; }
# both leave the message in the queue (ack_requeue_true), so that purge has something to do
v1_get() { v1 -V "$vh" -f raw_json get queue="$q" ackmode=ack_requeue_true; }
v2_get() { v2 --vhost "$vh" get messages --queue "$q" --ack-mode ack_requeue_true; }
v1_purge() { v1 -V "$vh" purge queue name="$q"; }
v2_purge() { v2 --vhost "$vh" purge queue --name "$q"; }

v1_export() { v1 export "$1"; }
v2_export() { v2 definitions export --file "$1"; }
v1_export_vhost() { v1 -V "$vh" export "$1"; }
v2_export_vhost() { v2 --vhost "$vh" definitions export_from_vhost --file "$1"; }
v1_import() { v1 import "$1"; }
v2_import() { v2 definitions import --file "$1"; }
v1_import_vhost() { v1 -V "$vh" import "$1"; }
v2_import_vhost() { v2 --vhost "$vh" definitions import_into_vhost --file "$1"; }

v1_delete_binding() { v1 -V "$vh" delete binding source="$x" destination_type=queue destination="$q" properties_key="$1"; }
v2_delete_binding() { v2 --vhost "$vh" delete binding --source "$x" --destination-type queue --destination "$q" --routing-key "$rk"; }
v1_delete_queue() { v1 -V "$vh" delete queue name="$q"; }
v2_delete_queue() { v2 --vhost "$vh" delete queue --name "$q"; }
v1_delete_exchange() { v1 -V "$vh" delete exchange name="$x"; }
v2_delete_exchange() { v2 --vhost "$vh" delete exchange --name "$x"; }

# ---------------------------------------------------------------- checks shared by both tools

queue_listed() {
  run "list queues" "${tool}_list_queues"
  need_rows "$fmt" "queue $q" --where "name=$q"
}
queue_gone() {
  run "list queues" "${tool}_list_queues"
  no_rows "$fmt" "queue $q" --where "name=$q"
}
exchange_listed() {
  run "list exchanges" "${tool}_list_exchanges"
  need_rows "$fmt" "direct exchange $x" --where "name=$x" --where "$x_type=direct"
}
exchange_gone() {
  run "list exchanges" "${tool}_list_exchanges"
  no_rows "$fmt" "exchange $x" --where "name=$x"
}
binding_where() {
  local w=(--where "source=$x" --where "destination=$q" --where "routing_key=$rk" --where "destination_type=queue")
  if [ "$tool" = v2 ]; then w+=(--where "vhost=$vh"); fi
  printf '%s\n' "${w[@]}"
}
binding_listed() {
  run "list bindings" "${tool}_list_bindings"
  mapfile -t w < <(binding_where)
  need_rows "$fmt" "binding $x -> $q ($rk)" "${w[@]}"
}
binding_gone() {
  run "list bindings" "${tool}_list_bindings"
  mapfile -t w < <(binding_where)
  no_rows "$fmt" "binding $x -> $q ($rk)" "${w[@]}"
}

expected_messages=""
queue_has_expected() {
  run "list queues" "${tool}_list_queues"
  local n
  n="$(printf '%s' "$out" | python3 "$rows" "$fmt" --where "name=$q" --get "$q_messages" || true)"
  if [ "$n" = "$expected_messages" ]; then
    return 0
  fi
  why="queue $q: expected $q_messages = $expected_messages, listed '$n' (after ${stats_timeout}s):
$out"
  return 1
}
expect_messages() { # expect_messages STEP N
  step="$1"
  expected_messages="$2"
  eventually "$stats_timeout" queue_has_expected
}

connection_listed() {
  run "list connections" "${tool}_list_connections"
  if printf '%s' "$out" | python3 "$rows" "$fmt" --where "$conn_port=$client_port" --where "$conn_user=$user"; then
    return 0
  fi
  why="no connection of user $user from client port $client_port listed (after ${stats_timeout}s):
$out"
  return 1
}

# check_definitions STEP FILE SCOPE: the export holds our queue, exchange and binding
# (SCOPE "cluster": objects carry "vhost"; SCOPE "vhost": they don't).
check_definitions() {
  step="$1"
  local problem
  problem="$(python3 - "$2" "$3" "$vh" "$q" "$x" "$rk" <<'EOF'
import json, sys
path, scope, vh, q, x, rk = sys.argv[1:]
try:
    d = json.load(open(path))
except Exception as e:
    print("not a JSON file: %s" % e); sys.exit()
def mine(o):
    return scope == "vhost" or o.get("vhost") == vh
missing = []
if scope == "cluster" and not any(v.get("name") == vh for v in d.get("vhosts", [])):
    missing.append("vhost %s" % vh)
if not any(o.get("name") == q and mine(o) and o.get("durable") is True for o in d.get("queues", [])):
    missing.append("durable queue %s" % q)
if not any(o.get("name") == x and mine(o) and o.get("type") == "direct" for o in d.get("exchanges", [])):
    missing.append("direct exchange %s" % x)
if not any(o.get("source") == x and o.get("destination") == q and o.get("destination_type") == "queue"
           and o.get("routing_key") == rk and mine(o) for o in d.get("bindings", [])):
    missing.append("binding %s -> %s (%s)" % (x, q, rk))
if missing:
    print("missing from %s export: %s" % (scope, ", ".join(missing)))
EOF
)"
  if [ -n "$problem" ]; then
    fail "$problem (file: $(head -c 2000 "$2"))"
  fi
}

# only_our_vhost IN OUT: a cluster-wide definitions file reduced to our vhost (no users,
# nothing of other vhosts), so that importing it cluster-wide touches nothing else.
only_our_vhost() {
  python3 - "$1" "$2" "$vh" <<'EOF'
import json, sys
src, dst, vh = sys.argv[1:]
d = json.load(open(src))
out = {k: v for k, v in d.items() if not isinstance(v, list)}
out["users"] = []
out["global_parameters"] = []
out["vhosts"] = [v for v in d.get("vhosts", []) if v.get("name") == vh]
for key in ("permissions", "topic_permissions", "parameters", "policies", "queues", "exchanges", "bindings"):
    out[key] = [o for o in d.get(key, []) if o.get("vhost") == vh]
json.dump(out, open(dst, "w"))
EOF
}

# ---------------------------------------------------------------- the scenario

scenario() {
  tool="$1"
  "${tool}_setup"
  vh="rabbitmqadmin-compat-$tool-$$"
  q="compat.q.$tool"
  x="compat.x.$tool"
  rk="compat.rk.$tool"
  payload="hello from rabbitmqadmin $tool"
  log "vhost $vh on $host:$port"

  vhosts_made+=("$vh")
  run "declare vhost" "${tool}_declare_vhost"
  run "declare permissions" "${tool}_grant"

  # Listings of a fresh vhost.
  run "list queues (empty vhost)" "${tool}_list_queues"
  no_rows "$fmt" "a queue in the new vhost" --where "name=$q"
  run "list exchanges (empty vhost)" "${tool}_list_exchanges"
  need_rows "$fmt" "exchange amq.direct" --where "name=amq.direct" --where "$x_type=direct"
  need_rows "$fmt" "exchange amq.topic" --where "name=amq.topic"
  run "list bindings (empty vhost)" "${tool}_list_bindings"
  run "list connections" "${tool}_list_connections"
  if [ -n "$amqp_port" ]; then
    rm -f "$work/client_port"
    python3 "$here/hold_connection.py" "$amqp_host" "$amqp_port" "$vh" "$user" "$password" "$work/client_port" 600 &
    hold_pid=$!
    for _ in $(seq 1 100); do
      [ -s "$work/client_port" ] && break
      kill -0 "$hold_pid" 2>/dev/null || break
      sleep 0.1
    done
    step="open an AMQP connection"
    [ -s "$work/client_port" ] || fail "pika could not connect to $amqp_host:$amqp_port vhost $vh"
    client_port="$(cat "$work/client_port")"
    step="list connections (with an AMQP client)"
    eventually "$stats_timeout" connection_listed
    kill -TERM "$hold_pid" 2>/dev/null || true
    wait "$hold_pid" 2>/dev/null || true
    hold_pid=""
  fi
  log "listings ok"

  # Declare a queue, an exchange and a binding between them.
  run "declare queue" "${tool}_declare_queue"
  step="declare queue: listed"
  queue_listed
  run "declare exchange" "${tool}_declare_exchange"
  step="declare exchange: listed"
  exchange_listed
  run "declare binding" "${tool}_declare_binding"
  step="declare binding: listed"
  binding_listed
  log "declare ok"

  # Publish through the exchange; the queue holds 1 message.
  run "publish" "${tool}_publish"
  case "$out" in
    *"NOT routed"*) fail "the message was not routed: $out" ;;
    *"Message published"*) ;;
    *) fail "unexpected output: $out" ;;
  esac
  expect_messages "list queues: 1 message after publish" 1
  log "publish ok"

  # Get the message back (requeued).
  run "get" "${tool}_get"
  local got
  got="$(printf '%s' "$out" | python3 "$rows" "$fmt" --get payload || true)"
  [ "$got" = "$payload" ] || fail "payload: expected '$payload', got '$got' from:
$out"
  got="$(printf '%s' "$out" | python3 "$rows" "$fmt" --get routing_key || true)"
  [ "$got" = "$rk" ] || fail "routing_key: expected '$rk', got '$got' from:
$out"
  got="$(printf '%s' "$out" | python3 "$rows" "$fmt" --get exchange || true)"
  [ "$got" = "$x" ] || fail "exchange: expected '$x', got '$got' from:
$out"
  expect_messages "list queues: still 1 message after get with requeue" 1
  log "get ok"

  # Purge.
  run "purge" "${tool}_purge"
  expect_messages "list queues: 0 messages after purge" 0
  log "purge ok"

  # Export: cluster-wide and of the vhost alone.
  run "export definitions" "${tool}_export" "$work/$tool-all.json"
  check_definitions "export definitions: contents" "$work/$tool-all.json" cluster
  run "export vhost definitions" "${tool}_export_vhost" "$work/$tool-vhost.json"
  check_definitions "export vhost definitions: contents" "$work/$tool-vhost.json" vhost
  log "export ok"

  # Delete the binding, the queue and the exchange.
  local props="$rk"
  if [ "$tool" = v1 ]; then
    run "delete binding: find properties_key" "${tool}_list_bindings"
    props="$(printf '%s' "$out" | python3 "$rows" "$fmt" --where "source=$x" --where "destination=$q" --where "routing_key=$rk" --get properties_key || true)"
    [ -n "$props" ] || fail "no properties_key for binding $x -> $q ($rk) in:
$out"
  fi
  run "delete binding" "${tool}_delete_binding" "$props"
  step="delete binding: gone"
  binding_gone
  run "delete queue" "${tool}_delete_queue"
  step="delete queue: gone"
  queue_gone
  run "delete exchange" "${tool}_delete_exchange"
  step="delete exchange: gone"
  exchange_gone
  log "delete ok"

  # Import the vhost's export back into the vhost.
  run "import vhost definitions" "${tool}_import_vhost" "$work/$tool-vhost.json"
  step="import vhost definitions: queue back"
  queue_listed
  step="import vhost definitions: exchange back"
  exchange_listed
  step="import vhost definitions: binding back"
  binding_listed
  log "import into vhost ok"

  # And the cluster-wide export (reduced to our vhost) through the cluster-wide import.
  run "delete queue (before cluster-wide import)" "${tool}_delete_queue"
  step="delete queue (before cluster-wide import): gone"
  queue_gone
  only_our_vhost "$work/$tool-all.json" "$work/$tool-ours.json"
  run "import definitions" "${tool}_import" "$work/$tool-ours.json"
  step="import definitions: queue back"
  queue_listed
  step="import definitions: binding back"
  binding_listed
  log "cluster-wide import ok"

  # Clean up with the tool itself.
  run "cleanup: delete queue" "${tool}_delete_queue"
  run "cleanup: delete exchange" "${tool}_delete_exchange"
  run "cleanup: delete vhost" "${tool}_delete_vhost"
  log "all steps passed"
}

# ---------------------------------------------------------------- prerequisites

ensure_v2() {
  tool=v2
  step="install rabbitmqadmin v2"
  if [ -x "$v2_bin" ] && "$v2_bin" --version 2>/dev/null | grep -Eq '^rabbitmqadmin 2\.'; then
    return
  fi
  echo "installing rabbitmqadmin v2 with cargo (this takes a few minutes)"
  local version_args=()
  if [ -n "${RABBITMQADMIN_V2_VERSION:-}" ]; then
    version_args=(--version "$RABBITMQADMIN_V2_VERSION")
  fi
  cargo install --locked rabbitmqadmin ${version_args[@]+"${version_args[@]}"} ||
    fail "cargo install --locked rabbitmqadmin failed"
  "$v2_bin" --version 2>/dev/null | grep -Eq '^rabbitmqadmin 2\.' ||
    fail "$v2_bin --version does not report version 2"
}

if [ -n "$amqp_port" ] && ! python3 -c 'import pika' 2>/dev/null; then
  pip install --quiet pika || pip install --quiet --break-system-packages pika
fi

passed=0
failed=0
for t in $tools; do
  case "$t" in
    v1) ;;
    v2) ensure_v2 ;;
    *) tool="$t"; step="arguments"; fail "unknown tool (use v1 and/or v2)" ;;
  esac
  scenario "$t"
  passed=$((passed + 1))
done
tool=""
echo "rabbitmqadmin compatibility: $passed passed, $failed failed"
