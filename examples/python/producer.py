#!/usr/bin/env python3
"""Task-queue producer (pika): publishes COUNT persistent tasks to the durable queue
`tasks` with publisher confirms, so each one is on the broker's disk when this returns.

    python3 examples/python/producer.py [--url amqp://guest:guest@127.0.0.1:5672/%2f] [--count 100]

Pairs with worker.py; runs unchanged against Warren and RabbitMQ.
"""
import argparse

import pika


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/%2f")
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--queue", default="tasks")
    args = p.parse_args()
    conn = pika.BlockingConnection(pika.URLParameters(args.url))
    ch = conn.channel()
    ch.queue_declare(args.queue, durable=True)
    ch.confirm_delivery()
    for i in range(args.count):
        # With confirms on, basic_publish returns once the broker has confirmed.
        ch.basic_publish(
            "", args.queue, f"task-{i}".encode(),
            pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent),
            mandatory=True,
        )
    print(f"published {args.count} tasks to {args.queue}")
    conn.close()


if __name__ == "__main__":
    main()
