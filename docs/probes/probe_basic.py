#!/usr/bin/env python3
"""basic.* / tx / confirm probes. usage: probe_basic.py [PORT]"""
from amqp_raw import *

P = port_arg()


def setup(n_msgs=0, **qkw):
    c = fresh(P); q = uniq("q")
    ask(c, 1, "queue.declare", queue=q, **qkw)
    for i in range(n_msgs):
        publish(c, 1, "", q, b"m%d" % i)
    time.sleep(0.2)
    return c, q


def drain(c, t=0.5):
    """All events until quiet (deliveries, returns, ...)."""
    out = list(c.async_events); c.async_events.clear()
    while True:
        e = c.next_event(t)
        if e.kind == "timeout":
            return out
        out.append(e)
        if e.kind == "eof":
            return out


def deliveries(evs):
    return [e for e in evs if e.kind == "method" and e.name in ("basic.deliver", "basic.get-ok")]


def cleanup(q):
    c = fresh(P); ask(c, 1, "queue.delete", queue=q); c.close()


# ---- consume
c, q = setup(exclusive=True)
ask(c, 1, "basic.consume", queue=q, consumer_tag="dup")
report("consume duplicate consumer tag (same channel)", ask(c, 1, "basic.consume", queue=q, consumer_tag="dup"))
c, q = setup(exclusive=True)
ch2 = channel(c, 2)
ask(c, 1, "basic.consume", queue=q, consumer_tag="dup")
report("same consumer tag on a different channel", ask(c, 2, "basic.consume", queue=q, consumer_tag="dup"))
c, q = setup(exclusive=True)
report("consume with empty tag (server-generated)", ask(c, 1, "basic.consume", queue=q))
report("consume on missing queue", ask(c, 1, "basic.consume", queue="no-such-queue"))
report("basic.get on missing queue", ask(c, 1, "basic.get", queue="no-such-queue"))
report("consume '' with no previously declared queue", (lambda c: ask(c, 1, "basic.consume", queue=""))(fresh(P)))
holder, q = setup()
ask(holder, 1, "basic.consume", queue=q, consumer_tag="a")
c = fresh(P)
report("exclusive consume when another consumer exists", ask(c, 1, "basic.consume", queue=q, consumer_tag="b", exclusive=True))
c = fresh(P)
report("exclusive consume, other consumer on same channel", ask(holder, 1, "basic.consume", queue=q, consumer_tag="b2", exclusive=True))
cleanup(q)
holder, q = setup()
ask(holder, 1, "basic.consume", queue=q, consumer_tag="a", exclusive=True)
c = fresh(P)
report("normal consume when exclusive consumer exists", ask(c, 1, "basic.consume", queue=q, consumer_tag="b"))
report("second exclusive consume when exclusive exists", ask(c, 1, "basic.consume", queue=q, consumer_tag="c", exclusive=True))
report("basic.get when exclusive consumer exists", ask(c, 1, "basic.get", queue=q))
cleanup(q)

# ---- ack / nack / reject
for label, name, kw in (("ack unknown tag 5", "basic.ack", dict(delivery_tag=5)),
                        ("ack tag 0 multiple=false", "basic.ack", dict(delivery_tag=0)),
                        ("ack tag 0 multiple=true (nothing outstanding)", "basic.ack", dict(delivery_tag=0, multiple=True)),
                        ("ack unknown tag 5 multiple=true", "basic.ack", dict(delivery_tag=5, multiple=True)),
                        ("nack unknown tag 5", "basic.nack", dict(delivery_tag=5)),
                        ("nack unknown tag 5 multiple", "basic.nack", dict(delivery_tag=5, multiple=True)),
                        ("reject unknown tag 5", "basic.reject", dict(delivery_tag=5)),
                        ("nack tag 0 multiple=true (nothing outstanding)", "basic.nack", dict(delivery_tag=0, multiple=True))):
    c = fresh(P); c.method(1, name, **kw)
    report(label, c.outcome(timeout=0.7))
c, q = setup(3, exclusive=True)
for i in range(3):
    ask(c, 1, "basic.get", queue=q)
