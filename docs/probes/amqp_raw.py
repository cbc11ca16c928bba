"""Minimal raw AMQP 0-9-1 client for behaviour probes (no dependencies).

Lets a probe send exactly the bytes it wants (bad frames, bad ends, odd
tables) and see exactly what the server answers. Used by the probe_*.py
scripts in this folder; every script takes the broker port as argv[1]
(default 5673) so it can be pointed at RabbitMQ or at Warren.
"""
import socket
import struct
import sys
import time

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
FRAME_END = 0xCE

# (class, method) -> (name, [(field, type)])
S = "shortstr"; L = "longstr"; O = "octet"; SH = "short"; LO = "long"; LL = "longlong"; B = "bit"; T = "table"
SPEC = {
    (10, 10): ("connection.start", [("version_major", O), ("version_minor", O), ("server_properties", T), ("mechanisms", L), ("locales", L)]),
    (10, 11): ("connection.start-ok", [("client_properties", T), ("mechanism", S), ("response", L), ("locale", S)]),
    (10, 20): ("connection.secure", [("challenge", L)]),
    (10, 21): ("connection.secure-ok", [("response", L)]),
    (10, 30): ("connection.tune", [("channel_max", SH), ("frame_max", LO), ("heartbeat", SH)]),
    (10, 31): ("connection.tune-ok", [("channel_max", SH), ("frame_max", LO), ("heartbeat", SH)]),
    (10, 40): ("connection.open", [("virtual_host", S), ("capabilities", S), ("insist", B)]),
    (10, 41): ("connection.open-ok", [("known_hosts", S)]),
    (10, 50): ("connection.close", [("reply_code", SH), ("reply_text", S), ("class_id", SH), ("method_id", SH)]),
    (10, 51): ("connection.close-ok", []),
    (10, 60): ("connection.blocked", [("reason", S)]),
    (10, 61): ("connection.unblocked", []),
    (20, 10): ("channel.open", [("out_of_band", S)]),
    (20, 11): ("channel.open-ok", [("channel_id", L)]),
    (20, 20): ("channel.flow", [("active", B)]),
    (20, 21): ("channel.flow-ok", [("active", B)]),
    (20, 40): ("channel.close", [("reply_code", SH), ("reply_text", S), ("class_id", SH), ("method_id", SH)]),
    (20, 41): ("channel.close-ok", []),
    (40, 10): ("exchange.declare", [("ticket", SH), ("exchange", S), ("type", S), ("passive", B), ("durable", B), ("auto_delete", B), ("internal", B), ("nowait", B), ("arguments", T)]),
    (40, 11): ("exchange.declare-ok", []),
    (40, 20): ("exchange.delete", [("ticket", SH), ("exchange", S), ("if_unused", B), ("nowait", B)]),
    (40, 21): ("exchange.delete-ok", []),
    (40, 30): ("exchange.bind", [("ticket", SH), ("destination", S), ("source", S), ("routing_key", S), ("nowait", B), ("arguments", T)]),
    (40, 31): ("exchange.bind-ok", []),
    (40, 40): ("exchange.unbind", [("ticket", SH), ("destination", S), ("source", S), ("routing_key", S), ("nowait", B), ("arguments", T)]),
    (40, 51): ("exchange.unbind-ok", []),
    (50, 10): ("queue.declare", [("ticket", SH), ("queue", S), ("passive", B), ("durable", B), ("exclusive", B), ("auto_delete", B), ("nowait", B), ("arguments", T)]),
    (50, 11): ("queue.declare-ok", [("queue", S), ("message_count", LO), ("consumer_count", LO)]),
    (50, 20): ("queue.bind", [("ticket", SH), ("queue", S), ("exchange", S), ("routing_key", S), ("nowait", B), ("arguments", T)]),
    (50, 21): ("queue.bind-ok", []),
    (50, 30): ("queue.purge", [("ticket", SH), ("queue", S), ("nowait", B)]),
    (50, 31): ("queue.purge-ok", [("message_count", LO)]),
    (50, 40): ("queue.delete", [("ticket", SH), ("queue", S), ("if_unused", B), ("if_empty", B), ("nowait", B)]),
    (50, 41): ("queue.delete-ok", [("message_count", LO)]),
    (50, 50): ("queue.unbind", [("ticket", SH), ("queue", S), ("exchange", S), ("routing_key", S), ("arguments", T)]),
    (50, 51): ("queue.unbind-ok", []),
    (60, 10): ("basic.qos", [("prefetch_size", LO), ("prefetch_count", SH), ("global", B)]),
    (60, 11): ("basic.qos-ok", []),
    (60, 20): ("basic.consume", [("ticket", SH), ("queue", S), ("consumer_tag", S), ("no_local", B), ("no_ack", B), ("exclusive", B), ("nowait", B), ("arguments", T)]),
    (60, 21): ("basic.consume-ok", [("consumer_tag", S)]),
    (60, 30): ("basic.cancel", [("consumer_tag", S), ("nowait", B)]),
    (60, 31): ("basic.cancel-ok", [("consumer_tag", S)]),
    (60, 40): ("basic.publish", [("ticket", SH), ("exchange", S), ("routing_key", S), ("mandatory", B), ("immediate", B)]),
    (60, 50): ("basic.return", [("reply_code", SH), ("reply_text", S), ("exchange", S), ("routing_key", S)]),
    (60, 60): ("basic.deliver", [("consumer_tag", S), ("delivery_tag", LL), ("redelivered", B), ("exchange", S), ("routing_key", S)]),
    (60, 70): ("basic.get", [("ticket", SH), ("queue", S), ("no_ack", B)]),
    (60, 71): ("basic.get-ok", [("delivery_tag", LL), ("redelivered", B), ("exchange", S), ("routing_key", S), ("message_count", LO)]),
    (60, 72): ("basic.get-empty", [("cluster_id", S)]),
    (60, 80): ("basic.ack", [("delivery_tag", LL), ("multiple", B)]),
    (60, 90): ("basic.reject", [("delivery_tag", LL), ("requeue", B)]),
    (60, 100): ("basic.recover-async", [("requeue", B)]),
    (60, 110): ("basic.recover", [("requeue", B)]),
    (60, 111): ("basic.recover-ok", []),
    (60, 120): ("basic.nack", [("delivery_tag", LL), ("multiple", B), ("requeue", B)]),
    (85, 10): ("confirm.select", [("nowait", B)]),
    (85, 11): ("confirm.select-ok", []),
    (90, 10): ("tx.select", []), (90, 11): ("tx.select-ok", []),
    (90, 20): ("tx.commit", []), (90, 21): ("tx.commit-ok", []),
    (90, 30): ("tx.rollback", []), (90, 31): ("tx.rollback-ok", []),
}
BY_NAME = {v[0]: k for k, v in SPEC.items()}


