"""Python `websockets` echo and broadcast servers for the side-by-side comparison.

Usage: python server.py echo|broadcast PORT [deflate]
- echo: every message is sent back (str as text, bytes as binary);
- broadcast: every message is relayed to every client, the sender included;
- deflate: permessage-deflate with the library's defaults (otherwise compression is off).
"""

import asyncio
import sys

from websockets.asyncio.server import broadcast, serve


async def main(mode: str, port: int, deflate: bool) -> None:
    clients = set()

    async def echo(ws):
        async for message in ws:
            await ws.send(message)

    async def relay(ws):
        clients.add(ws)
        try:
            async for message in ws:
                broadcast(clients, message)
        finally:
            clients.discard(ws)

    handler = echo if mode == "echo" else relay
    async with serve(
        handler,
        "127.0.0.1",
        port,
        compression="deflate" if deflate else None,
        max_size=64 << 20,
        max_queue=None,
        ping_interval=None,
    ) as server:
        print(f"websockets {mode} listening on 127.0.0.1:{port}", file=sys.stderr)
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("echo", "broadcast"):
        sys.exit("usage: python server.py echo|broadcast PORT [deflate]")
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3:] == ["deflate"]))
