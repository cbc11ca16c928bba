#!/usr/bin/env python3
"""Interop check: the pika client against a running Warren.

usage: pika_interop.py PORT

Covers a producer/worker round trip, publisher confirms (including a returned mandatory
message), a 404 channel error that leaves the connection usable, and exchange/queue
declarations. Exits non-zero (with the failing check) on any difference.
"""
import sys
import time

import pika
from pika.exceptions import ChannelClosedByBroker, UnroutableError

PORT = int(sys.argv[1])
PREFIX = "pika-interop-%d" % int(time.time() * 1000)


def connect():
    params = pika.ConnectionParameters(
        host="127.0.0.1",
        port=PORT,
        credentials=pika.PlainCredentials("guest", "guest"),
        connection_attempts=20,
        retry_delay=0.25,
    )
    return pika.BlockingConnection(params)


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok -", what)


def declarations(conn):
    ch = conn.channel()
    ch.exchange_declare(PREFIX + ".topic", exchange_type="topic", durable=False)
    # Redeclaring with the same properties is fine; passive finds it.
    ch.exchange_declare(PREFIX + ".topic", exchange_type="topic", durable=False)
    ch.exchange_declare(PREFIX + ".topic", passive=True)
    q = ch.queue_declare(PREFIX + ".events", durable=False).method
    check(q.queue == PREFIX + ".events" and q.message_count == 0 and q.consumer_count == 0,
          "queue.declare-ok names the queue with zero counts")
    anon = ch.queue_declare("", exclusive=True).method.queue
    check(anon.startswith("amq.gen-"), "server-named queue is amq.gen-…")
    ch.queue_bind(q.queue, PREFIX + ".topic", routing_key="order.*")
    ch.basic_publish(PREFIX + ".topic", "order.created", b"routed")
    ch.basic_publish(PREFIX + ".topic", "invoice.created", b"not routed")
    method, _, body = ch.basic_get(q.queue, auto_ack=True)
    check(method is not None and body == b"routed" and method.message_count == 0,
          "topic binding routes order.* only (get-ok, message_count 0)")
    ch.queue_delete(q.queue)
    ch.exchange_delete(PREFIX + ".topic")
    ch.close()


def producer_worker(conn):
    queue = PREFIX + ".tasks"
    producer = conn.channel()
    producer.queue_declare(queue, durable=True)
    producer.confirm_delivery()
    tasks = [("task %d" % i).encode() for i in range(50)]
    for body in tasks:
        # With confirms on, BlockingChannel.basic_publish waits for the broker's ack.
        producer.basic_publish("", queue, body,
                               pika.BasicProperties(delivery_mode=2, content_type="text/plain"))
    check(producer.queue_declare(queue, passive=True).method.message_count == len(tasks),
          "50 confirmed publishes are all in the queue")

    worker_conn = connect()
    worker = worker_conn.channel()
    worker.basic_qos(prefetch_count=10)
    done = []
    first_requeued = []

    def work(ch, method, props, body):
        if props.content_type != "text/plain" or props.delivery_mode != 2:
            raise AssertionError("properties changed in transit: %r" % props)
        if body == b"task 0" and not first_requeued:
            # Hand the first task back once: it must come again, marked redelivered.
            first_requeued.append(method.redelivered)
            ch.basic_nack(method.delivery_tag, requeue=True)
            return
        if body == b"task 0":
            check(method.redelivered, "a nacked-and-requeued task comes back redelivered")
        done.append(body)
        ch.basic_ack(method.delivery_tag)
        if len(done) == len(tasks):
            ch.stop_consuming()

    worker.basic_consume(queue, work)
    deadline = time.time() + 15
    while len(done) < len(tasks) and time.time() < deadline:
        worker_conn.process_data_events(time_limit=0.2)
    check(sorted(done) == sorted(tasks), "the worker processed every task exactly once")
    check(first_requeued == [False], "first delivery of task 0 was not redelivered")
    worker_conn.close()
    check(producer.queue_declare(queue, passive=True).method.message_count == 0,
          "nothing left after the worker acked everything")
    producer.queue_delete(queue)
    producer.close()


def confirms(conn):
    ch = conn.channel()
    ch.confirm_delivery()
    try:
        ch.basic_publish("amq.direct", "nowhere", b"lost", mandatory=True)
        raise AssertionError("an unroutable mandatory publish should raise UnroutableError")
    except UnroutableError as e:
        returned = e.messages[0]
        check(returned.method.reply_code == 312 and returned.method.reply_text == "NO_ROUTE"
              and returned.body == b"lost", "mandatory unroutable message returned with 312 NO_ROUTE")
    # Unroutable without mandatory: simply acked.
    ch.basic_publish("amq.direct", "nowhere", b"dropped")
    check(ch.is_open, "channel still open after confirmed publishes")
    ch.close()


def channel_error(conn):
    ch = conn.channel()
    missing = PREFIX + ".missing"
    try:
        ch.queue_declare(missing, passive=True)
        raise AssertionError("passive declare of a missing queue should fail")
    except ChannelClosedByBroker as e:
        check(e.reply_code == 404 and e.reply_text == "NOT_FOUND - no queue '%s' in vhost '/'" % missing,
              "404 NOT_FOUND with RabbitMQ's text")
    check(conn.is_open, "a channel error leaves the connection open")
    again = conn.channel()
    again.queue_declare("", exclusive=True)
    check(again.is_open, "a new channel works after the error")
    again.close()


def main():
    conn = connect()
    declarations(conn)
    producer_worker(conn)
    confirms(conn)
    channel_error(conn)
    conn.close()
    print("pika interop: all checks passed")


if __name__ == "__main__":
    main()