# ---------------------------------------------------------------- encoding
def shortstr(s):
    if isinstance(s, str):
        s = s.encode()
    return bytes([len(s)]) + s


def longstr(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack(">I", len(s)) + s


def enc_value(v):
    """Python value -> typed field value. Use Raw(type, bytes) to force a type code."""
    if isinstance(v, Raw):
        return v.code + v.data
    if isinstance(v, bool):
        return b"t" + bytes([v])
    if isinstance(v, int):
        return b"l" + struct.pack(">q", v) if not -2**31 <= v < 2**31 else b"I" + struct.pack(">i", v)
    if isinstance(v, (str, bytes)):
        return b"S" + longstr(v)
    if isinstance(v, dict):
        return b"F" + table(v)
    if isinstance(v, list):
        body = b"".join(enc_value(x) for x in v)
        return b"A" + struct.pack(">I", len(body)) + body
    if isinstance(v, float):
        return b"d" + struct.pack(">d", v)
    if v is None:
        return b"V"
    raise TypeError(v)


class Raw:
    def __init__(self, code, data):
        self.code = code.encode() if isinstance(code, str) else code
        self.data = data


def table(d):
    body = b"".join(shortstr(k) + enc_value(v) for k, v in (d or {}).items())
    return struct.pack(">I", len(body)) + body


def encode_args(fields, kw):
    out, bits, nbits = b"", 0, 0
    for name, typ in fields:
        v = kw.get(name)
        if typ == B:
            bits |= (1 if v else 0) << nbits
            nbits += 1
            continue
        if nbits:
            out += bytes([bits]); bits = nbits = 0
        if typ == S:
            out += shortstr(v or "")
        elif typ == L:
            out += longstr(v or "")
        elif typ == O:
            out += struct.pack(">B", v or 0)
        elif typ == SH:
            out += struct.pack(">H", v or 0)
        elif typ == LO:
            out += struct.pack(">I", v or 0)
        elif typ == LL:
            out += struct.pack(">Q", v or 0)
        elif typ == T:
            out += v if isinstance(v, bytes) else table(v)
    if nbits:
        out += bytes([bits])
    return out


def method_payload(name, **kw):
    cls, mid = BY_NAME[name]
    return struct.pack(">HH", cls, mid) + encode_args(SPEC[(cls, mid)][1], kw)


def frame(ftype, channel, payload, end=FRAME_END):
    return struct.pack(">BHI", ftype, channel, len(payload)) + payload + bytes([end])


def method_frame(channel, name, **kw):
    return frame(1, channel, method_payload(name, **kw))


def header_frame(channel, body_size, props=b"\x00\x00", cls=60):
    """props: raw property flags+list bytes (default: no properties)."""
    return frame(2, channel, struct.pack(">HHQ", cls, 0, body_size) + props)


def props_bytes(content_type=None, headers=None, delivery_mode=None, headers_raw=None):
    flags, out = 0, b""
    if content_type is not None:
        flags |= 1 << 15; out += shortstr(content_type)
    if headers is not None or headers_raw is not None:
        flags |= 1 << 13; out += headers_raw if headers_raw is not None else table(headers)
    if delivery_mode is not None:
        flags |= 1 << 12; out += bytes([delivery_mode])
    return struct.pack(">H", flags) + out


def body_frame(channel, data):
    return frame(3, channel, data)


# ---------------------------------------------------------------- decoding
class Reader:
    def __init__(self, b):
        self.b, self.i = b, 0

    def take(self, n):
        v = self.b[self.i:self.i + n]
        if len(v) < n:
            raise ValueError("short read")
        self.i += n
        return v

    def u(self, fmt):
        n = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(n))[0]

    def shortstr(self):
        return self.take(self.u(">B")).decode("utf-8", "replace")

    def longstr(self):
        return self.take(self.u(">I"))

    def table(self):
        r = Reader(self.take(self.u(">I")))
        d = {}
        while r.i < len(r.b):
            k = r.shortstr()
            d[k] = r.value()
        return d

    def value(self):
        c = chr(self.take(1)[0])
        if c == "t": return ("t", bool(self.u(">B")))
        if c == "b": return ("b", self.u(">b"))
        if c == "B": return ("B", self.u(">B"))
        if c == "s": return ("s", self.u(">h"))
        if c == "u": return ("u", self.u(">H"))
        if c == "I": return ("I", self.u(">i"))
        if c == "i": return ("i", self.u(">I"))
        if c == "l": return ("l", self.u(">q"))
        if c == "L": return ("L", self.u(">Q"))
        if c == "f": return ("f", self.u(">f"))
        if c == "d": return ("d", self.u(">d"))
        if c == "D": return ("D", (self.u(">B"), self.u(">i")))
        if c == "S": return ("S", self.longstr())
        if c == "x": return ("x", self.longstr())
        if c == "T": return ("T", self.u(">Q"))
        if c == "F": return ("F", self.table())
        if c == "V": return ("V", None)
        if c == "A":
            r = Reader(self.take(self.u(">I")))
            arr = []
            while r.i < len(r.b):
                arr.append(r.value())
            return ("A", arr)
        raise ValueError("unknown field type %r" % c)


