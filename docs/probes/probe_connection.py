#!/usr/bin/env python3
"""Connection / framing level probes. usage: probe_connection.py [PORT]"""
import json
import struct
import sys
import time

from amqp_raw import *

P = port_arg()


def raw_header(hdr, label):
    c = Conn(P)
    c.send(hdr)
    c.sock.settimeout(3)
    got = b""
    t0 = time.time()
    try:
        while True:
            d = c.sock.recv(4096)
            if not d:
                got += b"<EOF>"
                break
            got += d
    except socket.timeout:
        got += b"<still open after 3s>"
    except ConnectionResetError:
        got += b"<RST>"
    report("protocol header %s" % label, "%r (%.2fs)" % (got, time.time() - t0))


raw_header(b"AMQP\x00\x00\x09\x00", "AMQP 0 0 9 0")
raw_header(b"AMQP\x00\x00\x08\x00", "AMQP 0 0 8 0")
raw_header(b"AMQP\x01\x01\x00\x09", "AMQP 1 1 0 9 (0-9 old style)")
raw_header(b"AMQP\x01\x01\x09\x01", "AMQP 1 1 9 1")
raw_header(b"AMQP\x00\x01\x00\x00", "AMQP 0 1 0 0 (AMQP 1.0)")
raw_header(b"AMQP\x03\x01\x00\x00", "AMQP 3 1 0 0 (1.0 SASL)")
raw_header(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP GET")
raw_header(b"XXXXXXXX", "8 garbage bytes")
raw_header(b"AMQP\x00\x00\x09\x01garbage", "correct header + trailing garbage")

# ---- server properties + tune
c = Conn(P)
c.send(PROTOCOL_HEADER)
st = c.expect("connection.start")
report("connection.start version", "%d-%d mechanisms=%r locales=%r" % (
    st.args["version_major"], st.args["version_minor"], st.args["mechanisms"], st.args["locales"]))
print("connection.start server_properties (typed) =", json.dumps(
    {k: v for k, v in st.args["server_properties"].items()}, default=repr))
c.method(0, "connection.start-ok", client_properties={}, mechanism="PLAIN", response=b"\0guest\0guest", locale="en_US")
tu = c.expect("connection.tune")
report("connection.tune proposed", repr(tu.args))
c.close()

# ---- auth
for caps, label in (({"authentication_failure_close": True}, "with authentication_failure_close"),
                    ({}, "without capability")):
    c, st, tu = open_conn(P, password="wrong", client_properties={"capabilities": caps})
    report("bad password PLAIN %s" % label, [tu] + c.outcome(timeout=5))
c = Conn(P); c.send(PROTOCOL_HEADER); c.expect("connection.start")
c.method(0, "connection.start-ok", client_properties={}, mechanism="FOO", response=b"\0guest\0guest", locale="en_US")
report("unknown mechanism FOO", c.outcome(timeout=5))
c = Conn(P); c.send(PROTOCOL_HEADER); c.expect("connection.start")
c.method(0, "connection.start-ok", client_properties={}, mechanism="PLAIN", response=b"guestguest", locale="en_US")
report("malformed PLAIN response (no NULs)", c.outcome(timeout=5))
c = Conn(P); c.send(PROTOCOL_HEADER); c.expect("connection.start")
c.method(0, "connection.start-ok", client_properties={}, mechanism="AMQPLAIN",
         response=table({"LOGIN": "guest", "PASSWORD": "guest"})[4:], locale="en_US")
report("AMQPLAIN good credentials", [c.next_event()])
c.close()
c, st, tu = open_conn(P, user="nosuchuser", client_properties={"capabilities": {"authentication_failure_close": True}})
report("unknown user", [tu] + c.outcome(timeout=5))

c, st, tu = open_conn(P, vhost="nosuchvhost")
report("unknown vhost", c.outcome(timeout=5))

# ---- tune negotiation
# None = echo the server's proposal
for cm, fm, hb in ((None, 1024, 0), (None, 4095, 0), (None, 4096, 0), (None, 0, 0), (None, 131073, 0),
                   (0, None, 0), (2048, None, 0), (1, None, 0), (None, None, 0), (None, None, 600)):
    c, st, tu = open_conn(P, channel_max=cm, frame_max=fm, heartbeat=hb)
    report("tune-ok channel_max=%s frame_max=%s heartbeat=%s" % (cm, fm, hb), c.outcome(timeout=4))
    c.close()

# ---- method before connection.open
c = Conn(P); c.send(PROTOCOL_HEADER); c.expect("connection.start")
c.method(0, "connection.start-ok", client_properties={}, mechanism="PLAIN", response=b"\0guest\0guest", locale="en_US")
c.expect("connection.tune")
c.method(0, "connection.tune-ok", channel_max=2047, frame_max=131072, heartbeat=0)
c.method(1, "channel.open")
report("channel.open before connection.open", c.outcome(timeout=5))

# ---- channel numbering
c = connect(P); c.method(0, "channel.open")
report("channel.open on channel 0", c.outcome())
c = connect(P, channel_max=10); c.method(11, "channel.open")
report("channel.open ch11 with channel_max=10", c.outcome(timeout=0.5))
c = connect(P); c.method(65535, "channel.open")
report("channel.open ch65535 (channel_max 2047)", c.outcome(timeout=0.5))
c = connect(P, channel_max=2)
for n in (1, 2, 3):
    c.method(n, "channel.open")
    report("channel_max=2: open channel %d" % n, c.outcome(timeout=0.5))
c = connect(P, channel_max=2)
for n in (1, 2):
    c.method(n, "channel.open"); c.expect("channel.open-ok")
c.method(1, "channel.close", reply_code=200, reply_text="bye"); c.expect("channel.close-ok")
c.method(3, "channel.open")
report("channel_max=2: open 1,2, close 1, open 3", c.outcome(timeout=0.5))
c = connect(P); channel(c); c.method(1, "channel.open")
report("channel.open on already-open channel", c.outcome())
c = connect(P); c.method(5, "queue.declare", queue="", exclusive=True)
report("queue.declare on never-opened channel 5", c.outcome())
c = connect(P); c.method(5, "channel.close", reply_code=200, reply_text="bye")
report("channel.close on never-opened channel 5", c.outcome())
c = connect(P); c.method(5, "channel.close-ok")
report("channel.close-ok on never-opened channel 5", c.outcome())
c = connect(P); channel(c); c.method(1, "channel.close", reply_code=200, reply_text="bye")
c.expect("channel.close-ok"); c.method(1, "basic.qos", prefetch_count=1)
report("method on channel after it was closed", c.outcome())
c = connect(P); channel(c); c.method(1, "channel.flow", active=False)
report("channel.flow active=false", c.outcome())
c = connect(P); channel(c); c.method(1, "channel.flow", active=True)
report("channel.flow active=true", c.outcome())
c = connect(P); c.method(0, "queue.declare", queue="", exclusive=True)
report("queue.declare on channel 0", c.outcome())
c = connect(P); channel(c); c.method(1, "connection.close", reply_code=200, reply_text="x")
report("connection.close sent on channel 1", c.outcome())
c = connect(P); channel(c); c.method(0, "channel.open")
report("channel.open on ch0 with ch1 open", c.outcome())

# ---- framing
c = connect(P); channel(c)
fm = c.frame_max
c.send(method_frame(1, "basic.publish", exchange="", routing_key="nowhere") + header_frame(1, fm + 1)
       + body_frame(1, b"x" * (fm - 7)))  # total frame = fm + 1 bytes incl. 8 overhead
report("body frame of frame_max+1 bytes (payload fm-7)", c.outcome())
c = connect(P); channel(c)
c.send(method_frame(1, "basic.publish", exchange="", routing_key="nowhere") + header_frame(1, fm)
       + body_frame(1, b"x" * (fm - 8)))  # exactly frame_max
report("body frame of exactly frame_max bytes", c.outcome(timeout=1))
c = connect(P); channel(c)
c.send(method_frame(1, "basic.publish", exchange="", routing_key="nowhere") + header_frame(1, fm + 1)
       + body_frame(1, b"x" * fm))
report("body frame with payload exactly frame_max (frame fm+8)", c.outcome(timeout=1))
c = connect(P); channel(c)
c.send(method_frame(1, "basic.publish", exchange="", routing_key="nowhere") + header_frame(1, fm + 1)
       + body_frame(1, b"x" * (fm + 1)))
report("body frame with payload frame_max+1 (frame fm+9)", c.outcome(timeout=5))
c = connect(P, frame_max=4096); channel(c)
c.send(method_frame(1, "basic.publish", exchange="", routing_key="nowhere") + header_frame(1, 5000)
       + body_frame(1, b"x" * 4089))
report("frame_max=4096: body frame of 4097 bytes", c.outcome())
c = connect(P); channel(c)
c.send(frame(1, 1, method_payload("queue.declare", queue="", exclusive=True, arguments={"x": "y" * fm})))
report("method frame larger than frame_max", c.outcome(timeout=5))

c = connect(P); channel(c)
c.send(method_frame(1, "basic.publish", exchange="", routing_key="nowhere") + header_frame(1, 3)
       + body_frame(1, b"abc") + body_frame(1, b"def"))
report("body size 3, then bodies 'abc' + extra 'def'", c.outcome())
c = connect(P); channel(c)
c.send(method_frame(1, "basic.publish", exchange="", routing_key="nowhere") + header_frame(1, 3)
       + body_frame(1, b"abcdef"))
report("body size 3, single body frame of 6 bytes", c.outcome(timeout=1))
c.send(method_frame(1, "basic.qos", prefetch_count=1))
report("  ... then basic.qos", c.outcome())
c = connect(P); channel(c)
c.send(method_frame(1, "basic.publish", exchange="", routing_key="nowhere") + header_frame(1, 0)
       + body_frame(1, b"abc"))
report("body size 0, then a body frame", c.outcome())
c = connect(P); channel(c)
c.send(method_frame(1, "basic.publish", exchange="", routing_key="nowhere") + header_frame(1, 0)
       + body_frame(1, b""))
report("body size 0, then an empty body frame", c.outcome())
c = connect(P); channel(c)
c.send(method_frame(1, "basic.publish", exchange="", routing_key="nowhere") + body_frame(1, b"abc"))
report("publish then body frame without header", c.outcome())
c = connect(P); channel(c)
c.send(body_frame(1, b"abc"))
report("body frame out of the blue", c.outcome())
c = connect(P); channel(c)
c.send(header_frame(1, 3))
report("header frame without a publish", c.outcome())
c = connect(P); channel(c)
c.send(method_frame(1, "basic.publish", exchange="", routing_key="nowhere") + header_frame(1, 3)
       + method_frame(1, "basic.qos", prefetch_count=1))
report("method frame while body expected", c.outcome())
c = connect(P); channel(c)
c.send(method_frame(1, "basic.publish", exchange="", routing_key="nowhere")
       + method_frame(1, "basic.qos", prefetch_count=1))
report("method frame while header expected", c.outcome())
c = connect(P); channel(c)
c.send(method_frame(1, "basic.publish", exchange="", routing_key="nowhere") + header_frame(1, 3, cls=50)
       + body_frame(1, b"abc"))
report("content header with class_id 50 (queue)", c.outcome())
c = connect(P); channel(c); c.method(2, "channel.open"); c.expect("channel.open-ok")
c.send(method_frame(1, "basic.publish", exchange="", routing_key="nowhere") + header_frame(2, 3)
       + body_frame(1, b"abc"))
report("publish on ch1, header on ch2", c.outcome())
c = connect(P); channel(c)
c.send(method_frame(1, "basic.publish", exchange="", routing_key="nowhere") + header_frame(1, 3)
       + frame(8, 0, b"") + body_frame(1, b"abc"))
report("heartbeat (ch0) between header and body", c.outcome(timeout=1))
c = connect(P); channel(c)
c.send(method_frame(1, "basic.publish", exchange="", routing_key="nowhere") + header_frame(1, 3)
       + method_frame(0, "connection.close", reply_code=200, reply_text="bye"))
report("connection.close (ch0) while ch1 expects body", c.outcome())
c = connect(P); channel(c)
c.send(method_frame(1, "basic.publish", exchange="", routing_key="nowhere") + header_frame(1, 3)
       + method_frame(1, "channel.close", reply_code=200, reply_text="bye"))
report("channel.close while body expected", c.outcome())

c = connect(P); channel(c); c.send(frame(1, 1, struct.pack(">HH", 99, 1)))
report("unknown class 99 method 1 (ch1)", c.outcome())
c = connect(P); channel(c); c.send(frame(1, 1, struct.pack(">HH", 60, 999)))
report("unknown method basic/999 (ch1)", c.outcome())
c = connect(P); c.send(frame(1, 0, struct.pack(">HH", 99, 1)))
report("unknown class 99 method 1 (ch0)", c.outcome())
c = connect(P); channel(c); c.send(frame(1, 1, struct.pack(">HH", 60, 10)))
report("truncated method args (basic.qos, no args)", c.outcome())
c = connect(P); channel(c); c.send(frame(1, 1, struct.pack(">H", 60)))
report("method frame with 2-byte payload", c.outcome())
c = connect(P); channel(c); c.send(frame(1, 1, method_payload("basic.qos", prefetch_count=1) + b"junk"))
report("method frame with trailing junk after args", c.outcome(timeout=1))
c = connect(P); channel(c); c.send(frame(7, 1, b"hello"))
report("frame type 7 on ch1", c.outcome())
c = connect(P); c.send(frame(7, 0, b"hello"))
report("frame type 7 on ch0", c.outcome())
c = connect(P); c.send(frame(0, 0, b""))
report("frame type 0 on ch0", c.outcome())
c = connect(P); channel(c); c.send(frame(1, 1, method_payload("basic.qos", prefetch_count=1), end=0x00))
report("bad frame end 0x00", c.outcome(timeout=5))
c = connect(P); channel(c); c.send(frame(8, 1, b""))
report("heartbeat on channel 1", c.outcome())
c = connect(P); c.send(frame(8, 0, b"abc"))
report("heartbeat with non-empty payload", c.outcome(timeout=1))
c = connect(P); channel(c); c.send(frame(4, 1, b""))
report("frame type 4 (old 0-8 oob-method) ch1", c.outcome())
c = connect(P); c.send(method_frame(0, "connection.tune-ok", channel_max=0, frame_max=131072, heartbeat=0))
report("connection.tune-ok again after open", c.outcome())
c = connect(P); c.send(method_frame(0, "connection.close-ok"))
report("unsolicited connection.close-ok", c.outcome())
c = connect(P); c.send(method_frame(0, "connection.close", reply_code=200, reply_text="bye", class_id=0, method_id=0))
report("client connection.close (normal)", c.outcome(timeout=5))

# ---- heartbeat from server
c = connect(P, heartbeat=1)
t0 = time.time(); ev = c.next_event(3)
report("heartbeat=1 negotiated: first server frame", "%r after %.2fs" % (ev, time.time() - t0))
t0 = time.time(); evs = []
while time.time() - t0 < 8:
    ev = c.next_event(8)
    evs.append("%r@%.1fs" % (ev, time.time() - t0))
    if ev.kind != "heartbeat":
        break
report("heartbeat=1, client silent", " ".join(evs))
