#!/usr/bin/env python3
"""Measures how many idle chat clients one server holds, and their memory.

Opens N WebSocket connections to a running `fullduplex chat` on loopback, joins each to a room
of 100, leaves them idle, and prints the server's resident memory as they accumulate. Start the
server with a long ping interval (idle clients here do not answer pings):

    fullduplex chat --addr 127.0.0.1:18600 --quiet --ping-interval 3600 &
    python3 scripts/chat_idle_clients.py 18600 $! 9900

A process may hold only `ulimit -n` sockets: run several of these with OFFSET=0, OFFSET=20000,
... (each uses its own source address, 127.0.0.2, 127.0.0.3, ..., and its own rooms), and
HOLD=SECONDS to keep the clients connected that long after the last one opened.
"""
import base64
import json
import os
import socket
import struct
import sys
import time
import urllib.request


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def masked_text_frame(text):
    data = text.encode()
    assert len(data) < 65536
    mask = os.urandom(4)
    if len(data) < 126:
        head = bytes([0x81, 0x80 | len(data)])
    else:
        head = bytes([0x81, 0x80 | 126]) + struct.pack("!H", len(data))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


def open_client(port, source, nick, room):
    sock = socket.socket()
    sock.settimeout(10)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(head[:80])
    sock.sendall(masked_text_frame(json.dumps({"type": "join", "nick": nick, "room": room})))
    return sock


def main():
    port, pid, total = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    offset = int(os.environ.get("OFFSET", "0"))
    source = "127.0.0.%d" % (2 + offset // 20000)
    before = rss_kib(pid)
    start = time.time()
    clients = []
    for n in range(total):
        clients.append(open_client(port, source, f"u{offset + n}", f"r{offset}-{n // 100}"))
        if (n + 1) % 5000 == 0 or n + 1 == total:
            rss = rss_kib(pid)
            per_client = (rss - before) * 1024 / (n + 1)
            print(f"{n + 1} clients: server RSS {rss} KiB, {per_client:.0f} B per client, "
                  f"{time.time() - start:.1f} s", flush=True)
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
    wanted = ("fullduplex_open_connections", "fullduplex_chat_users", "fullduplex_chat_rooms")
    for line in metrics.decode().splitlines():
        if line.startswith(wanted):
            print(line)
    time.sleep(float(os.environ.get("HOLD", "0")))


if __name__ == "__main__":
    main()
