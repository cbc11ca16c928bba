#!/usr/bin/env python3
"""Queue probes. usage: probe_queue.py [PORT]"""
from amqp_raw import *

P = port_arg()


def qd(c, name, **kw):
    return ask(c, 1, "queue.declare", queue=name, **kw)


def cleanup(name):
    c = fresh(P)
    ask(c, 1, "queue.delete", queue=name)
    c.close()


# ---- redeclare differences (flags)
for label, first, second in (
        ("durable false->true", {}, dict(durable=True)),
        ("durable true->false", dict(durable=True), {}),
        ("auto_delete false->true", {}, dict(auto_delete=True)),
        ("auto_delete true->false", dict(auto_delete=True), {}),
        ("exclusive false->true (same conn)", {}, dict(exclusive=True)),
        ("exclusive true->false (same conn)", dict(exclusive=True), {})):
    c = fresh(P); n = uniq("q")
    qd(c, n, **first)
    report("redeclare %s" % label, qd(c, n, **second))
    ask(c, 1, "queue.delete", queue=n); c.close()

# ---- redeclare differences (arguments)
I32 = lambda v: Raw("I", struct.pack(">i", v))
I64 = lambda v: Raw("l", struct.pack(">q", v))
args_cases = [
    ("x-message-ttl", I32(1000), I32(2000)), ("x-expires", I32(60000), I32(70000)),
    ("x-max-length", I32(10), I32(20)), ("x-max-length-bytes", I32(1000), I32(2000)),
    ("x-dead-letter-exchange", "dlx", "dlx2"), ("x-dead-letter-routing-key", "a", "b"),
    ("x-max-priority", I32(5), I32(6)), ("x-queue-mode", "lazy", "default"),
    ("x-overflow", "reject-publish", "drop-head"), ("x-single-active-consumer", True, False),
    ("x-queue-master-locator", "min-masters", "random"), ("x-queue-type", "classic", None),
    ("x-foo", "a", "b"), ("foo", "a", "b"),
]
for key, v1, v2 in args_cases:
    c = fresh(P); n = uniq("q")
    r0 = qd(c, n, arguments={key: v1})
    if r0[0].name != "queue.declare-ok":
        report("declare with %s=%r" % (key, v1), r0)
        continue
    report("args %s: first set, redeclare without" % key, qd(c, n))
    if v2 is not None:
        report("args %s: redeclare with other value" % key, qd(c, n, arguments={key: v2}))
    ask(c, 1, "queue.delete", queue=n); c.close()
    c = fresh(P); n = uniq("q")
    qd(c, n)
    report("args %s: first absent, redeclare with it" % key, qd(c, n, arguments={key: v1}))
    ask(c, 1, "queue.delete", queue=n); c.close()
c = fresh(P); n = uniq("q")
qd(c, n, arguments={"x-message-ttl": I32(1000)})
report("x-message-ttl 1000 as 'I' then as 'l'", qd(c, n, arguments={"x-message-ttl": I64(1000)}))
report("x-message-ttl 1000 as 'I' then as 'S' \"1000\"", qd(c, n, arguments={"x-message-ttl": "1000"}))
ask(c, 1, "queue.delete", queue=n)
c = fresh(P); n = uniq("q")
qd(c, n, durable=True, arguments={"x-message-ttl": I32(1000)})
report("passive redeclare with different flags/args", qd(c, n, passive=True, durable=False, auto_delete=True,
                                                        arguments={"x-message-ttl": I32(5)}))
ask(c, 1, "queue.delete", queue=n)

# ---- passive, reserved names, server names
c = fresh(P)
report("passive declare missing queue", qd(c, "no-such-queue", passive=True))
report("declare 'amq.foo'", qd(c, "amq.foo"))
report("passive declare 'amq.foo' (missing)", qd(c, "amq.foo", passive=True))
report("declare 'AMQ.foo'", qd(c, "AMQ.foo", exclusive=True))
r = qd(c, "", exclusive=True)
report("server-named queue", r)
report("another server-named queue", qd(c, ""))
report("passive declare '' (no name)", qd(c, "", passive=True))
c2 = fresh(P)
report("passive declare '' on fresh channel", qd(c2, "", passive=True))
report("declare server-named with durable (non-exclusive)", qd(c2, "", durable=True))
report("queue.declare nowait: reply?", (c2.method(1, "queue.declare", queue=uniq("q"), exclusive=True, nowait=True), c2.outcome(timeout=0.5))[1])
report("queue.delete missing queue", ask(c2, 1, "queue.delete", queue="no-such-queue"))
report("queue.delete missing queue if_empty if_unused", ask(c2, 1, "queue.delete", queue="no-such-queue", if_empty=True, if_unused=True))
report("queue.purge missing queue", ask(c2, 1, "queue.purge", queue="no-such-queue"))
report("queue.delete '' with no previous declare on channel", ask(c2, 1, "queue.delete", queue=""))

