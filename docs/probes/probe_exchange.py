#!/usr/bin/env python3
"""Exchange probes. usage: probe_exchange.py [PORT]"""
from amqp_raw import *

P = port_arg()


def decl(c, name, type="direct", **kw):
    return ask(c, 1, "exchange.declare", exchange=name, type=type, **kw)


c = fresh(P)
for t in ("foo", "", "x-consistent-hash", "Direct", "x-delayed-message"):
    c = fresh(P)
    report("declare type %r" % t, decl(c, uniq("ex"), t))

# ---- redeclare with differences
base = dict(type="direct", durable=False, auto_delete=False, internal=False, arguments={})
variants = [("type", dict(type="fanout")), ("durable", dict(durable=True)), ("auto_delete", dict(auto_delete=True)),
            ("internal", dict(internal=True)),
            ("arguments +x-foo", dict(arguments={"x-foo": "bar"})),
            ("arguments +alternate-exchange", dict(arguments={"alternate-exchange": "amq.fanout"})),
            ("arguments +foo (non x-)", dict(arguments={"foo": 1}))]
for label, change in variants:
    c = fresh(P)
    n = uniq("ex")
    decl(c, n, **base)
    kw = dict(base); kw.update(change)
    report("redeclare differing %s" % label, decl(c, n, **kw))
    ask(c, 1, "exchange.delete", exchange=n)
c = fresh(P); n = uniq("ex")
decl(c, n, type="direct", arguments={"alternate-exchange": "amq.fanout"})
report("redeclare: AE set, then declared without args", decl(c, n, type="direct"))
report("redeclare: AE set, then other AE", decl(c, n, type="direct", arguments={"alternate-exchange": "x"}))
ask(c, 1, "exchange.delete", exchange=n)
c = fresh(P); n = uniq("ex")
decl(c, n, type="topic", durable=True)
report("passive redeclare with different type/durable", decl(c, n, type="fanout", passive=True))
ask(c, 1, "exchange.delete", exchange=n)

# ---- passive / reserved names
c = fresh(P)
report("passive declare missing exchange", decl(c, "no-such-exchange", passive=True))
c = fresh(P)
report("passive declare missing, type 'foo'", decl(c, "no-such-exchange", type="foo", passive=True))
for name, kw in (("amq.foo", {}), ("amq.direct", {}), ("amq.direct", dict(durable=True)),
                 ("amq.topic", dict(type="topic", durable=True)), ("amq.direct", dict(passive=True)),
                 ("amq.foo", dict(passive=True)), ("", {}), ("", dict(passive=True)), ("AMQ.foo", {})):
    c = fresh(P)
    report("declare %r %s" % (name, kw), decl(c, name, **kw))
    if name == "AMQ.foo":
        ask(c, 1, "exchange.delete", exchange=name)
for name in ("", "amq.direct", "amq.foo", "no-such-exchange"):
    c = fresh(P)
    report("delete %r" % name, ask(c, 1, "exchange.delete", exchange=name))
c = fresh(P)
report("delete %r if_unused" % "no-such-exchange", ask(c, 1, "exchange.delete", exchange="no-such-exchange", if_unused=True))

# ---- publish
c = fresh(P); publish(c, 1, "no-such-exchange", "rk")
report("publish to missing exchange", c.outcome())
c = fresh(P); n = uniq("ex"); decl(c, n, internal=True); publish(c, 1, n, "rk")
report("publish to internal exchange", c.outcome())
c = fresh(P); ask(c, 1, "exchange.delete", exchange=n)
c = fresh(P); publish(c, 1, "amq.foo", "rk")
report("publish to missing 'amq.foo'", c.outcome())

# ---- delete if_unused
c = fresh(P); n = uniq("ex"); q = uniq("q")
decl(c, n); ask(c, 1, "queue.declare", queue=q, exclusive=True)
ask(c, 1, "queue.bind", queue=q, exchange=n, routing_key="k")
report("delete if_unused, exchange is source of a queue binding", ask(c, 1, "exchange.delete", exchange=n, if_unused=True))
c = fresh(P); n2 = uniq("ex"); decl(c, n2)
ask(c, 1, "exchange.bind", destination=n2, source="amq.fanout", routing_key="")
report("delete if_unused, exchange only a destination (e2e)", ask(c, 1, "exchange.delete", exchange=n2, if_unused=True))
c = fresh(P); ask(c, 1, "exchange.delete", exchange=n)

