#!/usr/bin/env bash
# A/B of two Warren binaries on scenario (a) (16 B, auto-ack): both run side by side on
# free ports and are measured alternately, RUNS times SECS seconds each, so machine noise
# hits both alike. For "a new feature must not slow scenario (a)": before and after.
#
# Measured on the 2-core VM: the same binary in both slots came out ~6% apart (the first
# slot ahead), with either run order. So run it twice with the binaries swapped and
# compare each binary's medians across both runs, not one run's two lines.
#
#   crates/warren-perf/ab.sh OLD_WARREN NEW_WARREN [PERF_BIN]     # RUNS=5 SECS=10
#   OPTS="-s 1024 -q 100" crates/warren-perf/ab.sh OLD NEW      # scenario (b) instead of (a)
set -euo pipefail
old=$1; new=$2; perf=${3:-target/release/warren-perf}
RUNS=${RUNS:-5}; SECS=${SECS:-10}; OPTS=${OPTS:--s 16 -a}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
pa=$(free_port); pb=$(free_port)
da=$(mktemp -d); db=$(mktemp -d)
# A binary with a management API gets it on a free port (older ones have none).
mgmt_args() {
  if "$1" --help 2>/dev/null | grep -q -- --management-listen; then
    echo "--management-listen 127.0.0.1:$(free_port)"
  fi
}
# shellcheck disable=SC2046
"$old" --listen "127.0.0.1:$pa" --data-dir "$da" --log warn $(mgmt_args "$old") & ida=$!
# shellcheck disable=SC2046
"$new" --listen "127.0.0.1:$pb" --data-dir "$db" --log warn $(mgmt_args "$new") & idb=$!
trap 'kill $ida $idb 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$da" "$db"' EXIT
sleep 1
out=$(mktemp)
# The order flips every round, so neither slot always runs right after the other.
for round in $(seq 1 "$RUNS"); do
  order="old new"
  if (( round % 2 == 0 )); then order="new old"; fi
  for which in $order; do
    if [[ $which == old ]]; then port=$pa; pid=$ida; else port=$pb; pid=$idb; fi
    # shellcheck disable=SC2086 # OPTS is a list of options
    timeout $((SECS + 30)) "$perf" --uri "amqp://guest:guest@127.0.0.1:$port/%2f" $OPTS \
      -z "$SECS" --json --delete-queues --broker-pid "$pid" 2>/dev/null | tail -1 |
      python3 -c 'import json,sys; d=json.load(sys.stdin); print(sys.argv[1], round(d["received_mean_rate"]), d["broker_cpu_us_per_msg"])' "$which" | tee -a "$out"
  done
done
python3 - "$out" <<'PY'
import statistics, sys
runs = {"old": [], "new": []}
for line in open(sys.argv[1]):
    which, rate, cpu = line.split()
    runs[which].append((int(rate), float(cpu)))
for which, v in runs.items():
    print(f"{which}: median {statistics.median(r for r, _ in v):,.0f} msg/s, "
          f"{statistics.median(c for _, c in v):.3f} broker CPU us/msg over {len(v)} runs")
PY
