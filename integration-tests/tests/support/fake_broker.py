#!/usr/bin/python3
"""Stands in for `gregor broker --config <file>` to test the harness's Broker
handle before the broker exists: checks the keys the harness writes, listens
on the PLAINTEXT listener, and exits 0 on SIGTERM like a controlled shutdown."""
import signal
import socket
import sys

assert sys.argv[1:3] == ["broker", "--config"], sys.argv
props = dict(
    line.split("=", 1) for line in open(sys.argv[3]).read().splitlines() if "=" in line
)
for key in ("broker.id", "listeners", "log.dirs", "zookeeper.connect"):
    assert key in props, f"missing {key}"
host, port = props["listeners"].removeprefix("PLAINTEXT://").rsplit(":", 1)

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
server = socket.create_server((host, int(port)))
print(f"fake broker {props['broker.id']} listening on {host}:{port}", flush=True)
while True:
    conn, _ = server.accept()
    conn.close()