def plain(v):
    """Strip type codes from a decoded table value."""
    t, x = v
    if t == "F":
        return {k: plain(y) for k, y in x.items()}
    if t == "A":
        return [plain(y) for y in x]
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    return x


def decode_method(payload):
    r = Reader(payload)
    cls, mid = r.u(">H"), r.u(">H")
    name, fields = SPEC.get((cls, mid), ("unknown(%d,%d)" % (cls, mid), []))
    args, bits, nbit = {}, 0, 8
    for fname, typ in fields:
        if typ == B:
            if nbit == 8:
                bits, nbit = r.u(">B"), 0
            args[fname] = bool(bits >> nbit & 1)
            nbit += 1
            continue
        nbit = 8
        args[fname] = {S: r.shortstr, L: r.longstr, T: r.table,
                       O: lambda: r.u(">B"), SH: lambda: r.u(">H"),
                       LO: lambda: r.u(">I"), LL: lambda: r.u(">Q")}[typ]()
    return name, args


def decode_header(payload):
    r = Reader(payload)
    cls, weight, size, flags = r.u(">H"), r.u(">H"), r.u(">Q"), r.u(">H")
    props = {}
    names = [("content_type", "s"), ("content_encoding", "s"), ("headers", "F"), ("delivery_mode", "o"),
             ("priority", "o"), ("correlation_id", "s"), ("reply_to", "s"), ("expiration", "s"),
             ("message_id", "s"), ("timestamp", "q"), ("type", "s"), ("user_id", "s"), ("app_id", "s"),
             ("cluster_id", "s")]
    for bit, (n, t) in zip(range(15, 1, -1), names):
        if flags & (1 << bit):
            props[n] = (r.shortstr() if t == "s" else r.table() if t == "F" else
                        r.u(">B") if t == "o" else r.u(">Q"))
    return {"class": cls, "weight": weight, "body_size": size, "flags": flags, "props": props}


