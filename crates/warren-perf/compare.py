#!/usr/bin/env python3
"""Helpers for compare.sh (Warren vs RabbitMQ, and LavinMQ, scenario matrix).

  compare.py rss PID                          resident memory of PID in bytes (VmRSS)
  compare.py delete-queues PORT NAME...       delete queues (missing ones are fine)
  compare.py footprint PORT PID QUEUES CONNS  scenario (h): declare QUEUES queues on one
                                              channel, open CONNS idle connections, print
                                              one JSON object with RSS and rates, clean up
  compare.py record ID NAME BROKER RUN OUT ERR [K=V...]
                                              one JSON line from a run's stdout/stderr files
  compare.py table FILE...                    the table of compare.sh's JSON lines

Needs python3 and pika (Debian: python3-pika). Talks to 127.0.0.1 only.
"""
import json
import statistics
import sys
import time


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise SystemExit(f"no VmRSS for pid {pid}")


def connect(port):
    import pika

    params = pika.ConnectionParameters(
        host="127.0.0.1",
        port=int(port),
        credentials=pika.PlainCredentials("guest", "guest"),
        heartbeat=0,
        blocked_connection_timeout=60,
        socket_timeout=30,
        stack_timeout=20,
        connection_attempts=1,
    )
    return pika.BlockingConnection(params)


def delete_queues(port, names):
    conn = connect(port)
    ch = conn.channel()
    for name in names:
        ch.queue_delete(queue=name)
    conn.close()


def footprint(port, pid, queues, conns):
    pid, queues, conns = int(pid), int(queues), int(conns)
    names = [f"warren-compare-h-{i}" for i in range(queues)]
    delete_queues(port, names)
    before = rss(pid)
    conn = connect(port)
    ch = conn.channel()
    t0 = time.monotonic()
    for name in names:
        ch.queue_declare(queue=name)
    declare_secs = time.monotonic() - t0
    after_queues = rss(pid)
    idle, refused = [], None
    t0 = time.monotonic()
    try:
        for _ in range(conns):
            try:
                idle.append(connect(port))
            except Exception as e:  # e.g. the broker's file-descriptor limit
                refused = f"connection {len(idle) + 1} failed: {type(e).__name__}"
                break
        connect_secs = time.monotonic() - t0
        time.sleep(2)  # let the broker settle its per-connection state
        after_conns = rss(pid)
    finally:
        for c in idle:
            try:
                c.close()
            except Exception:  # a connection the broker dropped is closed already
                pass
        t0 = time.monotonic()
        for name in names:
            ch.queue_delete(queue=name)
        delete_secs = time.monotonic() - t0
        conn.close()
    print(
        json.dumps(
            {
                "queues": queues,
                "connections": len(idle),
                "rss_before": before,
                "rss_after_queues": after_queues,
                "rss_after_conns": after_conns,
                "rss_delta": after_conns - before,
                "declare_rate": queues / declare_secs,
                "connect_rate": len(idle) / connect_secs,
                "refused": refused,
                "delete_rate": queues / delete_secs,
            }
        )
    )


# (label, key, ratio target vs RabbitMQ, "higher" or "lower" is better, number format)
METRICS = {
    "rate": ("received msg/s", "received_mean_rate", 3.0, "higher", ",.0f"),
    "rate4": ("received msg/s", "received_mean_rate", 4.0, "higher", ",.0f"),
    "stream_rate": ("received msg/s (all readers)", "received_mean_rate", None, "higher", ",.0f"),
    "sent": ("sent msg/s", "sent_mean_rate", None, "higher", ",.0f"),
    "p50": ("latency p50 µs", "latency_p50_overall_us", None, "lower", ",.0f"),
    "p99": ("latency p99 µs", "latency_p99_overall_us", 1.0, "lower", ",.0f"),
    "rss_per_msg": ("RSS B per queued msg", "rss_per_msg", 0.25, "lower", ",.0f"),
    "pub_rate": ("publish+confirm msg/s", "sent_mean_rate", None, "higher", ",.0f"),
    "pub_rate4": ("publish+confirm msg/s", "sent_mean_rate", 4.0, "higher", ",.0f"),
    "h_rss": ("RSS growth MB", "rss_delta_mb", 0.25, "lower", ",.1f"),
    "h_rss_abs": ("RSS total MB", "rss_after_conns_mb", None, "lower", ",.1f"),
    "h_declare": ("queue.declare/s", "declare_rate", None, "higher", ",.0f"),
    "h_connect": ("connections/s", "connect_rate", None, "higher", ",.0f"),
    "h_conns": ("idle connections held", "connections", None, "higher", ",.0f"),
}
SCENARIO_METRICS = {
    "g": ["rss_per_msg", "pub_rate"],
    "p": ["rss_per_msg", "pub_rate"],
    "h": ["h_rss", "h_rss_abs", "h_conns", "h_declare", "h_connect"],
    "f": ["p50", "p99"],
    "c": ["rate4"],
    "pub": ["pub_rate4"],
    "s1": ["stream_rate", "sent"],
    "s3": ["stream_rate", "sent"],
}
# The metrics whose row also shows broker CPU µs per message.
CPU_METRICS = ("rate", "rate4", "stream_rate", "pub_rate", "pub_rate4", "p99")
BROKERS = {"warren": "Warren", "rabbitmq": "RabbitMQ", "lavinmq": "LavinMQ"}


