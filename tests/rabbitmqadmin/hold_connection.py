#!/usr/bin/env python3
"""Opens one AMQP 0-9-1 connection (with one channel) with pika and holds it open, so that
the management API has a connection and a channel to list.

  hold_connection.py HOST PORT VHOST USER PASSWORD PORTFILE [SECONDS]

Writes the connection's local (client) port to PORTFILE once it is open, then serves
heartbeats until SECONDS (default 600) have passed or it is terminated.
"""
import signal
import sys
import time

import pika


def main():
    host, port, vhost, user, password, portfile = sys.argv[1:7]
    seconds = float(sys.argv[7]) if len(sys.argv) > 7 else 600.0
    params = pika.ConnectionParameters(
        host=host, port=int(port), virtual_host=vhost,
        credentials=pika.PlainCredentials(user, password),
        client_properties={"connection_name": "rabbitmqadmin-compat"})
    conn = pika.BlockingConnection(params)
    conn.channel()
    local_port = conn._impl._transport._sock.getsockname()[1]
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % local_port)
    import os
    os.replace(portfile + ".tmp", portfile)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    deadline = time.time() + seconds
    while not stop and time.time() < deadline:
        conn.process_data_events(time_limit=0.5)
    conn.close()


if __name__ == "__main__":
    main()