class Event:
    def __init__(self, kind, channel=None, name=None, args=None, raw=b""):
        self.kind, self.channel, self.name, self.args, self.raw = kind, channel, name, args or {}, raw

    def __repr__(self):
        if self.kind == "method":
            a = {k: v for k, v in self.args.items() if k not in ("server_properties",)}
            if self.name in ("connection.close", "channel.close"):
                return "%s(ch%d) %d %r class_id=%d method_id=%d" % (
                    self.name, self.channel, a["reply_code"], a["reply_text"], a["class_id"], a["method_id"])
            return "%s(ch%d) %s" % (self.name, self.channel, a)
        if self.kind == "header":
            return "header(ch%d) %s" % (self.channel, self.args)
        if self.kind == "body":
            return "body(ch%d) %r" % (self.channel, self.raw)
        if self.kind == "heartbeat":
            return "heartbeat(ch%d)" % self.channel
        if self.kind == "eof":
            return "TCP-EOF" + (" @%.1fs" % self.t if getattr(self, "t", None) is not None else "")
        if self.kind == "timeout":
            return "no-reply(timeout)"
        return "%s %r" % (self.kind, self.raw)


# ---------------------------------------------------------------- connection
class Conn:
    def __init__(self, port, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=5)
        self.buf = b""
        self.async_events = []  # deliveries etc. skipped over by ask()

    def send(self, data):
        self.sock.sendall(data)

    def method(self, channel, name, **kw):
        self.send(method_frame(channel, name, **kw))

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            return None
        except (ConnectionResetError, BrokenPipeError):
            return b""
        return d

    def next_event(self, timeout=3.0):
        deadline = time.time() + timeout
        while True:
            if self.buf.startswith(b"AMQP") and len(self.buf) >= 8:
                e = Event("protocol-header", raw=self.buf[:8]); self.buf = self.buf[8:]
                return e
            if len(self.buf) >= 7 and not self.buf.startswith(b"AMQP"):
                ftype, ch, size = struct.unpack(">BHI", self.buf[:7])
                if len(self.buf) >= 8 + size:
                    payload, end = self.buf[7:7 + size], self.buf[7 + size]
                    self.buf = self.buf[8 + size:]
                    if end != FRAME_END:
                        return Event("bad-frame-end", ch, raw=bytes([end]))
                    if ftype == 1:
                        name, args = decode_method(payload)
                        return Event("method", ch, name, args, payload)
                    if ftype == 2:
                        return Event("header", ch, args=decode_header(payload), raw=payload)
                    if ftype == 3:
                        return Event("body", ch, raw=payload)
                    if ftype == 8:
                        return Event("heartbeat", ch)
                    return Event("frame-type-%d" % ftype, ch, raw=payload)
            left = deadline - time.time()
            if left <= 0:
                return Event("timeout")
            d = self._fill(left)
            if d is None:
                return Event("timeout")
            if d == b"":
                if self.buf:
                    e = Event("trailing-bytes", raw=self.buf); self.buf = b""
                    return e
                return Event("eof")
            self.buf += d

    def expect(self, name, timeout=3.0):
        """Next method event, skipping heartbeats; raises if it is not `name`."""
        while True:
            e = self.next_event(timeout)
            if e.kind == "heartbeat":
                continue
            if e.kind == "method" and e.name == name:
                return e
            raise RuntimeError("expected %s, got %r" % (name, e))

    def outcome(self, timeout=1.5, answer_close=True):
        """Collect what the server says until it goes quiet, closes a channel or the connection.
        Answers channel.close / connection.close with close-ok and then reports whether TCP closed."""
        out = []
        t0 = time.time()
        while True:
            e = self.next_event(timeout)
            e.t = time.time() - t0
            if e.kind == "heartbeat":
                continue
            out.append(e)
            if e.kind in ("eof", "timeout", "trailing-bytes", "protocol-header", "bad-frame-end"):
                if e.kind == "protocol-header":
                    e2 = self.next_event(timeout)
                    e2.t = time.time() - t0
                    out.append(e2)
                return out
            if e.kind == "method" and e.name == "channel.close" and answer_close:
                self.method(e.channel, "channel.close-ok")
                return out
            if e.kind == "method" and e.name == "connection.close":
                if answer_close:
                    try:
                        self.method(0, "connection.close-ok")
                    except OSError:
                        pass
                    out.append(self.next_event(timeout))
                return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def open_conn(port, user="guest", password="guest", vhost="/", channel_max=None, frame_max=None,
              heartbeat=0, client_properties=None, tune_log=None):
    """Full handshake; returns (Conn, start_event, tune_event). Echoes tune unless overridden."""
    c = Conn(port)
    c.send(PROTOCOL_HEADER)
    start = c.expect("connection.start")
    props = client_properties or {"product": "warren-probe",
                                  "capabilities": {"consumer_cancel_notify": True, "basic.nack": True,
                                                   "publisher_confirms": True,
                                                   "exchange_exchange_bindings": True,
                                                   "authentication_failure_close": True,
                                                   "connection.blocked": True}}
    c.method(0, "connection.start-ok", client_properties=props, mechanism="PLAIN",
             response=b"\0" + user.encode() + b"\0" + password.encode(), locale="en_US")
    tune = c.next_event()
    if tune.kind != "method" or tune.name != "connection.tune":
        c.tune_failure = tune
        return c, start, tune
    ta = tune.args
    c.method(0, "connection.tune-ok",
             channel_max=ta["channel_max"] if channel_max is None else channel_max,
             frame_max=ta["frame_max"] if frame_max is None else frame_max,
             heartbeat=heartbeat)
    c.frame_max = ta["frame_max"] if frame_max is None else frame_max
    c.method(0, "connection.open", virtual_host=vhost)
    return c, start, tune