drain(c)
c.method(1, "basic.ack", delivery_tag=1)
report("ack tag 1 (valid)", c.outcome(timeout=0.5))
c.method(1, "basic.ack", delivery_tag=1)
report("double ack tag 1", c.outcome(timeout=0.7))
c, q = setup(3, exclusive=True)
for i in range(3):
    ask(c, 1, "basic.get", queue=q)
drain(c)
c.method(1, "basic.ack", delivery_tag=0, multiple=True)
report("ack tag 0 multiple=true with 3 outstanding", c.outcome(timeout=0.5))
report("  ... then queue depth / recover", ask(c, 1, "queue.declare", queue=q, passive=True))
c.method(1, "basic.ack", delivery_tag=2)
report("  ... then ack tag 2 again", c.outcome(timeout=0.7))
c, q = setup(3, exclusive=True)
for i in range(3):
    ask(c, 1, "basic.get", queue=q)
drain(c)
c.method(1, "basic.ack", delivery_tag=2, multiple=True)
c.method(1, "basic.ack", delivery_tag=2, multiple=True)
report("ack tag 2 multiple twice", c.outcome(timeout=0.7))
c, q = setup(1, exclusive=True)
r = ask(c, 1, "basic.get", queue=q, no_ack=True); drain(c)
c.method(1, "basic.ack", delivery_tag=1)
report("ack of a no_ack (auto-ack) get", c.outcome(timeout=0.7))
c, q = setup(2, exclusive=True)
ask(c, 1, "basic.get", queue=q); drain(c)
c.method(1, "basic.reject", delivery_tag=1, requeue=True)
time.sleep(0.2)
r = ask(c, 1, "basic.get", queue=q)
report("reject requeue=true then get: redelivered/position", r + [e for e in drain(c) if e.kind == "body"])
c, q = setup(1, exclusive=True)
ask(c, 1, "basic.get", queue=q); drain(c)
c.method(1, "basic.nack", delivery_tag=1, requeue=False)
time.sleep(0.2)
report("nack requeue=false: queue depth after", ask(c, 1, "queue.declare", queue=q, passive=True))
c, q = setup(2, exclusive=True)
for i in range(2):
    ask(c, 1, "basic.get", queue=q)
drain(c)
c.method(2, "channel.open"); c.expect("channel.open-ok")
c.method(2, "basic.ack", delivery_tag=1)
report("ack on channel 2 of a tag delivered on channel 1", c.outcome(timeout=0.7))

# ---- qos
for label, kw in (("qos prefetch_size=1000", dict(prefetch_size=1000)),
                  ("qos prefetch_size=1000 global", dict(prefetch_size=1000, **{"global": True})),
                  ("qos prefetch_count=65535", dict(prefetch_count=65535)),
                  ("qos prefetch_count=0 global=true", dict(prefetch_count=0, **{"global": True}))):
    c = fresh(P)
    report(label, ask(c, 1, "basic.qos", **kw))


def qos_test(label, settings):
    c, q = setup(10, exclusive=True)
    for kw in settings:
        ask(c, 1, "basic.qos", **kw)
    ask(c, 1, "basic.consume", queue=q, consumer_tag="c1")
    ask(c, 1, "basic.consume", queue=q, consumer_tag="c2")
    evs = deliveries(drain(c))
    report(label, "deliveries: " + ", ".join("%s#%d" % (e.args["consumer_tag"], e.args["delivery_tag"]) for e in evs))


qos_test("qos count=1 global=false, 2 consumers, 10 msgs", [dict(prefetch_count=1)])
qos_test("qos count=1 global=true, 2 consumers, 10 msgs", [{"prefetch_count": 1, "global": True}])
qos_test("qos count=3 global=true + count=1 global=false", [{"prefetch_count": 3, "global": True}, dict(prefetch_count=1)])
qos_test("qos count=2 global=false + count=3 global=true", [dict(prefetch_count=2), {"prefetch_count": 3, "global": True}])
c, q = setup(10, exclusive=True)
ask(c, 1, "basic.consume", queue=q, consumer_tag="c1")
ask(c, 1, "basic.qos", prefetch_count=1)
ask(c, 1, "basic.consume", queue=q, consumer_tag="c2")
evs = deliveries(drain(c))
report("consume c1 (no qos), then qos 1, then consume c2", "deliveries: " + ", ".join("%s#%d" % (e.args["consumer_tag"], e.args["delivery_tag"]) for e in evs))
c, q = setup(3, exclusive=True)
ask(c, 1, "basic.qos", prefetch_count=1)
r = ask(c, 1, "basic.get", queue=q) + ask(c, 1, "basic.get", queue=q)
report("basic.get ignores prefetch? (qos 1, 2 gets without ack)", r)

