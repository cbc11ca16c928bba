#!/usr/bin/env python3
"""Users, permissions, topic permissions, user_id, limits, vhost deletion and policies, as a
client sees them (raw client, so the class_id/method_id of every close is shown).

usage: probe_access.py [AMQP_PORT] [MGMT_PORT]        (defaults 5673 15673)

Setup (users, permissions, vhosts, limits, policies) goes through the RabbitMQ management HTTP
API on MGMT_PORT as guest/guest. The equivalent rabbitmqctl commands, for a broker without that
API (node rabbit5673@localhost, env as in /work/shared/tools/rabbitmq-up):
    rabbitmqctl add_user bob bob ; rabbitmqctl set_permissions -p / bob '^bob\\.' '^bob\\.' '^bob\\.'
    rabbitmqctl add_user carl carl ; rabbitmqctl set_permissions -p / carl 'bob' '.*' '.*'
    rabbitmqctl add_user dora dora ; rabbitmqctl set_permissions -p / dora '' '.*' '.*'
    rabbitmqctl add_user hank hank ; rabbitmqctl set_permissions -p / hank '^$' '.*' '.*'
    rabbitmqctl add_user ivan ivan ; rabbitmqctl set_permissions -p / ivan '^amq\\.gen' '.*' '.*'
    rabbitmqctl add_user eve eve                          # no permissions anywhere
    rabbitmqctl add_user frank frank ; rabbitmqctl set_permissions -p / frank '.*' '.*' '.*'
    rabbitmqctl set_topic_permissions -p / frank amq.topic '^allowed\\.' '^r\\.'
    rabbitmqctl add_user imp imp-secret ; rabbitmqctl set_user_tags imp impersonator ; (perms .* .* .*)
    rabbitmqctl add_vhost small ; set_permissions -p small guest .* .* .*
    rabbitmqctl set_vhost_limits -p small '{"max-connections": 1, "max-queues": 1}'
    rabbitmqctl add_vhost zero ; set_vhost_limits -p zero '{"max-connections": 0}'
    rabbitmqctl add_user gina gina ; set_permissions gina .* .* .*
    rabbitmqctl set_user_limits gina '{"max-connections": 1, "max-channels": 1}'
    rabbitmqctl add_vhost doomed ; ... ; rabbitmqctl delete_vhost doomed   (while connected)
    policies: rabbitmqctl set_policy / set_operator_policy (see the policy section below)
All user passwords equal the user name except imp (imp-secret).
"""
import base64
import json
import urllib.error
import urllib.request

from amqp_raw import *

P = port_arg()
MGMT = int(sys.argv[2]) if len(sys.argv) > 2 else 15673
AUTH = "Basic " + base64.b64encode(b"guest:guest").decode()


