#!/usr/bin/env python3
"""Seeds corpus/frame_decoder and corpus/method_parser from ../tests/fixtures/*.bin.

Run from this folder before the first `cargo fuzz run`. The seeds follow each target's
input layout (see the doc comment at the top of fuzz_targets/*.rs): frame_decoder gets
every fixture stream behind three chunking/frame_max prefixes; method_parser gets every
method payload (selector 0), header payload (1), property list (2) and peer-properties
table (3) found in the fixtures.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "tests", "fixtures")
CHUNKINGS = [b"\x00\x00\x00", b"\x02\x00\x06\x00\x20", b"\x07\xff\x00\x01\x02\x03\x04\x05\x06\x07"]


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


for name in sorted(os.listdir(FIXTURES)):
    if not name.endswith(".bin"):
        continue
    with open(os.path.join(FIXTURES, name), "rb") as f:
        stream = f.read()
    for i, prefix in enumerate(CHUNKINGS):
        write("frame_decoder", "%s.%d" % (name, i), prefix + stream)
    at, k = 0, 0
    while at + 7 <= len(stream):
        ftype, _channel, size = struct.unpack(">BHI", stream[at:at + 7])
        payload = stream[at + 7:at + 7 + size]
        at += size + 8
        if len(payload) != size:
            break
        if ftype == 1:
            write("method_parser", "%s.m%d" % (name, k), b"\x00" + payload)
            if payload[:4] == b"\x00\x0a\x00\x0b":  # start-ok: client properties first
                write("method_parser", "%s.t%d" % (name, k), b"\x03" + payload[4:])
            if payload[:4] == b"\x00\x0a\x00\x0a":  # start: two version octets first
                write("method_parser", "%s.t%d" % (name, k), b"\x03" + payload[6:])
        elif ftype == 2:
            write("method_parser", "%s.h%d" % (name, k), b"\x01" + payload)
            write("method_parser", "%s.p%d" % (name, k), b"\x02" + payload[12:])
        k += 1
