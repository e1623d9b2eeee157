"""shoal.server outside the grid: its public surface, an adapter on port 0 that answers calls,
and a clean stop."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

import shoal.server
from shoal.config.endpoints import parse_endpoints
from shoal.errors import ConfigError
from shoal.rpc.channels import make_channel
from shoal.server import Server


def test_public_surface_is_pinned() -> None:
    assert shoal.server.__all__ == ["Server"]


async def echo(request: bytes, context: Any) -> bytes:
    return b"echo " + request


@pytest.mark.asyncio
async def test_an_adapter_on_port_0_serves_until_stopped() -> None:
    server = Server(properties={"Echo.Endpoints": "tcp -h 127.0.0.1 -p 0"}, stop_grace=1.0)
    handler = grpc.method_handlers_generic_handler(
        "test.Echo", {"Say": grpc.unary_unary_rpc_method_handler(echo)}
    )
    server.adapter("Echo").add_generic_rpc_handlers((handler,))
    endpoint = parse_endpoints(server.endpoints("Echo"))[0]
    assert endpoint.port
    running = asyncio.create_task(server.run())
    channel = make_channel(endpoint, max_message_bytes=1 << 20)
    try:
        answer = await channel.unary_unary("/test.Echo/Say")(b"hi", timeout=10, wait_for_ready=True)
        assert answer == b"echo hi"
    finally:
        await channel.close()
    server.stop()
    await asyncio.wait_for(running, 10)


@pytest.mark.asyncio
async def test_an_adapter_without_endpoints_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"Missing\.Endpoints"):
        Server(properties={}).adapter("Missing")