def api(method, path, body=None):
    req = urllib.request.Request("http://127.0.0.1:%d/api/%s" % (MGMT, path), method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"authorization": AUTH, "content-type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def mkuser(name, perms, vhost="%2F", pw=None, tags=""):
    api("PUT", "users/%s" % name, {"password": pw or name, "tags": tags})
    api("DELETE", "permissions/%s/%s" % (vhost, name))
    if perms is not None:
        api("PUT", "permissions/%s/%s" % (vhost, name), dict(zip(["configure", "write", "read"], perms)))


def login(user, pw, vhost="/", **kw):
    """Handshake as user; -> (Conn or None, [events]) (events empty when connection.open-ok)."""
    c, start, tune = open_conn(P, user=user, password=pw, vhost=vhost, **kw)
    if getattr(c, "tune_failure", None) is not None:
        ev = [c.tune_failure]
        if c.tune_failure.kind == "method" and c.tune_failure.name == "connection.close":
            c.method(0, "connection.close-ok")
            ev.append(c.next_event(4))
        c.close()
        return None, ev
    e = c.next_event()
    if e.kind == "method" and e.name == "connection.open-ok":
        return c, []
    ev = [e]
    if e.kind == "method" and e.name == "connection.close":
        c.method(0, "connection.close-ok")
        ev.append(c.next_event(4))
    c.close()
    return None, ev


def as_user(user, name, pre=(), pw=None, vhost="/", **kw):
    """Open a connection + channel 1 as `user`, run `pre` (list of (method, kwargs)), then `name`."""
    c, ev = login(user, pw or user, vhost)
    if c is None:
        return ev
    channel(c)
    for m, a in pre:
        r = ask(c, 1, m, **a)
        if r[0].kind != "method" or r[0].name.endswith("close"):
            c.close()
            return [Event("pre-step-failed", raw=repr(r).encode())]
    r = ask(c, 1, name, **kw)
    c.close()
    return r


def publish_as(user, exchange, rk, props=b"\x00\x00", pw=None, vhost="/"):
    """confirm.select, publish, show what comes back (basic.ack / channel.close)."""
    c, ev = login(user, pw or user, vhost)
    if c is None:
        return ev
    channel(c)
    rpc(c, 1, "confirm.select", "confirm.select-ok")
    publish(c, 1, exchange, rk, b"m", props=props)
    out = c.outcome(timeout=1.0)
    c.close()
    return out


VH = "/"  # vhost of guest_do/depth/drain/pub_n/fresh_queue/qinfo; the policy section uses its own


def guest_do(*steps, vhost=None):
    c = connect(P, vhost=vhost or VH)
    channel(c)
    out = [ask(c, 1, m, **a)[0] for m, a in steps]
    c.close()
    return out


def depth(q, vhost=None):
    r = guest_do(("queue.declare", dict(queue=q, passive=True)), vhost=vhost)[0]
    return r.args.get("message_count") if r.name == "queue.declare-ok" else r


def drain(q):
    """basic.get no_ack until empty -> [(body, x-death reasons)]"""
    c = connect(P, vhost=VH); channel(c)
    out = []
    while True:
        c.method(1, "basic.get", queue=q, no_ack=True)
        e = c.expect_any = c.next_event()
        if e.name != "basic.get-ok":
            break
        h = c.next_event()
        body = b""
        while len(body) < h.args["body_size"]:
            body += c.next_event().raw
        deaths = [(plain(x).get("reason"), plain(x).get("queue")) for x in
                  h.args["props"].get("headers", {}).get("x-death", ("A", []))[1]]
        out.append((body.decode(), deaths) if deaths else body.decode())
    c.close()
    return out


def pub_n(q, bodies, exchange=""):
    c = connect(P, vhost=VH); channel(c)
    rpc(c, 1, "confirm.select", "confirm.select-ok")
    for b in bodies:
        publish(c, 1, exchange, q, b.encode() if isinstance(b, str) else b)
    acks = c.outcome(timeout=0.5)
    c.close()
    return acks


def qinfo(q, wait=5.5):
    """What the management API reports; its policy fields come from queue stats, which are
    refreshed every 5 s (collect_statistics_interval), hence the wait."""
    time.sleep(wait)
    s, t = api("GET", "queues/%s/%s" % (VH.replace("/", "%2F"), q))
    if s != 200:
        return "HTTP %d %s" % (s, t)
    j = json.loads(t)
    return {k: j.get(k) for k in ("policy", "operator_policy", "effective_policy_definition", "arguments")}


def fresh_queue(name, arguments=None):
    guest_do(("queue.delete", dict(queue=name)), ("queue.declare", dict(queue=name, arguments=arguments or {})))


I32 = lambda v: Raw("I", struct.pack(">i", v))

# ------------------------------------------------------------------ setup
guest_do(("queue.declare", dict(queue="shared")), ("exchange.declare", dict(exchange="shared.x", type="direct")),
         ("exchange.declare", dict(exchange="shared.t", type="topic")),
         ("queue.bind", dict(queue="shared", exchange="amq.direct", routing_key="k")),
         ("queue.delete", dict(queue="bob.q")), ("exchange.delete", dict(exchange="bob.x")),
         ("exchange.delete", dict(exchange="bob.x2")), ("queue.delete", dict(queue="xbobx")))
mkuser("bob", ("^bob\\.", "^bob\\.", "^bob\\."))

print("## 1a. permissions: bob has configure/write/read '^bob\\.' on '/'")
B = "bob"
report("exchange.declare logs (non-passive)", as_user(B, "exchange.declare", exchange="logs", type="direct"))
report("exchange.declare passive shared.x (exists)", as_user(B, "exchange.declare", exchange="shared.x", type="direct", passive=True))
report("exchange.declare passive nosuch.x (missing)", as_user(B, "exchange.declare", exchange="nosuch.x", type="direct", passive=True))
report("exchange.declare shared.x same args (exists, non-passive)", as_user(B, "exchange.declare", exchange="shared.x", type="direct"))
report("exchange.declare shared.x other type (exists)", as_user(B, "exchange.declare", exchange="shared.x", type="fanout"))
report("exchange.declare bob.x", as_user(B, "exchange.declare", exchange="bob.x", type="direct"))
report("exchange.delete shared.x", as_user(B, "exchange.delete", exchange="shared.x"))
report("exchange.delete nosuch.x (missing, outside pattern)", as_user(B, "exchange.delete", exchange="nosuch.x"))
report("exchange.delete bob.nosuch (missing, in pattern)", as_user(B, "exchange.delete", exchange="bob.nosuch"))
report("queue.declare jobs (non-passive)", as_user(B, "queue.declare", queue="jobs"))
report("queue.declare passive shared (exists)", as_user(B, "queue.declare", queue="shared", passive=True))
report("queue.declare passive nosuch (missing)", as_user(B, "queue.declare", queue="nosuch", passive=True))
report("queue.declare shared (exists, non-passive)", as_user(B, "queue.declare", queue="shared"))
report("queue.declare shared durable (exists, other flags)", as_user(B, "queue.declare", queue="shared", durable=True))
report("queue.declare '' (server-named)", as_user(B, "queue.declare", queue=""))
report("queue.declare '' exclusive (server-named)", as_user(B, "queue.declare", queue="", exclusive=True))
report("queue.declare jobs2 exclusive", as_user(B, "queue.declare", queue="jobs2", exclusive=True))
report("queue.declare amq.foo (reserved, outside pattern)", as_user(B, "queue.declare", queue="amq.foo"))
report("queue.declare bob.q", as_user(B, "queue.declare", queue="bob.q"))
report("queue.delete shared", as_user(B, "queue.delete", queue="shared"))
report("queue.delete nosuch (missing, outside pattern)", as_user(B, "queue.delete", queue="nosuch"))
report("queue.delete bob.nosuch (missing, in pattern)", as_user(B, "queue.delete", queue="bob.nosuch"))
report("queue.purge shared", as_user(B, "queue.purge", queue="shared"))
report("queue.purge nosuch (missing, outside pattern)", as_user(B, "queue.purge", queue="nosuch"))
report("queue.bind shared -> amq.direct (no write on q, no read on x)",
       as_user(B, "queue.bind", queue="shared", exchange="amq.direct", routing_key="k2"))
report("queue.bind shared -> bob.x (no write on q, read on x)",
       as_user(B, "queue.bind", queue="shared", exchange="bob.x", routing_key="k2"))
report("queue.bind bob.q -> amq.direct (write on q, no read on x)",
       as_user(B, "queue.bind", queue="bob.q", exchange="amq.direct", routing_key="k2"))
report("queue.bind bob.q -> bob.x", as_user(B, "queue.bind", queue="bob.q", exchange="bob.x", routing_key="k"))
report("queue.bind bob.q -> nosuch.x (missing, no read)", as_user(B, "queue.bind", queue="bob.q", exchange="nosuch.x", routing_key="k"))
report("queue.bind bob.q -> bob.nosuch (missing, read ok)", as_user(B, "queue.bind", queue="bob.q", exchange="bob.nosuch", routing_key="k"))
report("queue.bind nosuch -> amq.direct (missing q, no perms)", as_user(B, "queue.bind", queue="nosuch", exchange="amq.direct", routing_key="k"))
report("queue.unbind shared from amq.direct (existing binding)",
       as_user(B, "queue.unbind", queue="shared", exchange="amq.direct", routing_key="k"))
report("queue.unbind bob.q from amq.direct (no such binding)",
       as_user(B, "queue.unbind", queue="bob.q", exchange="amq.direct", routing_key="k"))
report("queue.unbind bob.q from bob.x", as_user(B, "queue.unbind", queue="bob.q", exchange="bob.x", routing_key="k"))
report("exchange.bind dest shared.x <- src bob.x (no write on dest)",
       as_user(B, "exchange.bind", destination="shared.x", source="bob.x", routing_key="k"))
report("exchange.bind dest bob.x2 <- src shared.x (no read on src)",
       as_user(B, "exchange.bind", destination="bob.x", source="shared.x", routing_key="k"))
report("exchange.bind dest shared.x <- src amq.direct (neither)",
       as_user(B, "exchange.bind", destination="shared.x", source="amq.direct", routing_key="k"))
report("exchange.unbind dest shared.x <- src amq.direct (neither)",
       as_user(B, "exchange.unbind", destination="shared.x", source="amq.direct", routing_key="k"))
report("basic.publish amq.direct (no write)", publish_as(B, "amq.direct", "k"))
report("basic.publish '' (default exchange) rk shared", publish_as(B, "", "shared"))
report("basic.publish '' (default exchange) rk bob.q", publish_as(B, "", "bob.q"))
report("basic.publish nosuch.x (missing, no write)", publish_as(B, "nosuch.x", "k"))
report("basic.publish bob.nosuch (missing, write ok)", publish_as(B, "bob.nosuch", "k"))
report("basic.publish bob.x", publish_as(B, "bob.x", "k"))
report("basic.consume shared", as_user(B, "basic.consume", queue="shared"))
report("basic.consume nosuch (missing)", as_user(B, "basic.consume", queue="nosuch"))
report("basic.get shared", as_user(B, "basic.get", queue="shared"))
report("basic.get bob.q", as_user(B, "basic.get", queue="bob.q"))
report("queue.declare bob.d x-dead-letter-exchange=amq.direct",
       as_user(B, "queue.declare", queue="bob.d", arguments={"x-dead-letter-exchange": "amq.direct"}))
report("queue.declare bob.d x-dead-letter-exchange='' (default)",
       as_user(B, "queue.declare", queue="bob.d", arguments={"x-dead-letter-exchange": ""}))
report("queue.declare bob.d x-dead-letter-exchange=bob.missing",
       as_user(B, "queue.declare", queue="bob.d", arguments={"x-dead-letter-exchange": "bob.missing"}))
report("exchange.declare bob.x3 alternate-exchange=amq.fanout",
       as_user(B, "exchange.declare", exchange="bob.x3", type="direct", arguments={"alternate-exchange": "amq.fanout"}))
report("exchange.declare bob.x3 alternate-exchange=bob.missing",
       as_user(B, "exchange.declare", exchange="bob.x3", type="direct", arguments={"alternate-exchange": "bob.missing"}))
report("user bob (no tags) could use AMQP above", "yes")
guest_do(("queue.delete", dict(queue="bob.d")), ("exchange.delete", dict(exchange="bob.x3")))

print("## 1b. pattern semantics")
mkuser("carl", ("bob", ".*", ".*"))
report("configure 'bob' (no anchors): declare xbobx", as_user("carl", "queue.declare", queue="xbobx"))
mkuser("dora", ("", ".*", ".*"))
report("configure '': declare q", as_user("dora", "queue.declare", queue="q"))
report("configure '': declare '' (server-named)", as_user("dora", "queue.declare", queue=""))
report("write '.*' read '.*', configure '': passive declare shared", as_user("dora", "queue.declare", queue="shared", passive=True))
mkuser("hank", ("^$", ".*", ".*"))
report("configure '^$': declare q", as_user("hank", "queue.declare", queue="q"))
report("configure '^$': declare '' (server-named)", as_user("hank", "queue.declare", queue=""))
mkuser("ivan", ("^amq\\.gen", ".*", ".*"))
report("configure '^amq\\.gen': declare '' (server-named)", as_user("ivan", "queue.declare", queue="", exclusive=True))
mkuser("wendy", (".*", "", ".*"))
report("write '': publish to '' (amq.default)", publish_as("wendy", "", "shared"))
mkuser("wally", (".*", "^amq\\.default$", ".*"))
report("write '^amq\\.default$': publish to ''", publish_as("wally", "", "shared"))
guest_do(("queue.delete", dict(queue="xbobx")))

print("## 1c. connection.open / login")
mkuser("eve", None)
api("DELETE", "permissions/%2F/eve")
report("eve (no permissions on /) connection.open /", login("eve", "eve")[1])
report("connection.open nosuchvhost", login("guest", "guest", "nosuchvhost")[1])
report("wrong password (authentication_failure_close)", login("bob", "wrong")[1])
report("unknown user", login("nobody-here", "x")[1])
c, ev = login("bob", "bob")
report("bob (tags none) connection.open /", ev or "connection.open-ok")
c and c.close()

print("## 1d. topic permissions: frank .* .* .*, topic perms on amq.topic write '^allowed\\.' read '^r\\.'")
mkuser("frank", (".*", ".*", ".*"))
api("PUT", "topic-permissions/%2F/frank", {"exchange": "amq.topic", "write": "^allowed\\.", "read": "^r\\."})
guest_do(("queue.declare", dict(queue="frank.q")), ("exchange.declare", dict(exchange="frank.t", type="topic")))
report("publish amq.topic allowed.x", publish_as("frank", "amq.topic", "allowed.x"))
report("publish amq.topic denied.x", publish_as("frank", "amq.topic", "denied.x"))
report("publish amq.topic xallowed.x (anchored?)", publish_as("frank", "amq.topic", "xallowed.x"))
report("publish amq.direct denied.x (direct exchange)", publish_as("frank", "amq.direct", "denied.x"))
report("publish frank.t denied.x (topic exchange w/o topic perms)", publish_as("frank", "frank.t", "denied.x"))
report("publish amq.topic denied.x as guest (no topic perms)", publish_as("guest", "amq.topic", "denied.x"))
report("queue.bind frank.q amq.topic r.#", as_user("frank", "queue.bind", queue="frank.q", exchange="amq.topic", routing_key="r.#"))
report("queue.bind frank.q amq.topic denied", as_user("frank", "queue.bind", queue="frank.q", exchange="amq.topic", routing_key="denied"))
report("queue.unbind frank.q amq.topic denied", as_user("frank", "queue.unbind", queue="frank.q", exchange="amq.topic", routing_key="denied"))
report("queue.bind frank.q amq.direct denied (direct exchange)",
       as_user("frank", "queue.bind", queue="frank.q", exchange="amq.direct", routing_key="denied"))
report("exchange.bind frank.t <- amq.topic denied",
       as_user("frank", "exchange.bind", destination="frank.t", source="amq.topic", routing_key="denied"))
report("basic.get frank.q (read on queue unaffected)", as_user("frank", "basic.get", queue="frank.q"))
guest_do(("queue.delete", dict(queue="frank.q")), ("exchange.delete", dict(exchange="frank.t")))

print("## 1g. user_id")
report("frank publishes user_id=someone-else", publish_as("frank", "", "shared", props=struct.pack(">H", 1 << 4) + shortstr("someone-else")))
report("frank publishes user_id=frank", publish_as("frank", "", "shared", props=struct.pack(">H", 1 << 4) + shortstr("frank")))
mkuser("imp", (".*", ".*", ".*"), pw="imp-secret", tags="impersonator")
report("imp (impersonator) publishes user_id=someone-else",
       publish_as("imp", "", "shared", pw="imp-secret", props=struct.pack(">H", 1 << 4) + shortstr("someone-else")))
guest_do(("queue.purge", dict(queue="shared")))

print("## 1f. limits")
for v in ("small", "zero", "doomed", "quota"):
    api("DELETE", "vhosts/%s" % v)
api("PUT", "vhosts/small", {})
api("PUT", "permissions/small/guest", {"configure": ".*", "write": ".*", "read": ".*"})
api("PUT", "vhost-limits/small/max-connections", {"value": 1})
first, ev = login("guest", "guest", "small")
report("vhost max-connections 1: 1st connection", ev or "connection.open-ok")
report("vhost max-connections 1: 2nd connection.open", login("guest", "guest", "small")[1])
first.close()
time.sleep(0.5)
api("PUT", "vhosts/quota", {})
api("PUT", "permissions/quota/guest", {"configure": ".*", "write": ".*", "read": ".*"})
api("PUT", "vhost-limits/quota/max-queues", {"value": 1})
c = connect(P, vhost="quota"); channel(c)
report("vhost max-queues 1: 1st queue.declare one", ask(c, 1, "queue.declare", queue="one"))
report("vhost max-queues 1: 2nd queue.declare two", ask(c, 1, "queue.declare", queue="two"))
report("vhost max-queues 1: redeclare one", ask(c, 1, "queue.declare", queue="one"))
report("vhost max-queues 1: declare '' exclusive", ask(c, 1, "queue.declare", queue="", exclusive=True))
report("vhost max-queues 1: passive two (missing)", ask(c, 1, "queue.declare", queue="two", passive=True))
c.close()
api("PUT", "vhosts/zero", {})
api("PUT", "permissions/zero/guest", {"configure": ".*", "write": ".*", "read": ".*"})
api("PUT", "vhost-limits/zero/max-connections", {"value": 0})
report("vhost max-connections 0: connection.open", login("guest", "guest", "zero")[1])
s, t = api("PUT", "vhost-limits/zero/max-connections", {"value": -1})
report("vhost max-connections -1 (HTTP %d): connection.open" % s, login("guest", "guest", "zero")[1] or "connection.open-ok")
mkuser("gina", (".*", ".*", ".*"))
api("PUT", "user-limits/gina/max-connections", {"value": 1})
api("PUT", "user-limits/gina/max-channels", {"value": 1})
g1, ev = login("gina", "gina")
report("user max-connections 1: 1st connection", ev or "connection.open-ok")
report("user max-connections 1: 2nd connection.open", login("gina", "gina")[1])
g1.method(1, "channel.open")
report("user max-channels 1: 1st channel.open", [g1.next_event()])
g1.method(2, "channel.open")
report("user max-channels 1: 2nd channel.open (ch 2)", g1.outcome(timeout=2))
g1.close()
time.sleep(0.5)
g1, ev = login("gina", "gina")
g1.method(1, "channel.open"); g1.next_event()
g1.method(1, "channel.close", reply_code=200, reply_text="bye"); g1.next_event()
g1.method(2, "channel.open")
report("user max-channels 1: channel.open after closing the 1st", [g1.next_event()])
g1.close()
api("DELETE", "user-limits/gina/max-channels")
api("DELETE", "user-limits/gina/max-connections")
api("PUT", "user-limits/gina/max-connections", {"value": 0})
report("user max-connections 0: connection.open", login("gina", "gina")[1])
api("DELETE", "user-limits/gina/max-connections")

print("## 1e. deleting a vhost with clients connected")
for label, setup in [(l, st) for l, st in (("idle connection, no channel", None),
                                           ("channel open, queue declared", "q"),
                                           ("consumer on a queue", "consume")) for _ in range(3)]:
    api("PUT", "vhosts/doomed", {})
    api("PUT", "permissions/doomed/guest", {"configure": ".*", "write": ".*", "read": ".*"})
    d = connect(P, vhost="doomed")
    if setup:
        channel(d)
        ask(d, 1, "queue.declare", queue="q", durable=True)
        if setup == "consume":
            ask(d, 1, "basic.consume", queue="q", consumer_tag="ct")
    s, _ = api("DELETE", "vhosts/doomed")
    report("DELETE /api/vhosts/doomed (HTTP %d), %s" % (s, label), d.outcome(timeout=5))
    d.close()
    time.sleep(0.5)

print("## 1h. policies (in vhost probe-pol, so that policies elsewhere cannot interfere)")
api("DELETE", "vhosts/probe-pol")
api("PUT", "vhosts/probe-pol", {})
api("PUT", "permissions/probe-pol/guest", {"configure": ".*", "write": ".*", "read": ".*"})
VH = "probe-pol"
guest_do(("exchange.delete", dict(exchange="dlx.pol")), ("queue.delete", dict(queue="dead.pol")),
         ("exchange.declare", dict(exchange="dlx.pol", type="fanout")), ("queue.declare", dict(queue="dead.pol")),
         ("queue.bind", dict(queue="dead.pol", exchange="dlx.pol", routing_key="")))
guest_do(*[("queue.delete", dict(queue=q)) for q in ("pol.a", "pol.b", "pol.dead", "p2.a", "p2.b", "pol.e", "pol.p")],
         ("exchange.delete", dict(exchange="pol.dlx")))
for name in ("pol", "cap2", "cap", "pA", "pB", "pC", "tie-a", "tie-z", "ae-pol", "p2cap", "cap-all"):
    api("DELETE", "policies/probe-pol/%s" % name)
for name in ("op", "op-cap"):
    api("DELETE", "operator-policies/probe-pol/%s" % name)
fresh_queue("pol.a")
pub_n("pol.a", ["1", "2", "3", "4", "5"])
s, t = api("PUT", "policies/probe-pol/pol", {"pattern": "^pol\\.", "apply-to": "queues", "priority": 0,
                                        "definition": {"message-ttl": 1000, "max-length": 2,
                                                       "dead-letter-exchange": "dlx.pol"}})
report("PUT policy pol {message-ttl 1000, max-length 2, dlx} on live pol.a (1..5)", "HTTP %d" % s)
time.sleep(0.3)
report("  0.3 s later: pol.a depth / dead.pol depth", "%s / %s" % (depth("pol.a"), depth("dead.pol")))
time.sleep(1.5)
report("  1.8 s later: pol.a depth (pre-policy msgs, ttl 1000)", "%s" % depth("pol.a"))
report("  /api/queues/probe-pol/pol.a", json.dumps(qinfo("pol.a")))
report("  dead.pol contents (body, x-death)", repr(drain("dead.pol")))
report("  pol.a contents", repr(drain("pol.a")))
pub_n("pol.a", ["6", "7", "8", "9"])
time.sleep(0.3)
report("  publish 6..9 under the policy: pol.a depth 0.3 s later", "%s" % depth("pol.a"))
time.sleep(1.5)
report("  1.8 s later: pol.a depth", "%s" % depth("pol.a"))
report("  dead.pol contents", repr(drain("dead.pol")))
api("DELETE", "policies/probe-pol/pol")
time.sleep(0.3)
pub_n("pol.a", ["a", "b", "c", "d", "e"])
time.sleep(1.5)
report("policy deleted, 5 published, 1.5 s later: pol.a depth", "%s" % depth("pol.a"))
report("  /api/queues/probe-pol/pol.a", json.dumps(qinfo("pol.a")))


def effective(label, qargs, pol=None, op=None, n=12, extra=""):
    """Fresh queue pol.e with arguments, policy pol (definition) and operator policy op; publish n."""
    api("DELETE", "policies/probe-pol/cap"); api("DELETE", "operator-policies/probe-pol/op")
    fresh_queue("pol.e", qargs)
    if pol:
        api("PUT", "policies/probe-pol/cap", {"pattern": "^pol\\.e$", "apply-to": "queues", "definition": pol})
    if op:
        s, t = api("PUT", "operator-policies/probe-pol/op", {"pattern": "^pol\\.e$", "apply-to": "queues", "definition": op})
        if s >= 300:
            report(label, "operator policy refused: HTTP %d %s" % (s, t))
            return
    time.sleep(0.4)
    pub_n("pol.e", [str(i) for i in range(1, n + 1)])
    time.sleep(0.3)
    report(label, "depth %s, kept %s ; %s" % (depth("pol.e"), drain("pol.e"), json.dumps(qinfo("pol.e"))))


effective("x-max-length 10 + policy max-length 2", {"x-max-length": I32(10)}, {"max-length": 2})
effective("x-max-length 2 + policy max-length 10", {"x-max-length": I32(2)}, {"max-length": 10})
effective("policy 5 + operator 3", {}, {"max-length": 5}, {"max-length": 3})
effective("policy 3 + operator 5", {}, {"max-length": 3}, {"max-length": 5})
effective("x-max-length 10 + policy 5 + operator 3", {"x-max-length": I32(10)}, {"max-length": 5}, {"max-length": 3})
effective("x-max-length 2 + policy 5 + operator 3", {"x-max-length": I32(2)}, {"max-length": 5}, {"max-length": 3})
effective("operator 3 only", {}, None, {"max-length": 3})
effective("x-max-length 1 x-overflow reject-publish + policy overflow drop-head",
          {"x-max-length": I32(1), "x-overflow": "reject-publish"}, {"overflow": "drop-head"}, n=3)
effective("x-max-length 1 + policy overflow reject-publish (no arg overflow)",
          {"x-max-length": I32(1)}, {"overflow": "reject-publish"}, n=3)
effective("x-max-length-bytes 3 + policy max-length-bytes 1 (bodies 1 byte)",
          {"x-max-length-bytes": I32(3)}, {"max-length-bytes": 1}, n=5)
# dead-letter-exchange: argument vs policy
guest_do(("exchange.delete", dict(exchange="dlx2.pol")), ("queue.delete", dict(queue="dead2.pol")),
         ("exchange.declare", dict(exchange="dlx2.pol", type="fanout")), ("queue.declare", dict(queue="dead2.pol")),
         ("queue.bind", dict(queue="dead2.pol", exchange="dlx2.pol", routing_key="")))
drain("dead.pol")
effective("x-max-length 1 + x-dead-letter-exchange dlx.pol + policy dead-letter-exchange dlx2.pol",
          {"x-max-length": I32(1), "x-dead-letter-exchange": "dlx.pol"}, {"dead-letter-exchange": "dlx2.pol"}, n=3)
report("  dead.pol (argument DLX) / dead2.pol (policy DLX) depths", "%s / %s" % (depth("dead.pol"), depth("dead2.pol")))
drain("dead.pol"); drain("dead2.pol")
effective("x-message-ttl 60000 + policy message-ttl 1 (depth after 0.7 s)", {"x-message-ttl": I32(60000)}, {"message-ttl": 1}, n=3)
effective("x-message-ttl 1 + policy message-ttl 60000", {"x-message-ttl": I32(1)}, {"message-ttl": 60000}, n=3)
effective("policy message-ttl 60000 + operator message-ttl 1", {}, {"message-ttl": 60000}, {"message-ttl": 1}, n=3)
api("DELETE", "policies/probe-pol/cap"); api("DELETE", "operator-policies/probe-pol/op")

# which keys an operator policy accepts
for d in ({"max-length": 3}, {"max-length-bytes": 3}, {"message-ttl": 3}, {"expires": 60000}, {"delivery-limit": 3},
          {"overflow": "drop-head"}, {"dead-letter-exchange": "x"}, {"max-in-memory-length": 3},
          {"max-in-memory-bytes": 3}, {"queue-mode": "lazy"}, {"alternate-exchange": "x"}, {"ha-mode": "all"},
          {"foo": 1}):
    s, t = api("PUT", "operator-policies/probe-pol/opk", {"pattern": "^none$", "apply-to": "queues", "definition": d})
    report("operator policy %s" % json.dumps(d), "HTTP %d %s" % (s, t.strip()))
    api("DELETE", "operator-policies/probe-pol/opk")
s, t = api("PUT", "operator-policies/probe-pol/opk", {"pattern": "^none$", "apply-to": "exchanges", "definition": {"max-length": 3}})
report("operator policy apply-to exchanges", "HTTP %d %s" % (s, t.strip()))
api("DELETE", "operator-policies/probe-pol/opk")

# priorities and ties (effective max-length measured by publishing 6 messages to an empty queue)
def applied(label):
    fresh_queue("pol.p")
    time.sleep(0.3)
    pub_n("pol.p", [str(i) for i in range(1, 7)])
    time.sleep(0.3)
    report(label, "depth %s ; %s" % (depth("pol.p"), json.dumps(qinfo("pol.p"))))


api("PUT", "policies/probe-pol/pA", {"pattern": "^pol\\.p$", "apply-to": "queues", "priority": 2, "definition": {"max-length": 2}})
api("PUT", "policies/probe-pol/pB", {"pattern": "^pol\\.", "apply-to": "queues", "priority": 1,
                               "definition": {"max-length": 4, "message-ttl": 600000}})
applied("pA prio 2 {max-length 2} vs pB prio 1 {max-length 4, message-ttl}")
api("PUT", "policies/probe-pol/pB", {"pattern": "^pol\\.", "apply-to": "queues", "priority": 3,
                               "definition": {"max-length": 4, "message-ttl": 600000}})
applied("pB raised to prio 3")
api("DELETE", "policies/probe-pol/pA"); api("DELETE", "policies/probe-pol/pB")
for a, b in (("tie-a", "tie-z"), ("tie-z", "tie-a"), ("pA", "pB"), ("pB", "pA"), ("pC", "pA")):
    for name in ("tie-a", "tie-z", "pA", "pB", "pC"):
        api("DELETE", "policies/probe-pol/%s" % name)
    api("PUT", "policies/probe-pol/%s" % a, {"pattern": "^pol\\.p$", "apply-to": "queues", "priority": 0, "definition": {"max-length": 2}})
    api("PUT", "policies/probe-pol/%s" % b, {"pattern": "^pol\\.p$", "apply-to": "queues", "priority": 0, "definition": {"max-length": 4}})
    applied("tie (priority 0): %s {max-length 2} created first, then %s {max-length 4}" % (a, b))
for name in ("tie-a", "tie-z", "pA", "pB", "pC"):
    api("DELETE", "policies/probe-pol/%s" % name)
api("PUT", "policies/probe-pol/pA", {"pattern": "^pol\\.p$", "apply-to": "queues", "priority": 0, "definition": {"max-length": 2}})
api("PUT", "operator-policies/probe-pol/op", {"pattern": "^pol\\.p$", "apply-to": "queues", "priority": 0,
                                        "definition": {"max-length": 3, "message-ttl": 5000}})
applied("policy {max-length 2} + operator {max-length 3, message-ttl 5000}")
api("DELETE", "policies/probe-pol/pA"); api("DELETE", "operator-policies/probe-pol/op")

# validation of policy definitions
for d in ({"max-priority": 5}, {"queue-mode": "lazy"}, {"foo": 1}, {"message-ttl": -1}, {"max-length": "abc"},
          {"max-length": -1}, {"overflow": "bogus"}, {"delivery-limit": 5}, {"alternate-exchange": 5},
          {"dead-letter-routing-key": "rk"}, {"expires": 0}, {}, {"x-message-ttl": 1000}):
    s, t = api("PUT", "policies/probe-pol/val", {"pattern": "^none$", "apply-to": "queues", "definition": d})
    report("policy %s" % json.dumps(d), "HTTP %d %s" % (s, t.strip()))
    api("DELETE", "policies/probe-pol/val")
for body in ({"pattern": "(", "apply-to": "queues", "definition": {"max-length": 1}},
             {"pattern": "^x$", "apply-to": "bogus", "definition": {"max-length": 1}},
             {"pattern": "^x$", "definition": {"max-length": 1}}):
    s, t = api("PUT", "policies/probe-pol/val", body)
    report("policy body %s" % json.dumps(body), "HTTP %d %s" % (s, t.strip()))
    api("DELETE", "policies/probe-pol/val")

# alternate-exchange by policy on an existing exchange
guest_do(("exchange.delete", dict(exchange="pol.x")), ("exchange.delete", dict(exchange="pol.x2")),
         ("exchange.delete", dict(exchange="ae.pol")), ("exchange.delete", dict(exchange="ae.arg")),
         ("exchange.declare", dict(exchange="pol.x", type="direct")),
         ("exchange.declare", dict(exchange="pol.x2", type="direct", arguments={"alternate-exchange": "ae.arg"})),
         ("exchange.declare", dict(exchange="ae.pol", type="fanout")),
         ("exchange.declare", dict(exchange="ae.arg", type="fanout")),
         ("queue.declare", dict(queue="aeq.pol")), ("queue.declare", dict(queue="aeq.arg")),
         ("queue.bind", dict(queue="aeq.pol", exchange="ae.pol")), ("queue.bind", dict(queue="aeq.arg", exchange="ae.arg")))
drain("aeq.pol"); drain("aeq.arg")
s, t = api("PUT", "policies/probe-pol/ae-pol", {"pattern": "^pol\\.x", "apply-to": "exchanges",
                                          "definition": {"alternate-exchange": "ae.pol"}})
time.sleep(0.3)
pub_n("nomatch", ["u1"], exchange="pol.x")
pub_n("nomatch", ["u2"], exchange="pol.x2")
time.sleep(0.3)
report("policy alternate-exchange ae.pol on existing pol.x: unroutable -> aeq.pol", "aeq.pol %s" % drain("aeq.pol"))
report("pol.x2 with argument alternate-exchange ae.arg + policy ae.pol", "aeq.arg %s, aeq.pol %s" % (drain("aeq.arg"), drain("aeq.pol")))
s, t = api("GET", "exchanges/probe-pol/pol.x")
report("  /api/exchanges/probe-pol/pol.x policy field", json.dumps({k: json.loads(t).get(k) for k in ("policy", "arguments")}))
s, t = api("PUT", "policies/probe-pol/ae-pol", {"pattern": "^pol\\.", "apply-to": "queues", "definition": {"alternate-exchange": "ae.pol"}})
report("policy alternate-exchange with apply-to queues", "HTTP %d %s" % (s, t.strip()))
api("DELETE", "policies/probe-pol/ae-pol")
guest_do(*[("exchange.delete", dict(exchange=x)) for x in ("pol.x", "pol.x2", "ae.pol", "ae.arg", "dlx.pol", "dlx2.pol")],
         *[("queue.delete", dict(queue=q)) for q in ("aeq.pol", "aeq.arg", "pol.a", "pol.e", "pol.p", "dead.pol", "dead2.pol")])
api("DELETE", "vhosts/probe-pol")