# ---- bind errors
c = fresh(P); q = uniq("q"); ask(c, 1, "queue.declare", queue=q, exclusive=True)
report("queue.bind to missing exchange", ask(c, 1, "queue.bind", queue=q, exchange="no-such-exchange", routing_key="k"))
c = fresh(P)
report("queue.bind missing queue to amq.direct", ask(c, 1, "queue.bind", queue="no-such-queue", exchange="amq.direct", routing_key="k"))
c = fresh(P)
report("queue.bind missing queue to missing exchange", ask(c, 1, "queue.bind", queue="no-such-queue", exchange="no-such-exchange"))
c = fresh(P)
report("exchange.bind missing source", ask(c, 1, "exchange.bind", destination="amq.fanout", source="no-such-exchange"))
c = fresh(P)
report("exchange.bind missing destination", ask(c, 1, "exchange.bind", destination="no-such-exchange", source="amq.fanout"))
c = fresh(P)
report("exchange.bind both missing", ask(c, 1, "exchange.bind", destination="no-such-x1", source="no-such-x2"))
c = fresh(P); q = uniq("q"); ask(c, 1, "queue.declare", queue=q, exclusive=True)
report("queue.bind to default exchange ''", ask(c, 1, "queue.bind", queue=q, exchange="", routing_key=q))
c = fresh(P); ask(c, 1, "queue.declare", queue=q, exclusive=True)
report("queue.unbind from default exchange ''", ask(c, 1, "queue.unbind", queue=q, exchange="", routing_key=q))
c = fresh(P)
report("exchange.bind destination '' ", ask(c, 1, "exchange.bind", destination="", source="amq.fanout"))
c = fresh(P)
report("exchange.bind source '' ", ask(c, 1, "exchange.bind", destination="amq.fanout", source=""))
c = fresh(P)
report("exchange.unbind source '' ", ask(c, 1, "exchange.unbind", destination="amq.fanout", source=""))
c = fresh(P)
report("queue.bind with empty queue name (no prior declare on ch)", ask(c, 1, "queue.bind", queue="", exchange="amq.direct", routing_key="k"))
c = fresh(P); r = ask(c, 1, "queue.declare", queue="", exclusive=True)
report("queue.bind with empty queue name after declaring server-named", ask(c, 1, "queue.bind", queue="", exchange="amq.direct", routing_key=""))
report("  (server-named queue was)", r)
c = fresh(P); q = uniq("q"); ask(c, 1, "queue.declare", queue=q, exclusive=True)
report("queue.bind '' after declaring named queue on ch", ask(c, 1, "queue.bind", queue="", exchange="amq.direct", routing_key=""))
publish(c, 1, "amq.direct", q, b"x"); time.sleep(0.2)
report("  ... routing key '' was replaced by queue name? depth", ask(c, 1, "queue.declare", queue=q, passive=True))

# ---- unbind of non-existent bindings
c = fresh(P); q = uniq("q"); ask(c, 1, "queue.declare", queue=q, exclusive=True)
report("queue.unbind non-existent binding (queue, exchange exist)", ask(c, 1, "queue.unbind", queue=q, exchange="amq.direct", routing_key="nope"))
report("queue.unbind missing exchange", ask(c, 1, "queue.unbind", queue=q, exchange="no-such-exchange", routing_key="nope"))
c = fresh(P)
report("queue.unbind missing queue", ask(c, 1, "queue.unbind", queue="no-such-queue", exchange="amq.direct", routing_key="nope"))
c = fresh(P)
report("exchange.unbind non-existent binding", ask(c, 1, "exchange.unbind", destination="amq.fanout", source="amq.direct", routing_key="nope"))
report("exchange.unbind missing source", ask(c, 1, "exchange.unbind", destination="amq.fanout", source="no-such-exchange"))
c = fresh(P)
report("exchange.unbind missing destination", ask(c, 1, "exchange.unbind", destination="no-such-exchange", source="amq.fanout"))
c = fresh(P); q = uniq("q"); ask(c, 1, "queue.declare", queue=q, exclusive=True)
report("queue.bind twice (same key)", ask(c, 1, "queue.bind", queue=q, exchange="amq.direct", routing_key="k") +
       ask(c, 1, "queue.bind", queue=q, exchange="amq.direct", routing_key="k"))

