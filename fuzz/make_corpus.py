#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/TARGET/ (run from anywhere).

Seeds are RFC 6455 §1.3 and §5.7 vectors, RFC 7692 §7.2.3 vectors, and opening handshakes as
Chromium, Firefox, Node `ws` and Python `websockets` send them. Each file is one input in the
target's own layout (see the target's source): e.g. the connection targets take three option
bytes (flags, seed, largest split) before the bytes from the peer.
"""
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
KEY = bytes.fromhex("37fa213d")  # the masking key of RFC 6455 §5.7


def write(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def frame(b0, payload, key=None):
    n = len(payload)
    mask = 0x80 if key else 0
    if n < 126:
        head = bytes([b0, mask | n])
    elif n < 65536:
        head = bytes([b0, mask | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, mask | 127]) + struct.pack(">Q", n)
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        head += key
    return head + payload


def deflate(data, wbits=15, level=6):
    c = zlib.compressobj(level, zlib.DEFLATED, -wbits)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4] or b"\x00"


# RFC 7692 §7.2.3, the compressed payloads of "Hello".
HELLO_7_2_3_1 = bytes.fromhex("f248cdc9c90700")
HELLO_7_2_3_2_SECOND = bytes.fromhex("f200110000")
HELLO_7_2_3_3 = bytes.fromhex("000500faff48656c6c6f00")
HELLO_7_2_3_4 = bytes.fromhex("f348cdc9c9070000")
HELLO_7_2_3_5 = bytes.fromhex("f24805000000ffffcac9c90700")


def peer_frames(key):
    """Conversations from a peer: masked with `key` (a client) or not (a server)."""
    close = struct.pack(">H", 1000) + b"bye"
    yield "rfc6455_5_7_text", frame(0x81, b"Hello", key)
    yield "rfc6455_5_7_fragments", frame(0x01, b"Hel", key) + frame(0x80, b"lo", key)
    yield "rfc6455_5_7_ping_pong", frame(0x89, b"Hello", key) + frame(0x8A, b"Hello", key)
    yield "rfc6455_5_7_binary_256", frame(0x82, bytes(range(256)), key)
    yield "close_normal", frame(0x81, b"hi", key) + frame(0x88, close, key)
    yield "close_empty", frame(0x88, b"", key)
    yield "close_one_byte", frame(0x88, b"\x03", key)
    yield "close_reserved_code", frame(0x88, struct.pack(">H", 1005), key)
    yield "close_bad_reason", frame(0x88, struct.pack(">H", 1000) + b"\xff", key)
    yield "utf8_split", frame(0x01, "caf\u00e9 \u20ac".encode()[:6], key) + frame(
        0x80, "caf\u00e9 \u20ac".encode()[6:], key
    )
    yield "utf8_invalid", frame(0x81, b"\xed\xa0\x80", key)
    yield "reserved_opcode", frame(0x83, b"", key)
    yield "control_fragmented", frame(0x09, b"", key)
    yield "ping_interleaved", frame(0x01, b"a", key) + frame(0x89, b"p", key) + frame(0x80, b"b", key)
    yield "length_top_bit", bytes([0x82, 0xFF]) + b"\x80" + b"\x00" * 7 + (key or b"")
    yield "length_16mib_then_nothing", bytes([0x82, 0xFF]) + struct.pack(">Q", 16 << 20) + (key or b"")
    yield "empty_continuations", frame(0x01, b"", key) + frame(0x00, b"", key) * 70
    # RFC 7692 §7.2.3 (with the deflate option bit)
    yield "rfc7692_7_2_3_1", frame(0xC1, HELLO_7_2_3_1, key)
    yield "rfc7692_7_2_3_2", frame(0xC1, HELLO_7_2_3_1, key) + frame(0xC1, HELLO_7_2_3_2_SECOND, key)
    yield "rfc7692_7_2_3_3", frame(0xC1, HELLO_7_2_3_3, key)
    yield "rfc7692_7_2_3_4", frame(0xC1, HELLO_7_2_3_4, key)
    yield "rfc7692_7_2_3_5", frame(0xC1, HELLO_7_2_3_5, key)
    yield "rfc7692_fragmented", frame(0x41, HELLO_7_2_3_1[:3], key) + frame(0x80, HELLO_7_2_3_1[3:], key)
    yield "rfc7692_empty", frame(0xC1, b"\x00", key)
    yield "deflate_bomb", frame(0xC2, deflate(b"\x00" * (1 << 20), level=9), key)
    yield "rsv1_on_control", frame(0xC9, b"", key)


def connection_seeds(target, key):
    for name, wire in peer_frames(key):
        deflated = name.startswith(("rfc7692", "deflate", "rsv1"))
        flags = 1 if deflated else 0
        write(target, name, bytes([flags, 0, 0]) + wire)
        write(target, name + "_bytewise", bytes([flags | 8, 7, 1]) + wire)
        write(target, name + "_split_acting", bytes([flags | 16 | 8, 42, 5]) + wire)


CHROMIUM = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: localhost:8080\r\n"
    b"Connection: Upgrade\r\n"
    b"Pragma: no-cache\r\n"
    b"Cache-Control: no-cache\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n"
    b"Upgrade: websocket\r\n"
    b"Origin: http://localhost:8080\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"Accept-Encoding: gzip, deflate, br, zstd\r\n"
    b"Accept-Language: en-US,en;q=0.9\r\n"
    b"Cookie: session=4f2a9c; theme=dark\r\n"
    b"Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"\r\n"
)
FIREFOX = (
    b"GET /chat?room=general HTTP/1.1\r\n"
    b"Host: localhost:8080\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0\r\n"
    b"Accept: */*\r\n"
    b"Accept-Language: en-US,en;q=0.5\r\n"
    b"Accept-Encoding: gzip, deflate, br, zstd\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"Origin: http://localhost:8080\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate\r\n"
    b"Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"
    b"Connection: keep-alive, Upgrade\r\n"
    b"Sec-Fetch-Dest: empty\r\n"
    b"Sec-Fetch-Mode: websocket\r\n"
    b"Sec-Fetch-Site: same-origin\r\n"
    b"Pragma: no-cache\r\n"
    b"Cache-Control: no-cache\r\n"
    b"Upgrade: websocket\r\n"
    b"\r\n"
)
NODE_WS = (
    b"GET / HTTP/1.1\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Connection: Upgrade\r\n"
    b"Upgrade: websocket\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    b"Host: 127.0.0.1:9001\r\n"
    b"\r\n"
)
PYTHON_WEBSOCKETS = (
    b"GET /echo HTTP/1.1\r\n"
    b"Host: 127.0.0.1:9001\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: 8R3HmN4hXEc1bKQQzOeQkA==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    b"User-Agent: Python/3.12 websockets/13.1\r\n"
    b"\r\n"
)
RFC6455_1_3 = (
    b"GET /chat HTTP/1.1\r\n"
    b"Host: server.example.com\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Origin: http://example.com\r\n"
    b"Sec-WebSocket-Protocol: chat, superchat\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"\r\n"
)


def handshake_seeds():
    for name, request in [
        ("chromium", CHROMIUM),
        ("firefox", FIREFOX),
        ("node_ws", NODE_WS),
        ("python_websockets", PYTHON_WEBSOCKETS),
        ("rfc6455_1_3", RFC6455_1_3),
    ]:
        write("handshake_request", name, request)
        write("handshake_request", name + "_with_frame", request + frame(0x81, b"Hello", KEY))
    write("handshake_request", "version_8", RFC6455_1_3.replace(b"Version: 13", b"Version: 8"))
    write("handshake_request", "post", RFC6455_1_3.replace(b"GET", b"POST", 1))
    write("handshake_request", "http_1_0", RFC6455_1_3.replace(b"HTTP/1.1", b"HTTP/1.0", 1))
    write("handshake_request", "pipelined", RFC6455_1_3.replace(b"Version: 13", b"Version: 8") + RFC6455_1_3)

    head = (
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    )
    responses = {
        "rfc6455_1_3": head + b"Sec-WebSocket-Protocol: chat\r\n\r\n",
        "bare": head + b"\r\n",
        "deflate": head + b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
        "deflate_params": head
        + b"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
        b"client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9\r\n\r\n",
        "node_ws_style": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=15\r\n\r\n",
        "refused_403": b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
        "wrong_accept": head.replace(b"s3pP", b"AAAA") + b"\r\n",
    }
    for name, response in responses.items():
        write("handshake_response", name, response)
    write("handshake_response", "with_frames", responses["bare"] + frame(0x81, b"Hello") + frame(0x89, b"p"))
    write(
        "handshake_response",
        "deflate_with_frames",
        responses["deflate"] + frame(0xC1, HELLO_7_2_3_1) + frame(0xC1, HELLO_7_2_3_2_SECOND),
    )


def extension_seeds():
    values = [
        b"permessage-deflate",
        b"permessage-deflate; client_max_window_bits",
        b"permessage-deflate; client_max_window_bits=15; server_no_context_takeover",
        b"permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
        b"permessage-deflate; server_max_window_bits=10, permessage-deflate",
        b'permessage-deflate; client_max_window_bits="10"',
        b"permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        b"permessage-deflate; server_max_window_bits=8; client_max_window_bits=8",
        b"x-webkit-deflate-frame, permessage-deflate; client_max_window_bits",
        b"permessage-deflate; server_max_window_bits=16",
        b"permessage-deflate; unknown_param",
        b"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        b"permessage-deflate\npermessage-deflate; client_max_window_bits",
        b"foo; bar=\"a\\\"b\", baz",
    ]
    for i, value in enumerate(values):
        write("extensions_header", "value_%02d" % i, value)


def inflate_seeds():
    def setup(wbits, takeover, cap, seed):
        return bytes([wbits - 8, 1 if takeover else 0]) + struct.pack("<H", cap) + bytes([seed])

    write("inflate", "rfc7692_7_2_3_1", setup(15, False, 1000, 0) + HELLO_7_2_3_1)
    write("inflate", "rfc7692_7_2_3_3", setup(15, False, 1000, 1) + HELLO_7_2_3_3)
    write("inflate", "rfc7692_7_2_3_4", setup(15, True, 1000, 2) + HELLO_7_2_3_4)
    write("inflate", "rfc7692_7_2_3_5", setup(15, False, 4, 3) + HELLO_7_2_3_5)
    write("inflate", "bomb", setup(15, False, 0xFFFF, 4) + deflate(b"\x00" * (4 << 20), level=9)[:3000])
    text = b'{"type":"message","room":"general","text":"hello hello hello"}' * 20
    for wbits in (8, 9, 12, 15):
        level = 0 if wbits == 8 else 6
        write("inflate", "text_w%d" % wbits, setup(wbits, False, 2000, wbits) + deflate(text, max(wbits, 9), level))
    write("inflate", "corrupt", setup(15, False, 100, 5) + b"\xff\xff\xff\xff")


def small_seeds():
    frames = [
        frame(0x81, b"Hello"),
        frame(0x81, b"Hello", KEY),
        frame(0x01, b"Hel"),
        frame(0x80, b"lo"),
        frame(0x89, b"Hello"),
        frame(0x8A, b"Hello", KEY),
        bytes([0x82, 0x7E, 0x01, 0x00]),
        bytes([0x82, 0x7F]) + struct.pack(">Q", 65536),
        bytes([0x82, 0x7F]) + struct.pack(">Q", 1 << 63),
        bytes([0x82, 0x7E, 0x00, 0x7D]),
        bytes([0x88, 0xFE, 0x00, 0x7E]) + KEY,
        bytes([0xC1, 0x07]) + HELLO_7_2_3_1,
    ]
    for i, data in enumerate(frames):
        write("frame_header", "frame_%02d" % i, data)
    texts = [
        "Hello".encode(),
        "caf\u00e9 \u20ac \U0001F600 \u65e5\u672c".encode(),
        b"\xed\xa0\x80",
        b"\xc0\x80",
        b"\xf4\x90\x80\x80",
        b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
        b"\xf0\x9f\x98",
        ("x" * 70 + "\u00e9").encode(),
    ]
    for i, text in enumerate(texts):
        write("utf8", "text_%02d" % i, bytes([i * 37 % 256]) + text)
    for i, length in enumerate([0, 1, 5, 31, 32, 33, 100, 257]):
        write("mask", "len_%03d" % length, KEY + struct.pack("<HH", i, length // 2) + bytes(range(length % 256)) * (1 + length // 256))


connection_seeds("connection_server", KEY)
connection_seeds("connection_client", None)
handshake_seeds()
extension_seeds()
inflate_seeds()
small_seeds()
