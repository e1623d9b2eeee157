"""Ask the greeter of docs/first-server.md: find adapter `HelloServer.Hello` through the locator
at Ice.Default.Locator, then call it.

    python client.py --Ice.Config=$SHOAL_HOME/etc/internal.cfg [NAME]
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from shoal.config.endpoints import parse_endpoints
from shoal.config.properties import parse_command_line
from shoal.errors import ShoalError
from shoal.rpc import locator_pb2, locator_pb2_grpc
from shoal.rpc.channels import make_channel
from shoal.rpc.errors import Peer, translate_errors

ADAPTER_ID = "HelloServer.Hello"
MAX_BYTES = 1024 * 1024


async def find_adapter(locator: str, adapter_id: str) -> str:
    """The adapter's endpoints, as its server registered them."""
    channel = make_channel(locator, max_message_bytes=MAX_BYTES)
    try:
        stub: Any = locator_pb2_grpc.LocatorStub(channel)  # type: ignore[no-untyped-call]
        with translate_errors(Peer.registry(locator)):
            reply = await stub.FindAdapterById(
                locator_pb2.FindAdapterByIdRequest(adapter_id=adapter_id), timeout=10
            )
        return str(reply.endpoints)
    finally:
        await channel.close()


async def greet(endpoints: str, name: str) -> str:
    channel = make_channel(parse_endpoints(endpoints)[0], max_message_bytes=MAX_BYTES)
    try:
        call = channel.unary_unary("/hello.Greeter/Greet")
        with translate_errors(Peer("the greeter", endpoints)):
            answer: bytes = await call(name.encode(), timeout=10)
        return answer.decode()
    finally:
        await channel.close()


async def main(argv: Sequence[str]) -> int:
    properties, words = parse_command_line(argv, config_variable="SHOAL_CONFIG")
    locator = properties.get_proxy("Ice.Default.Locator")
    if locator is None or not locator.endpoints:
        print("set Ice.Default.Locator (e.g. --Ice.Config=etc/internal.cfg)", file=sys.stderr)
        return 2
    try:
        endpoints = await find_adapter(str(locator.endpoints[0]), ADAPTER_ID)
        print(await greet(endpoints, words[0] if words else "world"))
    except ShoalError as error:
        print(
            f"error: {error.message}" + (f" ({error.hint})" if error.hint else ""), file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
