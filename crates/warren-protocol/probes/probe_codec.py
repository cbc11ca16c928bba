#!/usr/bin/env python3
"""Codec-level probes behind warren-protocol's reply codes and leniencies (README,
"Reply codes for bad input"): malformed tables, short strings, content headers and
heartbeats. usage: probe_codec.py [PORT] (default 5673, the reference RabbitMQ).
Uses the raw client in docs/probes/amqp_raw.py."""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "docs", "probes"))
from amqp_raw import *  # noqa: E402,F403

P = port_arg()

def case(label, data, with_channel=True):
    c = connect(P)
    if with_channel: channel(c)
    c.send(data)
    report(label, c.outcome(timeout=2))
    c.close()

qd = lambda args: frame(1, 1, struct.pack(">HH", 50, 10) + struct.pack(">H", 0) + shortstr("probe-q") + bytes([0b1000]) + args)
# tables in queue.declare arguments
case("queue.declare args table unknown type 'Z'", qd(struct.pack(">I", 4) + shortstr("k") + b"Z" + b"\x00"))
case("queue.declare args table truncated value", qd(struct.pack(">I", 3) + shortstr("k") + b"I"))
case("queue.declare args table len > remaining", qd(struct.pack(">I", 100) + shortstr("k") + b"V"))
case("queue.declare args table key invalid utf8", qd(struct.pack(">I", 3) + b"\x01\xff" + b"V"))
nest = b"V"
body = shortstr("k") + b"V"
for i in range(200):
    body = shortstr("k") + b"F" + struct.pack(">I", len(body)) + body
case("queue.declare args table nested 200 deep", qd(struct.pack(">I", len(body)) + body))
body = shortstr("k") + b"V"
for i in range(60):
    body = shortstr("k") + b"F" + struct.pack(">I", len(body)) + body
case("queue.declare args table nested 60 deep", qd(struct.pack(">I", len(body)) + body))
# short strings
case("queue.declare name invalid utf8", frame(1, 1, struct.pack(">HH", 50, 10) + struct.pack(">H", 0) + b"\x02\xff\xfe" + bytes([0b1000]) + struct.pack(">I", 0)))
pub = struct.pack(">HH", 60, 40) + b"\x00\x00" + b"\x00" + b"\x02\xff\xfe" + b"\x00"
case("basic.publish routing key invalid utf8", frame(1, 1, pub) + header_frame(1, 1) + body_frame(1, b"x"))
case("exchange.declare type invalid utf8", frame(1, 1, struct.pack(">HH", 40, 10) + b"\x00\x00" + b"\x02ex" + b"\x02\xff\xfe" + b"\x00" + struct.pack(">I", 0)))
# content header
case("header weight 1", method_frame(1, "basic.publish", routing_key="x") + frame(2, 1, struct.pack(">HHQ", 60, 1, 1) + b"\x00\x00") + body_frame(1, b"x"))
case("header flags bit0 (continuation)", method_frame(1, "basic.publish", routing_key="x") + frame(2, 1, struct.pack(">HHQ", 60, 0, 1) + b"\x00\x01") + body_frame(1, b"x"))
case("header flags bit1", method_frame(1, "basic.publish", routing_key="x") + frame(2, 1, struct.pack(">HHQ", 60, 0, 1) + b"\x00\x02") + body_frame(1, b"x"))
case("header truncated props (ct flag, no string)", method_frame(1, "basic.publish", routing_key="x") + frame(2, 1, struct.pack(">HHQ", 60, 0, 1) + b"\x80\x00") + body_frame(1, b"x"))
case("header props trailing junk", method_frame(1, "basic.publish", routing_key="x") + frame(2, 1, struct.pack(">HHQ", 60, 0, 1) + b"\x00\x00junk") + body_frame(1, b"x"))
case("header payload 5 bytes", method_frame(1, "basic.publish", routing_key="x") + frame(2, 1, b"\x00\x3c\x00\x00\x00"))
case("header headers table unknown type", method_frame(1, "basic.publish", routing_key="x") + frame(2, 1, struct.pack(">HHQ", 60, 0, 1) + b"\x20\x00" + struct.pack(">I", 4) + shortstr("k") + b"Z\x00") + body_frame(1, b"x"))
case("header content-type invalid utf8", method_frame(1, "basic.publish", routing_key="x") + frame(2, 1, struct.pack(">HHQ", 60, 0, 1) + b"\x80\x00" + b"\x02\xff\xfe") + body_frame(1, b"x"))
case("heartbeat with payload ch0", frame(8, 0, b"abc"), with_channel=False)
case("unknown method 60/999 ch1", frame(1, 1, struct.pack(">HH", 60, 999)))
