"""The greeter of docs/first-server.md: one adapter, `Hello`, answering `/hello.Greeter/Greet`
with `Hello, NAME!`. Bytes in, bytes out (grpc's generic handlers, no .proto to compile).

The node starts it with SHOAL_CONFIG naming the config it wrote (Hello.Endpoints,
Hello.AdapterId, shoal.node.Endpoints); `shoal.server` binds the adapter (port 0: any free port),
registers the real endpoints with the node, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc

from shoal.server import Server

SERVICE = "hello.Greeter"


async def greet(name: bytes, context: Any) -> bytes:
    return b"Hello, " + (name or b"world") + b"!"


async def main() -> None:
    server = Server.from_environment()
    handler = grpc.method_handlers_generic_handler(
        SERVICE, {"Greet": grpc.unary_unary_rpc_method_handler(greet)}
    )
    server.adapter("Hello").add_generic_rpc_handlers((handler,))
    await server.run()


if __name__ == "__main__":
    asyncio.run(main())
