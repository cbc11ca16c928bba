#!/usr/bin/env python3
"""Management API at scale: how long GET /api/queues (full objects) takes with N queues,
what it costs the broker in CPU, and whether AMQP traffic stalls meanwhile.

For one broker (Warren or RabbitMQ, both speak the same API): declares N transient
queues in a vhost of their own, runs warren-perf scenario (a) (16 B, auto-ack) for
--secs seconds twice — once alone, once while the list is fetched back to back — and
reports the list's latency, size and broker CPU per call, and scenario (a)'s msg/s and
worst 1-second dip in both runs. Deletes the vhost at the end. Loopback only; bounded.

  mgmt_scale.py --name warren --amqp 5690 --http 15690 --pid PID --perf target/release/warren-perf
"""
import argparse, base64, json, os, statistics, subprocess, sys, time, urllib.request

import pika

VHOST = "mgmt-scale"


def api(args, method, path, body=None, timeout=120):
    req = urllib.request.Request(
        f"http://127.0.0.1:{args.http}{path}", method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Basic " + base64.b64encode(b"guest:guest").decode(),
                 "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def declare_queues(args):
    try:
        api(args, "DELETE", f"/api/vhosts/{VHOST}")
    except Exception:
        pass
    api(args, "PUT", f"/api/vhosts/{VHOST}", {})
    api(args, "PUT", f"/api/permissions/{VHOST}/guest", {"configure": ".*", "write": ".*", "read": ".*"})
    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", args.amqp, VHOST))
    ch = conn.channel()
    t = time.time()
    for i in range(args.queues):
        ch.queue_declare(f"q-{i:05d}", durable=False)
    conn.close()
    return time.time() - t


def perf(args, secs):
    cmd = [args.perf, "--uri", f"amqp://guest:guest@127.0.0.1:{args.amqp}/%2f", "-s", "16", "-a",
           "-z", str(secs), "--json", "--delete-queues", "-u", "mgmt-scale-a",
           "--broker-pid", str(args.pid)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def perf_result(p):
    out, _err = p.communicate(timeout=300)
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--name", required=True)
    p.add_argument("--amqp", type=int, required=True)
    p.add_argument("--http", type=int, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--perf", required=True)
    p.add_argument("--queues", type=int, default=10000)
    p.add_argument("--secs", type=int, default=20)
    args = p.parse_args()

    declare_secs = declare_queues(args)
    alone = perf(args, args.secs)
    alone_summary = perf_result(alone)

    loaded = perf(args, args.secs)
    time.sleep(3)
    lists = []
    deadline = time.time() + args.secs - 6
    while time.time() < deadline:
        cpu0, t0 = cpu_seconds(args.pid), time.time()
        body = api(args, "GET", "/api/queues")
        elapsed, cpu = time.time() - t0, cpu_seconds(args.pid) - cpu0
        n = len(json.loads(body))
        lists.append({"secs": elapsed, "bytes": len(body), "queues": n, "broker_cpu_secs": cpu})
    loaded_summary = perf_result(loaded)
    api(args, "DELETE", f"/api/vhosts/{VHOST}")

    secs = [l["secs"] for l in lists]
    result = {
        "broker": args.name,
        "queues": args.queues,
        "declare_secs": round(declare_secs, 2),
        "list_calls": len(lists),
        "list_secs_median": round(statistics.median(secs), 3) if secs else None,
        "list_secs_max": round(max(secs), 3) if secs else None,
        "list_bytes": lists[0]["bytes"] if lists else None,
        "list_queues_seen": lists[0]["queues"] if lists else None,
        "list_broker_cpu_secs_median": round(statistics.median(l["broker_cpu_secs"] for l in lists), 3) if lists else None,
        "a_alone_msgs_per_sec": round(alone_summary["received_mean_rate"]),
        "a_while_listing_msgs_per_sec": round(loaded_summary["received_mean_rate"]),
        "a_alone_worst_1s": round(alone_summary["received_rate"]["min"]),
        "a_while_listing_worst_1s": round(loaded_summary["received_rate"]["min"]),
        "a_alone_p99_us": alone_summary["latency_p99_overall_us"],
        "a_while_listing_p99_us": loaded_summary["latency_p99_overall_us"],
        "a_alone_broker_cpu_us_per_msg": alone_summary.get("broker_cpu_us_per_msg"),
        "a_while_listing_broker_cpu_us_per_msg": loaded_summary.get("broker_cpu_us_per_msg"),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