def connect(port, **kw):
    c, start, tune = open_conn(port, **kw)
    c.expect("connection.open-ok")
    return c


def channel(c, ch=1):
    c.method(ch, "channel.open")
    c.expect("channel.open-ok")
    return ch


def rpc(c, ch, name, reply, **kw):
    c.method(ch, name, **kw)
    return c.expect(reply)


def publish(c, ch, exchange, rk, body=b"x", mandatory=False, immediate=False, props=b"\x00\x00"):
    c.send(method_frame(ch, "basic.publish", exchange=exchange, routing_key=rk,
                        mandatory=mandatory, immediate=immediate)
           + header_frame(ch, len(body), props) + (body_frame(ch, body) if body else b""))


def port_arg():
    return int(sys.argv[1]) if len(sys.argv) > 1 else 5673


def fmt(events):
    return " ; ".join(repr(e) for e in events)


_log = {"pos": None}


def server_log_lines():
    """If $BROKER_LOG names the broker's log file, return the [error]/[warning] lines
    written since the previous call (RabbitMQ logs the reason for silent closes there)."""
    import os
    path = os.environ.get("BROKER_LOG")
    if not path:
        return []
    with open(path, "rb") as f:
        f.seek(0, 2)
        end = f.tell()
        if _log["pos"] is None:
            _log["pos"] = end
            return []
        f.seek(_log["pos"])
        data = f.read(end - _log["pos"])
        _log["pos"] = end
    out = []
    for line in data.decode("utf-8", "replace").splitlines():
        if "[error]" in line or "[warning]" in line:
            msg = line.split("> ", 1)[-1].strip()
            if msg and not msg.startswith("closing AMQP connection") and not msg.startswith("Error on AMQP"):
                out.append(msg)
    return out


server_log_lines()


def report(case, events):
    print("%-55s -> %s" % (case, events if isinstance(events, str) else fmt(events)), flush=True)
    time.sleep(0.2)
    lines = server_log_lines()
    for line in lines[:4]:
        print("    log: " + line, flush=True)
    if len(lines) > 4:
        print("    log: ... (%d more lines)" % (len(lines) - 4), flush=True)


def uniq(prefix):
    return "%s-%d-%d" % (prefix, int(time.time() * 1000) % 10**7, id(object()) % 1000)


ASYNC = ("basic.deliver", "basic.return", "basic.ack", "basic.nack", "basic.cancel", "connection.blocked",
         "connection.unblocked")


def ask(c, ch, name, timeout=2.0, **kw):
    """Send one synchronous method and return [reply]. A channel.close is answered with
    close-ok and the channel is reopened (so a script can go on); a connection.close is
    answered with close-ok."""
    try:
        c.method(ch, name, **kw)
    except OSError as ex:
        return [Event("send-failed", raw=str(ex).encode())]
    while True:
        e = c.next_event(timeout)
        if e.kind == "heartbeat":
            continue
        if e.kind in ("header", "body") or (e.kind == "method" and e.name in ASYNC):
            c.async_events.append(e)
            continue
        if e.kind == "method" and e.name == "channel.close":
            c.method(e.channel, "channel.close-ok")
            c.method(e.channel, "channel.open")
            c.expect("channel.open-ok")
        elif e.kind == "method" and e.name == "connection.close":
            try:
                c.method(0, "connection.close-ok")
            except OSError:
                pass
        return [e]


def fresh(port, ch=1):
    c = connect(port)
    channel(c, ch)
    return c
