#!/usr/bin/env python3
"""Field-table type code probes. usage: probe_tables.py [PORT]

For each type code, publishes a message whose headers table is {"k": <value of that
type>} (raw bytes, so codes the client libraries would not send can be tried), then
basic.gets it back and prints what the server said and the exact bytes of the
returned headers entry. Also tries each code in queue.declare arguments, and shows
how the server encodes headers it generates itself (x-death via dead-lettering)."""
from amqp_raw import *

P = port_arg()

CASES = [
    ("t", b"\x01"), ("b", b"\xfe"), ("B", b"\xfe"), ("s", b"\xff\xfe"), ("u", b"\xff\xfe"),
    ("U", b"\xff\xfe"), ("I", b"\xff\xff\xff\xfe"), ("i", b"\xff\xff\xff\xfe"),
    ("l", b"\xff" * 7 + b"\xfe"), ("L", b"\xff" * 7 + b"\xfe"), ("f", struct.pack(">f", 1.5)),
    ("d", struct.pack(">d", 1.5)), ("D", b"\x02" + struct.pack(">i", 12345)), ("S", longstr(b"str")),
    ("s-as-shortstr", None), ("x", longstr(b"\x00\x01bin")), ("T", struct.pack(">Q", 1700000000)),
    ("F", table({"a": "b"})), ("A", struct.pack(">I", 5) + b"I" + struct.pack(">i", 7)), ("V", b""),
    ("c", b"\x41"), ("Z", b"\x00\x00\x00\x00"),
]


def headers_entry(code, data):
    if code == "s-as-shortstr":  # 0-8 style short string under 's'
        return shortstr("k") + b"s" + shortstr("abc")
    return shortstr("k") + code.encode() + data


for code, data in CASES:
    entry = headers_entry(code, data)
    hdr_table = struct.pack(">I", len(entry)) + entry
    c = fresh(P); q = uniq("q")
    ask(c, 1, "queue.declare", queue=q, exclusive=True)
    publish(c, 1, "", q, b"body", props=props_bytes(headers_raw=hdr_table))
    out = c.outcome(timeout=0.5)
    if out and out[0].kind != "timeout":
        report("header type %r: publish" % code, out)
        continue
    r = ask(c, 1, "basic.get", queue=q)
    evs = [e for e in r + c.outcome(timeout=0.5) if e.kind != "timeout"]
    hdr = [e for e in evs if e.kind == "header"]
    if hdr:
        raw = hdr[0].raw
        same = hdr_table in raw
        flags = struct.unpack(">H", raw[12:14])[0]
        tbl = raw[14:]
        n = struct.unpack(">I", tbl[:4])[0]
        got = tbl[4:4 + n]
        try:
            dec = Reader(tbl).table()
        except Exception as ex:  # noqa
            dec = "undecodable: %s" % ex
        report("header type %r: delivered" % code, "sent %s | got %s | byte-identical=%s | %s" % (
            entry[2:].hex(), got[2:].hex(), same, dec))
    else:
        report("header type %r: get" % code, evs)
    c.close()

# same codes as queue.declare arguments (x-foo is ignored by the broker, so only parsing matters)
for code, data in CASES:
    entry = headers_entry(code, data).replace(b"\x01k", b"\x05x-foo", 1)
    args = struct.pack(">I", len(entry)) + entry
    c = fresh(P)
    report("queue.declare argument x-foo type %r" % code,
           ask(c, 1, "queue.declare", queue="", exclusive=True, arguments=args))
    c.close()

# client_properties with an 'L' value
c = Conn(P); c.send(PROTOCOL_HEADER); c.expect("connection.start")
entry = shortstr("k") + b"L" + b"\x00" * 8
c.method(0, "connection.start-ok", client_properties=struct.pack(">I", len(entry)) + entry, mechanism="PLAIN",
         response=b"\0guest\0guest", locale="en_US")
report("client_properties containing 'L'", c.outcome(timeout=4))

