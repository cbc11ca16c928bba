#!/usr/bin/env python3
"""Users, permissions, topic permissions, limits, vhost deletion and policies, as a client
sees them. Sets up users, vhosts, limits and policies through RabbitMQ's management API
(argv[2], default 15673), then checks over AMQP (argv[1], default 5673) with pika.

    python3 probe_access.py 5673 15673
"""
import json, sys, time, urllib.request, base64
import pika

AMQP = int(sys.argv[1]) if len(sys.argv) > 1 else 5673
MGMT = int(sys.argv[2]) if len(sys.argv) > 2 else 15673
AUTH = "Basic " + base64.b64encode(b"guest:guest").decode()

def api(method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{MGMT}/api/{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"authorization": AUTH, "content-type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()

def conn(user, pw, vhost="/"):
    return pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", AMQP, vhost,
                                   pika.PlainCredentials(user, pw), heartbeat=0))

def attempt(label, fn):
    try:
        fn()
        print(f"{label}: ok")
    except (pika.exceptions.ChannelClosedByBroker, pika.exceptions.ConnectionClosedByBroker) as e:
        kind = "ch.close" if isinstance(e, pika.exceptions.ChannelClosedByBroker) else "conn.close"
        print(f"{label}: {kind} {e.reply_code} {e.reply_text!r}")
    except Exception as e:
        print(f"{label}: {type(e).__name__} {e!r}")

def user(name, perms, vhost="/"):
    api("PUT", f"users/{name}", {"password": name, "tags": ""})
    if perms is not None:
        api("PUT", f"permissions/{vhost.replace('/', '%2F')}/{name}",
            dict(zip(["configure", "write", "read"], perms)))

def channel_op(u, op, vhost="/"):
    def run():
        c = conn(u, u, vhost)
        try:
            op(c.channel())
        finally:
            if c.is_open:
                c.close()
    return run

