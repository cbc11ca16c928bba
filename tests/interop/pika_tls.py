"""pika over TLS against Warren's amqps listener (run by tests/interop/run.sh).

Usage: pika_tls.py PORT CERT_DIR

CERT_DIR holds ca.pem and a client certificate whose CN is guest (client.pem,
client.key). Checks, each with a real pika BlockingConnection over Python's ssl module:
PLAIN login over TLS with the CA verified (declare, publish, get); EXTERNAL login with
the client certificate (the broker logs in the user its CN names); and that a client
trusting another CA refuses the broker's certificate.
"""

import os
import ssl
import sys

import pika
from pika.credentials import ExternalCredentials

port = int(sys.argv[1])
certs = sys.argv[2]


def context(client_cert=False, ca="ca.pem"):
    ctx = ssl.create_default_context(cafile=os.path.join(certs, ca))
    if client_cert:
        ctx.load_cert_chain(os.path.join(certs, "client.pem"), os.path.join(certs, "client.key"))
    return ctx


def params(ctx, credentials):
    return pika.ConnectionParameters(
        host="localhost",
        port=port,
        credentials=credentials,
        ssl_options=pika.SSLOptions(ctx, "localhost"),
        connection_attempts=1,
        socket_timeout=5,
    )


def round_trip(conn, queue):
    ch = conn.channel()
    ch.queue_declare(queue, auto_delete=True)
    ch.basic_publish("", queue, b"over tls")
    for _ in range(50):
        method, _props, body = ch.basic_get(queue, auto_ack=True)
        if method is not None:
            assert body == b"over tls", body
            return
        conn.sleep(0.05)
    raise AssertionError("the message did not come back over TLS")


plain = pika.BlockingConnection(params(context(), pika.PlainCredentials("guest", "guest")))
round_trip(plain, "pika.tls.plain")
plain.close()
print("pika: PLAIN over TLS ok")

external = pika.BlockingConnection(params(context(client_cert=True), ExternalCredentials()))
round_trip(external, "pika.tls.external")
external.close()
print("pika: EXTERNAL (client certificate CN=guest) over TLS ok")

try:
    pika.BlockingConnection(params(context(ca="other-ca.pem"), pika.PlainCredentials("guest", "guest")))
except (pika.exceptions.AMQPConnectionError, ssl.SSLError) as e:
    print("pika: a client trusting another CA refuses the broker ok (%s)" % type(e).__name__)
else:
    raise AssertionError("a client trusting another CA connected")
