#!/usr/bin/env python3
"""Streams through pika: replay and offset tracking as a Python client sees them.

usage: pika_streams.py PORT [--reference]

Declares a stream (x-queue-type: stream), publishes with confirms and checks:
- replay from x-stream-offset = "first", a numeric offset and a timestamp (an AMQP
  timestamp, which pika sends for a datetime), each delivery carrying its offset in the
  x-stream-offset header, contiguous and in publish order;
- basic.get refused with RabbitMQ's 540 NOT_IMPLEMENTED connection error and text;
- server-side offset tracking (Warren's extension, skipped with --reference, which runs
  the rest against a real RabbitMQ to check that the texts and offsets agree): a consumer
  named with x-stream-consumer-name acks part of the stream, disconnects, and the same
  name attached again without x-stream-offset resumes right after its last ack.

Exits non-zero (with the failing check) on any difference.
"""
import datetime
import sys
import time

import pika
from pika.exceptions import ConnectionClosedByBroker

PORT = int(sys.argv[1])
REFERENCE = "--reference" in sys.argv[2:]
PREFIX = "pika-streams-%d" % int(time.time() * 1000)
STREAM = PREFIX + ".events"
WAIT = 10.0


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


def publish(ch, bodies):
    """Publishes each body persistently; with confirms on, each call waits for its ack."""
    for body in bodies:
        ch.basic_publish("", STREAM, body, pika.BasicProperties(delivery_mode=2))


def read(conn, arguments, n, ack=True, prefetch=20, hold_next=False):
    """Consumes n deliveries with `arguments`; returns [(offset header, body)], acking
    each one if `ack`, and cancels the consumer.

    pika's basic_cancel rejects (requeue) every delivery that reached it after its last
    callback, and a stream refuses a reject with 540, closing the connection. When the
    stream holds more than n messages from the start offset, `hold_next` keeps the cancel
    clear of that race: with prefetch 1, the callback acks the first n and takes the
    (n+1)-th without acking it, so nothing more is sent before the cancel."""
    ch = conn.channel()
    ch.basic_qos(prefetch_count=1 if hold_next else prefetch)
    got = []
    want = n + 1 if hold_next else n

    def on_message(channel, method, props, body):
        headers = props.headers or {}
        got.append((headers.get("x-stream-offset"), body))
        if ack and len(got) <= n:
            channel.basic_ack(method.delivery_tag)

    tag = ch.basic_consume(STREAM, on_message, arguments=arguments)
    deadline = time.monotonic() + WAIT
    while len(got) < want and time.monotonic() < deadline:
        conn.process_data_events(time_limit=0.1)
    ch.basic_cancel(tag)
    ch.close()
    if len(got) < n:
        raise AssertionError("only %d of %d deliveries with %r" % (len(got), n, arguments))
    return got[:n]


def offsets_and_bodies(got, first_offset, first_body):
    return [off for off, _ in got] == list(range(first_offset, first_offset + len(got))) and [
        body for _, body in got
    ] == [b"m%d" % i for i in range(first_body, first_body + len(got))]


def main():
    conn = connect()
    ch = conn.channel()
    ch.queue_declare(STREAM, durable=True, arguments={"x-queue-type": "stream"})
    ch.confirm_delivery()
    publish(ch, [b"m%d" % i for i in range(20)])
    # The next second starts after every message so far: a timestamp of it selects
    # exactly the messages published from then on.
    time.sleep(1.05 - (time.time() % 1.0))
    boundary = datetime.datetime.fromtimestamp(int(time.time()), tz=datetime.timezone.utc)
    time.sleep(0.05)
    publish(ch, [b"m%d" % i for i in range(20, 30)])
    ch.close()

    got = read(conn, {"x-stream-offset": "first"}, 30)
    check(offsets_and_bodies(got, 0, 0),
          "x-stream-offset first: offsets 0..29 in the x-stream-offset header, in order")
    got = read(conn, {"x-stream-offset": 12}, 18)
    check(offsets_and_bodies(got, 12, 12),
          "x-stream-offset 12: deliveries start at offset 12 and stay contiguous")
    # pika sends a datetime as an AMQP timestamp (seconds).
    got = read(conn, {"x-stream-offset": boundary}, 10)
    check(offsets_and_bodies(got, 20, 20),
          "x-stream-offset timestamp: the first message published in that second (offset 20)")

    try:
        conn.channel().basic_get(STREAM, auto_ack=False)
        raise AssertionError("basic.get on a stream was not refused")
    except ConnectionClosedByBroker as e:
        expected = "NOT_IMPLEMENTED - basic.get not supported by stream queues queue '%s' in vhost '/'" % STREAM
        check(e.reply_code == 540 and e.reply_text == expected,
              "basic.get refused: 540 %s (got %d %s)" % (expected, e.reply_code, e.reply_text))

    if not REFERENCE:
        tracking()

    conn = connect()
    conn.channel().queue_delete(STREAM)
    conn.close()


def tracking():
    """Warren's server-side offset tracking: acks of a named consumer are stored, and the
    name attached again without an explicit offset resumes after the last one."""
    name = {"x-stream-consumer-name": PREFIX + ".reader"}
    conn = connect()
    got = read(conn, dict(name, **{"x-stream-offset": "first"}), 10, hold_next=True)
    check(offsets_and_bodies(got, 0, 0), "named consumer reads offsets 0..9 from first and acks them")
    # The acks travel ahead of the cancel on the same socket; closing ends the session.
    conn.close()

    conn = connect()
    got = read(conn, name, 20)
    check(offsets_and_bodies(got, 10, 10),
          "same name after reconnecting, no x-stream-offset: resumes at offset 10")
    # An explicit offset overrides the tracked one.
    got = read(conn, dict(name, **{"x-stream-offset": 25}), 5)
    check(offsets_and_bodies(got, 25, 25), "an explicit x-stream-offset overrides the tracked one")
    conn.close()


if __name__ == "__main__":
    main()