# ---- publish flags
c = fresh(P); publish(c, 1, "amq.direct", "nowhere", immediate=True)
report("publish immediate=true", c.outcome())
c = fresh(P); publish(c, 1, "amq.direct", "nowhere", mandatory=True, body=b"ret")
report("publish mandatory unroutable (amq.direct)", c.outcome(timeout=0.5))
c = fresh(P); publish(c, 1, "", "no-such-queue", mandatory=True, body=b"ret")
report("publish mandatory to default ex, missing queue", c.outcome(timeout=0.5))
c = fresh(P); publish(c, 1, "amq.direct", "nowhere", mandatory=False)
report("publish non-mandatory unroutable", c.outcome(timeout=0.5))
c = fresh(P); ask(c, 1, "confirm.select")
publish(c, 1, "amq.direct", "nowhere", mandatory=True, body=b"ret")
publish(c, 1, "amq.direct", "nowhere", mandatory=False, body=b"x")
c2, q = setup(exclusive=False)
publish(c, 1, "", q, body=b"ok")
report("confirm mode: mandatory unroutable, unroutable, routable", c.outcome(timeout=0.5))
cleanup(q)
c, q = setup(exclusive=True)
ask(c, 1, "confirm.select")
publish(c, 1, "", q, body=b"a", props=props_bytes(delivery_mode=2))
report("confirm mode: persistent to non-durable queue", c.outcome(timeout=0.5))
c = fresh(P)
report("confirm.select twice", ask(c, 1, "confirm.select") + ask(c, 1, "confirm.select"))
c = fresh(P); c.method(1, "confirm.select", nowait=True)
report("confirm.select nowait", c.outcome(timeout=0.5))

# ---- get
c, q = setup(exclusive=True)
report("basic.get on empty queue", ask(c, 1, "basic.get", queue=q))
c, q = setup(2, exclusive=True)
report("basic.get with 2 msgs: message_count", ask(c, 1, "basic.get", queue=q))
drain(c)

# ---- cancel
c = fresh(P)
report("cancel unknown consumer tag", ask(c, 1, "basic.cancel", consumer_tag="nope"))
c = fresh(P); c.method(1, "basic.cancel", consumer_tag="nope", nowait=True)
report("cancel unknown consumer tag nowait", c.outcome(timeout=0.5))
c, q = setup(2, exclusive=True)
ask(c, 1, "basic.consume", queue=q, consumer_tag="ct")
report("cancel with 2 unacked deliveries: reply", ask(c, 1, "basic.cancel", consumer_tag="ct"))
drain(c)
report("  ... depth after cancel (unacked stay with channel)", ask(c, 1, "queue.declare", queue=q, passive=True))
c.method(1, "basic.ack", delivery_tag=1)
report("  ... ack after cancel", c.outcome(timeout=0.5))

# ---- recover
c, q = setup(2, exclusive=True)
ask(c, 1, "basic.consume", queue=q, consumer_tag="ct"); drain(c)
report("basic.recover requeue=true", ask(c, 1, "basic.recover", requeue=True))
report("  ... redeliveries", [e for e in drain(c) if e.kind == "method"])
c, q = setup(2, exclusive=True)
ask(c, 1, "basic.consume", queue=q, consumer_tag="ct"); drain(c)
report("basic.recover requeue=false", ask(c, 1, "basic.recover", requeue=False))
report("  ... redeliveries", [e for e in drain(c) if e.kind == "method"])
c, q = setup(2, exclusive=True)
ask(c, 1, "basic.get", queue=q); drain(c)
c.method(1, "basic.recover-async", requeue=True)
report("basic.recover-async requeue=true", c.outcome(timeout=0.5))
report("  ... then get", (ask(c, 1, "basic.get", queue=q), drain(c))[0])
c, q = setup(exclusive=True)
report("basic.recover with nothing outstanding", ask(c, 1, "basic.recover", requeue=True))

