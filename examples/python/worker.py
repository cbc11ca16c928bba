#!/usr/bin/env python3
"""Task-queue worker (pika): takes one task at a time (prefetch 1) from the durable
queue `tasks`, does it, and acknowledges it. With --count N it exits after N tasks
(for tests); otherwise it runs until interrupted. Start several to share the work.

    python3 examples/python/worker.py [--url amqp://guest:guest@127.0.0.1:5672/%2f] [--count N]

Pairs with producer.py; runs unchanged against Warren and RabbitMQ.
"""
import argparse
import sys

import pika


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/%2f")
    p.add_argument("--count", type=int, default=0, help="exit after this many tasks (0: never)")
    p.add_argument("--queue", default="tasks")
    p.add_argument("--idle-timeout", type=float, default=30.0,
                   help="with --count, give up after this many seconds without a task")
    args = p.parse_args()
    conn = pika.BlockingConnection(pika.URLParameters(args.url))
    ch = conn.channel()
    ch.queue_declare(args.queue, durable=True)
    ch.basic_qos(prefetch_count=1)
    done = set()
    timeout = args.idle_timeout if args.count else None
    for method, _props, body in ch.consume(args.queue, inactivity_timeout=timeout):
        if method is None:
            print(f"no task for {args.idle_timeout} s; done {len(done)}", file=sys.stderr)
            break
        done.add(body.decode())  # the work
        ch.basic_ack(method.delivery_tag)
        if args.count and len(done) >= args.count:
            break
    print(f"worker did {len(done)} distinct tasks")
    conn.close()
    return 0 if not args.count or len(done) >= args.count else 1


if __name__ == "__main__":
    sys.exit(main())