# how does the broker encode headers it writes itself? dead-letter one message
c = fresh(P); dlq, src = uniq("dlq"), uniq("src")
ask(c, 1, "queue.declare", queue=dlq, exclusive=True)
ask(c, 1, "queue.declare", queue=src, exclusive=True,
    arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq})
publish(c, 1, "", src, b"dead", props=props_bytes(headers={"big": 2**40, "small": 5}))
time.sleep(0.2)
ask(c, 1, "basic.get", queue=src); evs = c.outcome(timeout=0.3)
c.method(1, "basic.reject", delivery_tag=1, requeue=False)
time.sleep(0.3)
r = ask(c, 1, "basic.get", queue=dlq)
evs = [e for e in r + c.outcome(timeout=0.5) if e.kind == "header"]
if evs:
    raw = evs[0].raw
    report("dead-lettered message: headers as typed values", repr(Reader(raw[14:]).table()))
    report("dead-lettered message: raw property bytes", raw[12:].hex())

# every accepted code in one headers table, dead-lettered so that the broker must re-encode it
ok_codes = [(c_, d) for c_, d in CASES if c_ not in ("U", "s-as-shortstr", "c", "Z")]
entries = b"".join(shortstr("k" + c_) + c_.encode() + d for c_, d in ok_codes)
hdr_table = struct.pack(">I", len(entries)) + entries
c = fresh(P); dlq, src = uniq("dlq"), uniq("src")
ask(c, 1, "queue.declare", queue=dlq, exclusive=True)
ask(c, 1, "queue.declare", queue=src, exclusive=True,
    arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq})
publish(c, 1, "", src, b"dead", props=props_bytes(headers_raw=hdr_table))
time.sleep(0.2)
ask(c, 1, "basic.get", queue=src); c.outcome(timeout=0.3)
c.method(1, "basic.reject", delivery_tag=1, requeue=False)
time.sleep(0.3)
r = ask(c, 1, "basic.get", queue=dlq)
evs = [e for e in r + c.outcome(timeout=0.5) if e.kind == "header"]
if evs:
    t = Reader(evs[0].raw[14:]).table()
    for c_, d in ok_codes:
        v = t.get("k" + c_)
        sent = (c_.encode() + d).hex()
        got = None
        # re-encode what came back to compare bytes
        report("re-encoded by broker (dead-lettered) %r" % c_, "sent %s -> got %r" % (sent, v))

# integer-valued queue arguments with each integer type code
for code, data in (("b", b"\x05"), ("B", b"\x05"), ("s", b"\x00\x05"), ("u", b"\x00\x05"), ("I", b"\x00\x00\x00\x05"),
                   ("i", b"\x00\x00\x00\x05"), ("l", b"\x00" * 7 + b"\x05"), ("L", b"\x00" * 7 + b"\x05"),
                   ("T", b"\x00" * 7 + b"\x05"), ("D", b"\x00\x00\x00\x00\x05")):
    c = fresh(P)
    entry = shortstr("x-max-length") + code.encode() + data
    report("x-max-length=5 as type %r" % code,
           ask(c, 1, "queue.declare", queue="", exclusive=True, arguments=struct.pack(">I", len(entry)) + entry))
    c.close()

# key order after the broker re-encodes a headers table
c = fresh(P); dlq, src = uniq("dlq"), uniq("src")
ask(c, 1, "queue.declare", queue=dlq, exclusive=True)
ask(c, 1, "queue.declare", queue=src, exclusive=True,
    arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq})
publish(c, 1, "", src, b"dead", props=props_bytes(headers={"zz": 1, "aa": 2, "mm": 3}))
time.sleep(0.2)
ask(c, 1, "basic.get", queue=src); c.outcome(timeout=0.3)
c.method(1, "basic.reject", delivery_tag=1, requeue=False)
time.sleep(0.3)
r = ask(c, 1, "basic.get", queue=dlq)
evs = [e for e in r + c.outcome(timeout=0.5) if e.kind == "header"]
if evs:
    report("headers published as zz, aa, mm; dead-lettered key order", repr(list(Reader(evs[0].raw[14:]).table().keys())))