def table(files):
    rows = [json.loads(line) for f in files for line in open(f) if line.strip()]
    for r in rows:
        s = r.get("summary")
        if isinstance(s, dict) and "rss_after" in r and s.get("confirmed_total"):
            s["rss_per_msg"] = (r["rss_after"] - r["rss_before"]) / s["confirmed_total"]
        if isinstance(s, dict) and "rss_delta" in s:
            s["rss_delta_mb"] = s["rss_delta"] / 1e6
            s["rss_after_conns_mb"] = s["rss_after_conns"] / 1e6
    # Brokers in the order of BROKERS, those that appear in the rows only.
    present = [b for b in BROKERS if any(r["broker"] == b for r in rows)]
    others = [b for b in present if b != "warren"]

    def values(sc, broker, key):
        return [
            r["summary"][key]
            for r in rows
            if r["id"] == sc
            and r["broker"] == broker
            and isinstance(r.get("summary"), dict)
            and r["summary"].get(key) is not None
        ]

    def fig(v, f):
        if not v:
            return "-"
        m = statistics.median(v)
        if len(v) == 1:
            return format(m, f)
        return f"{format(m, f)} ({format(min(v), f)}–{format(max(v), f)})"

    def ratio(w, o):
        if w and o and statistics.median(o) > 0:
            return statistics.median(w) / statistics.median(o)
        return None

    names = [BROKERS[b] for b in present]
    print(
        "| scenario | figure | "
        + " | ".join(names)
        + " | "
        + " | ".join(f"Warren ÷ {BROKERS[b]}" for b in others)
        + " | target (vs RabbitMQ) | broker CPU µs/msg "
        + " / ".join(names)
        + " |"
    )
    print("|---" * (4 + len(present) + len(others)) + "|")
    order = list(dict.fromkeys((r["id"], r["scenario"]) for r in rows))
    for sc, name in order:
        fails = {
            b: sum(1 for r in rows if r["id"] == sc and r["broker"] == b and r.get("error"))
            for b in present
        }
        for m in SCENARIO_METRICS.get(sc, ["rate"]):
            label, key, target, better, f = METRICS[m]
            figs = {b: values(sc, b, key) for b in present}
            ratios = []
            for b in others:
                q = ratio(figs["warren"], figs[b])
                ratios.append("-" if q is None else f"{q:.2f}×")
            verdict = ""
            if target is not None:
                q = ratio(figs["warren"], figs.get("rabbitmq", []))
                if q is None:
                    verdict = "not measured"
                else:
                    ok = q >= target if better == "higher" else q <= target
                    sign = "≥" if better == "higher" else "≤"
                    verdict = f"{sign} {target:g}×: {'**met**' if ok else '**missed**'}"
            cpu = ""
            if m in CPU_METRICS:
                cpu = " / ".join(
                    fig(values(sc, b, "broker_cpu_us_per_msg"), ".2f") for b in present
                )
            failed = "".join(
                f" ({n} failed run(s) on {b})" for b, n in fails.items() if n
            )
            cells = [fig(figs[b], f) for b in present] + ratios
            print(
                f"| ({sc}) {name}{failed} | {label} | "
                + " | ".join(cells)
                + f" | {verdict} | {cpu} |"
            )
    loads = [r["load1"] for r in rows]
    print(
        f"\n{len(rows)} runs; median (min–max) over runs; 1-minute load average after "
        f"each run {min(loads):.2f}–{max(loads):.2f}; raw JSON: {' '.join(files)}"
    )
    for r in rows:
        if isinstance(r.get("summary"), dict) and r["summary"].get("refused"):
            print(f"- ({r['id']}) {r['broker']} run {r['run']}: {r['summary']['refused']}")
        if isinstance(r.get("summary"), dict) and r["summary"].get("stream_offset_regressions"):
            print(
                f"- ({r['id']}) {r['broker']} run {r['run']}: "
                f"{r['summary']['stream_offset_regressions']} stream deliveries out of order"
            )
        if r.get("error"):
            print(f"- ({r['id']}) {r['broker']} run {r['run']} failed: {r['error']}")


def record(sc, name, broker, run, out, err, *extra):
    """One JSON line for a run: the summary (warren-perf's or the footprint helper's
    JSON on OUT) or, when the run failed, the last line of ERR."""
    with open("/proc/loadavg") as f:
        load1 = float(f.read().split()[0])
    row = {"id": sc, "scenario": name, "broker": broker, "run": int(run), "load1": load1}
    try:
        row["summary"] = json.loads(open(out).read())
    except ValueError:
        lines = [l.strip() for l in open(err, errors="replace") if l.strip()]
        row["summary"] = None
        row["error"] = " / ".join(lines[-2:]) if lines else "no output"
    for kv in extra:
        k, v = kv.split("=", 1)
        row[k] = int(v)
    print(json.dumps(row))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "rss":
        print(rss(int(args[0])))
    elif cmd == "delete-queues":
        delete_queues(args[0], args[1:])
    elif cmd == "footprint":
        footprint(*args)
    elif cmd == "record":
        record(*args)
    elif cmd == "table":
        table(args)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