# ---- auto-delete exchange
c = fresh(P); n = uniq("ex"); q = uniq("q")
decl(c, n, auto_delete=True)
report("auto_delete exchange, never bound, passive redeclare", decl(c, n, passive=True))
ask(c, 1, "queue.declare", queue=q, exclusive=True)
ask(c, 1, "queue.bind", queue=q, exchange=n, routing_key="k")
ask(c, 1, "queue.unbind", queue=q, exchange=n, routing_key="k")
report("auto_delete exchange after last binding removed", decl(c, n, passive=True))

# ---- e2e cycle
c = fresh(P); a, b, q = uniq("A"), uniq("B"), uniq("q")
decl(c, a, type="fanout"); decl(c, b, type="fanout")
ask(c, 1, "queue.declare", queue=q, exclusive=True)
ask(c, 1, "queue.bind", queue=q, exchange=b)
ask(c, 1, "exchange.bind", destination=b, source=a)
ask(c, 1, "exchange.bind", destination=a, source=b)
publish(c, 1, a, "", b"cycle")
time.sleep(0.3)
r = ask(c, 1, "queue.declare", queue=q, passive=True)
report("cycle A->B->A, queue on B, publish 1 to A: queue depth", r)
publish(c, 1, b, "", b"cycle")
time.sleep(0.3)
report("  ... then publish 1 to B: queue depth", ask(c, 1, "queue.declare", queue=q, passive=True))
q2 = uniq("q")
ask(c, 1, "queue.declare", queue=q2, exclusive=True)
ask(c, 1, "queue.bind", queue=q2, exchange=a)
ask(c, 1, "queue.bind", queue=q2, exchange=b)
publish(c, 1, a, "", b"cycle")
time.sleep(0.3)
report("queue bound to both A and B (cycle), publish 1 to A", ask(c, 1, "queue.declare", queue=q2, passive=True))
ask(c, 1, "exchange.delete", exchange=a); ask(c, 1, "exchange.delete", exchange=b)

# diamond: X -> Y1, X -> Y2, Y1 -> Q, Y2 -> Q
c = fresh(P); x, y1, y2, q = uniq("X"), uniq("Y1"), uniq("Y2"), uniq("q")
for e in (x, y1, y2):
    decl(c, e, type="fanout")
ask(c, 1, "queue.declare", queue=q, exclusive=True)
ask(c, 1, "exchange.bind", destination=y1, source=x); ask(c, 1, "exchange.bind", destination=y2, source=x)
ask(c, 1, "queue.bind", queue=q, exchange=y1); ask(c, 1, "queue.bind", queue=q, exchange=y2)
ask(c, 1, "queue.bind", queue=q, exchange=x)
publish(c, 1, x, "", b"diamond")
time.sleep(0.3)
report("diamond X->{Y1,Y2}->Q plus X->Q, publish 1 to X", ask(c, 1, "queue.declare", queue=q, passive=True))
for e in (x, y1, y2):
    ask(c, 1, "exchange.delete", exchange=e)

# ---- headers exchange x-match
c = fresh(P); q = uniq("q"); ask(c, 1, "queue.declare", queue=q, exclusive=True)
report("bind to amq.headers with x-match 'foo'", ask(c, 1, "queue.bind", queue=q, exchange="amq.headers", arguments={"x-match": "foo"}))
c = fresh(P); q = uniq("q"); ask(c, 1, "queue.declare", queue=q, exclusive=True)
report("bind to amq.headers with x-match 'any-with-x'", ask(c, 1, "queue.bind", queue=q, exchange="amq.headers", arguments={"x-match": "any-with-x"}))
# exchange.declare nowait error
c = fresh(P); c.method(1, "exchange.declare", exchange=uniq("ex"), type="foo", nowait=True)
report("declare type foo with nowait", c.outcome())
c = fresh(P); c.method(1, "exchange.declare", exchange="ex" + "é" * 1, type="direct")
report("declare name with non-ASCII (UTF-8)", c.outcome(timeout=0.5))
c = fresh(P); c.method(1, "exchange.declare", exchange="bad name!*#", type="direct")
report("declare name 'bad name!*#'", c.outcome(timeout=0.5))
ask(c, 1, "exchange.delete", exchange="bad name!*#")
