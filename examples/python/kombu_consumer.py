#!/usr/bin/env python3
"""Topic-routed consumer and producer with kombu (the messaging library under Celery).

Declares a durable topic exchange `kombu.events` and a durable queue `kombu.orders`
bound to it with `order.*`, then consumes with kombu's Consumer: JSON bodies, a
prefetch window of 10, and a manual ack after each message is handled. Publishing goes
through kombu's Producer on a connection with publisher confirms (transport option
`confirm_publish`), as persistent messages, so each one is on the broker when
`publish` returns.

    python3 examples/python/kombu_consumer.py [--url amqp://guest:guest@127.0.0.1:5672/%2f]
    python3 examples/python/kombu_consumer.py --count 100

Without --count it consumes until interrupted (publish to `kombu.events` with a key
such as `order.created` to feed it). With --count N it first publishes `audit.*` events,
which the binding must leave out, then N `order.*` events, consumes until it has the N
of this run, and prints "kombu consumer got N of N orders"; it exits 1 if an order is
missing or an event that does not match `order.*` reached the queue. Orders left over
from an earlier run are acknowledged and counted apart. Runs unchanged against Warren
and RabbitMQ.
"""
import argparse
import socket
import sys
import time
import uuid

from kombu import Connection, Consumer, Exchange, Producer, Queue

EXCHANGE = Exchange("kombu.events", type="topic", durable=True)
ORDERS = Queue("kombu.orders", exchange=EXCHANGE, routing_key="order.*", durable=True)
ORDER_KINDS = ("created", "paid", "shipped")


def publish(conn, run, count):
    """Publishes 5 audit events (not routed to the queue), then COUNT orders."""
    with conn.channel() as channel:
        producer = Producer(channel, exchange=EXCHANGE, serializer="json")
        # Declares the exchange, the queue and the binding before anything is published.
        ORDERS(channel).declare()
        for i in range(5):
            producer.publish({"run": run, "audit": i}, routing_key="audit.login",
                             delivery_mode=2)
        for i in range(count):
            kind = ORDER_KINDS[i % len(ORDER_KINDS)]
            producer.publish({"run": run, "order": i, "kind": kind},
                             routing_key=f"order.{kind}", delivery_mode=2,
                             headers={"x-run": run})
    print(f"published {count} orders and 5 audit events to {EXCHANGE.name}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/%2f")
    p.add_argument("--count", type=int, default=0,
                   help="publish this many orders, then consume them (0: only consume, forever)")
    p.add_argument("--idle-timeout", type=float, default=10.0,
                   help="with --count, give up after this many seconds without a message")
    args = p.parse_args()
    run = uuid.uuid4().hex
    got, stale, strays = set(), 0, []

    def on_order(body, message):
        nonlocal stale
        key = message.delivery_info["routing_key"]
        if not key.startswith("order."):
            strays.append(key)  # the binding should have kept it out
        elif not args.count:
            print(f"{key}: {body}", flush=True)
        elif body.get("run") == run:
            got.add(body["order"])  # the work
        else:
            stale += 1
        message.ack()

    with Connection(args.url, transport_options={"confirm_publish": True}) as conn:
        if args.count:
            publish(conn, run, args.count)
        with conn.channel() as channel, Consumer(channel, queues=[ORDERS], callbacks=[on_order],
                                                 accept=["json"], prefetch_count=10):
            last = time.monotonic()
            while not args.count or len(got) < args.count:
                try:
                    conn.drain_events(timeout=1)
                    last = time.monotonic()
                except socket.timeout:
                    if args.count and time.monotonic() - last > args.idle_timeout:
                        print(f"no message for {args.idle_timeout} s", file=sys.stderr)
                        break
    if not args.count:
        return 0
    print(f"kombu consumer got {len(got)} of {args.count} orders"
          f" ({stale} from earlier runs, {len(strays)} strays)")
    if strays:
        print(f"routed to {ORDERS.name} against its binding: {strays[:5]}", file=sys.stderr)
    return 0 if len(got) == args.count and not strays else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