# ---- redelivered after channel close
c, q = setup(2)
ask(c, 1, "basic.get", queue=q); drain(c)
c.method(1, "channel.close", reply_code=200, reply_text="bye"); c.expect("channel.close-ok")
channel(c, 1)
report("get after channel close with 1 unacked: first", (ask(c, 1, "basic.get", queue=q), drain(c))[0])
report("  second", (ask(c, 1, "basic.get", queue=q), drain(c))[0])
cleanup(q)

# ---- server-sent basic.cancel
for caps, label in (({"consumer_cancel_notify": True}, "with consumer_cancel_notify"), ({}, "without capability")):
    c = connect(P, client_properties={"capabilities": caps}); channel(c)
    q = uniq("q"); ask(c, 1, "queue.declare", queue=q)
    ask(c, 1, "basic.consume", queue=q, consumer_tag="ct")
    c2 = fresh(P); ask(c2, 1, "queue.delete", queue=q)
    report("queue deleted under consumer, %s" % label, c.outcome(timeout=0.7))
c = fresh(P); q = uniq("q"); ask(c, 1, "queue.declare", queue=q)
ask(c, 1, "basic.consume", queue=q, consumer_tag="ct")
report("queue deleted by the consumer's own channel", ask(c, 1, "queue.delete", queue=q) + c.async_events + c.outcome(timeout=0.5))

# ---- tx / confirm mode switches
c = fresh(P); ask(c, 1, "confirm.select")
report("confirm.select then tx.select", ask(c, 1, "tx.select"))
c = fresh(P); ask(c, 1, "tx.select")
report("tx.select then confirm.select", ask(c, 1, "confirm.select"))
c = fresh(P)
report("tx.commit without tx.select", ask(c, 1, "tx.commit"))
report("tx.rollback without tx.select", ask(c, 1, "tx.rollback"))
report("tx.select twice", ask(c, 1, "tx.select") + ask(c, 1, "tx.select"))
c, q = setup(exclusive=True)
ask(c, 1, "tx.select"); publish(c, 1, "", q, b"tx")
time.sleep(0.2)
report("tx: depth before commit", ask(c, 1, "queue.declare", queue=q, passive=True))
report("tx.commit", ask(c, 1, "tx.commit"))
report("tx: depth after commit", ask(c, 1, "queue.declare", queue=q, passive=True))
publish(c, 1, "", q, b"tx2")
report("tx.rollback", ask(c, 1, "tx.rollback"))
report("tx: depth after rollback", ask(c, 1, "queue.declare", queue=q, passive=True))
c, q = setup(exclusive=True)
ask(c, 1, "tx.select"); publish(c, 1, "amq.direct", "nowhere", mandatory=True)
time.sleep(0.2)
report("tx: mandatory unroutable before commit (return now?)", c.outcome(timeout=0.5))
c.method(1, "tx.commit")
report("  ... tx.commit (wire order)", c.outcome(timeout=0.5))

# ---- message size
c = fresh(P)
c.send(method_frame(1, "basic.publish", exchange="amq.direct", routing_key="x") + header_frame(1, 134217728 + 1))
report("content header body_size = 128MiB + 1", c.outcome(timeout=1))
c = fresh(P)
c.send(method_frame(1, "basic.publish", exchange="amq.direct", routing_key="x") + header_frame(1, 134217728))
report("content header body_size = 128MiB (no body sent)", c.outcome(timeout=1))
c = fresh(P)
c.send(method_frame(1, "basic.publish", exchange="amq.direct", routing_key="x") + header_frame(1, 2**63 + 5))
report("content header body_size = 2^63+5", c.outcome(timeout=1))
for size in (134217728 + 1, 134217728):
    c = fresh(P)
    c.send(method_frame(1, "basic.publish", exchange="amq.direct", routing_key="x") + header_frame(1, size))
    fm = c.frame_max - 8
    chunk, sent = b"x" * fm, 0
    while sent < size:
        n = min(fm, size - sent)
        c.send(body_frame(1, chunk[:n])); sent += n
    report("publish full body of %d bytes" % size, c.outcome(timeout=3))