# ---- exclusive queue from another connection
owner = fresh(P); n = uniq("excl")
qd(owner, n, exclusive=True)
ask(owner, 1, "queue.bind", queue=n, exchange="amq.direct", routing_key="ek")
for label, name, kw in (
        ("declare same args", "queue.declare", dict(queue=n, exclusive=True)),
        ("declare non-exclusive", "queue.declare", dict(queue=n)),
        ("declare passive", "queue.declare", dict(queue=n, passive=True)),
        ("basic.consume", "basic.consume", dict(queue=n)),
        ("basic.get", "basic.get", dict(queue=n)),
        ("queue.bind", "queue.bind", dict(queue=n, exchange="amq.direct", routing_key="k2")),
        ("queue.unbind", "queue.unbind", dict(queue=n, exchange="amq.direct", routing_key="ek")),
        ("queue.purge", "queue.purge", dict(queue=n)),
        ("queue.delete", "queue.delete", dict(queue=n)),
        ("queue.delete if_unused", "queue.delete", dict(queue=n, if_unused=True))):
    c = fresh(P)
    report("exclusive queue from other conn: %s" % label, ask(c, 1, name, **kw))
    c.close()
c = fresh(P); publish(c, 1, "", n, b"to-excl")
report("exclusive queue from other conn: publish via default ex", c.outcome(timeout=0.5))
publish(c, 1, "amq.direct", "ek", b"to-excl2")
time.sleep(0.3)
report("  ... owner sees depth", qd(owner, n, passive=True))
owner.close()
time.sleep(0.5)
c = fresh(P)
report("exclusive queue after owner connection closed", qd(c, n, passive=True))

# ---- delete / purge counts and conditions
c = fresh(P); n = uniq("q"); qd(c, n)
for i in range(3):
    publish(c, 1, "", n, b"m%d" % i)
time.sleep(0.3)
report("declare-ok counts with 3 msgs", qd(c, n))
report("delete if_empty with 3 msgs", ask(c, 1, "queue.delete", queue=n, if_empty=True))
report("purge count", ask(c, 1, "queue.purge", queue=n))
for i in range(2):
    publish(c, 1, "", n, b"m%d" % i)
ask(c, 1, "basic.consume", queue=n, consumer_tag="ct1")
time.sleep(0.3)
report("declare-ok counts with consumer (2 msgs delivered, unacked)", qd(c, n, passive=True))
report("purge with 2 unacked", ask(c, 1, "queue.purge", queue=n))
c3 = fresh(P)
report("delete if_unused with a consumer (other conn)", ask(c3, 1, "queue.delete", queue=n, if_unused=True))
r = ask(c3, 1, "queue.delete", queue=n)
report("delete count (0 ready, 2 unacked, 1 consumer)", r)
report("  ... consumer's connection sees", c.async_events + c.outcome(timeout=0.5))
c = fresh(P); n = uniq("q"); qd(c, n)
publish(c, 1, "", n, b"m")
ask(c, 1, "basic.consume", queue=n, consumer_tag="ct1")
time.sleep(0.2)
c3 = fresh(P)
report("delete if_empty with 0 ready, 1 unacked", ask(c3, 1, "queue.delete", queue=n, if_empty=True))
c = fresh(P); n = uniq("q"); qd(c, n)
for i in range(4):
    publish(c, 1, "", n, b"m%d" % i)
time.sleep(0.3)
report("delete count with 4 ready", ask(c, 1, "queue.delete", queue=n))

# ---- argument validation
for key, val in (("x-max-priority", I32(255)), ("x-max-priority", I32(256)), ("x-max-priority", I32(0)),
                 ("x-max-priority", I32(-1)), ("x-max-priority", "abc"),
                 ("x-message-ttl", I32(-1)), ("x-message-ttl", I32(0)), ("x-message-ttl", "abc"),
                 ("x-message-ttl", I64(2**40)),
                 ("x-expires", I32(0)), ("x-expires", I32(-5)), ("x-max-length", I32(-1)),
                 ("x-max-length-bytes", I32(-1)), ("x-queue-type", "foo"), ("x-queue-type", "quorum"),
                 ("x-queue-type", "stream"), ("x-queue-type", "classic"), ("x-queue-mode", "foo"),
                 ("x-overflow", "foo"), ("x-overflow", "reject-publish-dlx"), ("x-dead-letter-exchange", I32(5)),
                 ("x-dead-letter-routing-key", "rk"), ("x-single-active-consumer", "yes"),
                 ("x-foo-unknown", "bar"), ("x-message-ttl", Raw("d", struct.pack(">d", 1000.0)))):
    c = fresh(P); n = uniq("q")
    report("declare with %s=%s" % (key, val if not isinstance(val, Raw) else "%s:%s" % (val.code.decode(), val.data.hex())),
           qd(c, n, arguments={key: val}))
    ask(c, 1, "queue.delete", queue=n); c.close()
c = fresh(P); n = uniq("q")
report("declare quorum durable exclusive=false", qd(c, n, durable=True, arguments={"x-queue-type": "quorum"}))
ask(c, 1, "queue.delete", queue=n)
c = fresh(P); n = uniq("q")
report("declare x-dead-letter-routing-key without DLX", qd(c, n, arguments={"x-dead-letter-routing-key": "rk"}))
ask(c, 1, "queue.delete", queue=n)

# ---- auto-delete semantics
c = fresh(P); n = uniq("q")
qd(c, n, auto_delete=True)
time.sleep(0.3)
report("auto_delete queue never consumed: still there?", qd(c, n, passive=True))
ask(c, 1, "basic.consume", queue=n, consumer_tag="ad"); ask(c, 1, "basic.cancel", consumer_tag="ad")
time.sleep(0.3)
report("auto_delete queue after its only consumer cancelled", qd(c, n, passive=True))