def main():
    g = conn("guest", "guest"); gc = g.channel()
    gc.queue_declare("shared"); gc.exchange_declare("shared.x", "direct")
    g.close()
    user("bob", ("^bob\\.", "^bob\\.", "^bob\\."))
    print("## 7.1 permissions, bob: configure/write/read ^bob\\.")
    attempt("queue.declare jobs", channel_op("bob", lambda ch: ch.queue_declare("jobs")))
    attempt("queue.declare passive shared", channel_op("bob", lambda ch: ch.queue_declare("shared", passive=True)))
    attempt("queue.declare '' (server-named)", channel_op("bob", lambda ch: ch.queue_declare("")))
    attempt("queue.declare exclusive jobs2", channel_op("bob", lambda ch: ch.queue_declare("jobs2", exclusive=True)))
    attempt("exchange.declare logs", channel_op("bob", lambda ch: ch.exchange_declare("logs", "fanout")))
    attempt("exchange.declare passive shared.x", channel_op("bob", lambda ch: ch.exchange_declare("shared.x", "direct", passive=True)))
    attempt("exchange.delete shared.x", channel_op("bob", lambda ch: ch.exchange_delete("shared.x")))
    attempt("queue.delete shared", channel_op("bob", lambda ch: ch.queue_delete("shared")))
    attempt("queue.purge shared", channel_op("bob", lambda ch: ch.queue_purge("shared")))
    attempt("basic.get shared", channel_op("bob", lambda ch: ch.basic_get("shared")))
    attempt("basic.consume shared", channel_op("bob", lambda ch: ch.basic_consume("shared", lambda *a: None)))
    def bind_shared(ch):
        ch.queue_declare("bob.q"); ch.queue_bind("shared", "amq.direct", "k")
    attempt("queue.bind shared -> amq.direct", channel_op("bob", bind_shared))
    def bind_mine(ch):
        ch.queue_declare("bob.q"); ch.queue_bind("bob.q", "amq.direct", "k")
    attempt("queue.bind bob.q -> amq.direct", channel_op("bob", bind_mine))
    def publish(x):
        def run(ch):
            ch.confirm_delivery(); ch.basic_publish(x, "k", b"m")
        return run
    attempt("publish amq.direct", channel_op("bob", publish("amq.direct")))
    attempt("publish default exchange", channel_op("bob", publish("")))
    attempt("queue.declare bob.d x-dead-letter-exchange=amq.direct",
            channel_op("bob", lambda ch: ch.queue_declare("bob.d", arguments={"x-dead-letter-exchange": "amq.direct"})))
    attempt("exchange.declare bob.x alternate-exchange=amq.fanout",
            channel_op("bob", lambda ch: ch.exchange_declare("bob.x", "direct", arguments={"alternate-exchange": "amq.fanout"})))
    user("carl", ("bob", ".*", ".*"))
    attempt("configure 'bob' (unanchored) declares xbobx", channel_op("carl", lambda ch: ch.queue_declare("xbobx")))
    user("dora", ("", ".*", ".*"))
    attempt("configure '' declares q", channel_op("dora", lambda ch: ch.queue_declare("q")))
    user("eve", None)
    attempt("eve (no permissions) opens /", lambda: conn("eve", "eve").close())
    attempt("unknown vhost", lambda: conn("guest", "guest", "nosuch").close())

    print("## 7.2 topic permissions, frank on amq.topic write ^allowed\\. read ^r\\.")
    user("frank", (".*", ".*", ".*"))
    api("PUT", "topic-permissions/%2F/frank", {"exchange": "amq.topic", "write": "^allowed\\.", "read": "^r\\."})
    def tpub(x, rk):
        def run(ch):
            ch.confirm_delivery(); ch.basic_publish(x, rk, b"m")
        return run
    attempt("publish amq.topic allowed.x", channel_op("frank", tpub("amq.topic", "allowed.x")))
    attempt("publish amq.topic denied.x", channel_op("frank", tpub("amq.topic", "denied.x")))
    attempt("publish amq.direct denied.x", channel_op("frank", tpub("amq.direct", "denied.x")))
    def tbind(rk):
        def run(ch):
            ch.queue_declare("frank.q"); ch.queue_bind("frank.q", "amq.topic", rk)
        return run
    attempt("bind amq.topic r.#", channel_op("frank", tbind("r.#")))
    attempt("bind amq.topic denied", channel_op("frank", tbind("denied")))
    def imp(ch):
        ch.confirm_delivery(); ch.queue_declare("frank.q")
        ch.basic_publish("", "frank.q", b"m", pika.BasicProperties(user_id="someone-else"))
    attempt("user_id someone-else (no impersonator tag)", channel_op("frank", imp))

    print("## 7.3 limits")
    api("PUT", "vhosts/small", {})
    api("PUT", "permissions/small/guest", {"configure": ".*", "write": ".*", "read": ".*"})
    api("PUT", "vhost-limits/small/max-connections", {"value": 1})
    api("PUT", "vhost-limits/small/max-queues", {"value": 1})
    first = conn("guest", "guest", "small")
    attempt("second connection to small (max-connections 1)", lambda: conn("guest", "guest", "small").close())
    ch = first.channel(); ch.queue_declare("one")
    attempt("second queue in small (max-queues 1)", lambda: first.channel().queue_declare("two"))
    first.close()
    user("gina", (".*", ".*", ".*"))
    api("PUT", "user-limits/gina/max-connections", {"value": 1})
    api("PUT", "user-limits/gina/max-channels", {"value": 1})
    c1 = conn("gina", "gina")
    attempt("gina second connection (max-connections 1)", lambda: conn("gina", "gina").close())
    c1.channel()
    attempt("gina second channel (max-channels 1)", lambda: c1.channel())
    if c1.is_open: c1.close()
    api("PUT", "vhosts/zero", {})
    api("PUT", "permissions/zero/guest", {"configure": ".*", "write": ".*", "read": ".*"})
    api("PUT", "vhost-limits/zero/max-connections", {"value": 0})
    attempt("max-connections 0", lambda: conn("guest", "guest", "zero").close())

    print("## 7.4 vhost deletion with a client connected")
    api("PUT", "vhosts/doomed", {})
    api("PUT", "permissions/doomed/guest", {"configure": ".*", "write": ".*", "read": ".*"})
    d = conn("guest", "guest", "doomed"); d.channel().queue_declare("q", durable=True)
    api("DELETE", "vhosts/doomed")
    try:
        for _ in range(50):
            d.process_data_events(0.1)
        print("vhost deletion: still open")
    except pika.exceptions.ConnectionClosedByBroker as e:
        print(f"vhost deletion: conn.close {e.reply_code} {e.reply_text!r}")

    print("## 7.5 policies")
    g = conn("guest", "guest"); ch = g.channel(); ch.confirm_delivery()
    ch.exchange_declare("pol.dlx", "fanout"); ch.queue_declare("pol.dead"); ch.queue_bind("pol.dead", "pol.dlx")
    ch.queue_declare("pol.a")
    for i in range(5):
        ch.basic_publish("", "pol.a", str(i + 1).encode())
    api("PUT", "policies/%2F/cap", {"pattern": "^pol\\.a$", "apply-to": "queues",
                                    "definition": {"max-length": 2, "dead-letter-exchange": "pol.dlx"}})
    time.sleep(1)
    print("live max-length 2: pol.a depth", ch.queue_declare("pol.a", passive=True).method.message_count,
          "pol.dead depth", ch.queue_declare("pol.dead", passive=True).method.message_count)
    bodies = []
    while True:
        m = ch.basic_get("pol.a", auto_ack=True)
        if m[0] is None: break
        bodies.append(m[2].decode())
    print("pol.a keeps", bodies)
    api("DELETE", "policies/%2F/cap"); time.sleep(0.5)
    for i in range(5):
        ch.basic_publish("", "pol.a", b"x")
    print("after deleting the policy: pol.a depth", ch.queue_declare("pol.a", passive=True).method.message_count)
    ch.queue_declare("pol.b", arguments={"x-max-length": 10})
    api("PUT", "policies/%2F/cap2", {"pattern": "^pol\\.b$", "apply-to": "queues", "definition": {"max-length": 2}})
    api("PUT", "operator-policies/%2F/op", {"pattern": "^pol\\.b$", "apply-to": "queues", "definition": {"max-length": 1}})
    time.sleep(0.5)
    for i in range(5):
        ch.basic_publish("", "pol.b", b"x")
    print("argument 10, policy 2, operator 1: depth", ch.queue_declare("pol.b", passive=True).method.message_count)
    api("DELETE", "operator-policies/%2F/op"); time.sleep(0.5)
    for i in range(5):
        ch.basic_publish("", "pol.b", b"x")
    print("argument 10, policy 2: depth", ch.queue_declare("pol.b", passive=True).method.message_count)
    for name, definition in [("prio", {"max-priority": 5}), ("foo", {"foo": 1}), ("lazy", {"queue-mode": "lazy"}),
                             ("neg", {"message-ttl": -1})]:
        status, text = api("PUT", f"policies/%2F/{name}", {"pattern": "^none$", "apply-to": "queues", "definition": definition})
        print(f"policy {json.dumps(definition)}: HTTP {status} {text.strip()[:160]}")
        api("DELETE", f"policies/%2F/{name}")
    g.close()

main()
