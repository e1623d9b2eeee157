"""A real grpc.aio server on 127.0.0.1 running a small test servicer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc.aio

from shoal.config.endpoints import Endpoint
from shoal.errors import ShoalError
from shoal.rpc import admin_pb2, admin_pb2_grpc, common_pb2
from shoal.rpc.channels import TlsConfig, make_server


@dataclass
class PingAdmin(admin_pb2_grpc.AdminServicer):
    """Answers RegistryPing and echoes through Deploy; raises `error` when a test sets it.

    Deploy replies with an application name of `reply_size` characters when it is set, to
    make a reply as large as a test wants.
    """

    error: BaseException | None = None
    reply_size: int = 0
    calls: list[str] = field(default_factory=list)

    async def RegistryPing(
        self, request: admin_pb2.RegistryPingRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> admin_pb2.RegistryPingReply:
        self.calls.append("RegistryPing")
        if self.error is not None:
            raise self.error
        return admin_pb2.RegistryPingReply(
            registry=admin_pb2.RegistryInfo(name=request.name or "Master", pid=4242)
        )

    async def Deploy(
        self, request: admin_pb2.DeployRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> admin_pb2.DeployReply:
        self.calls.append("Deploy")
        if self.error is not None:
            raise self.error
        name = "x" * self.reply_size if self.reply_size else request.source_name
        return admin_pb2.DeployReply(application=name, added=sorted(request.variables))

    async def ServerOutput(
        self, request: admin_pb2.ServerOutputRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[admin_pb2.ServerOutputReply]:
        """Two chunks, then `error` if set."""
        self.calls.append("ServerOutput")
        for line in (b"first\n", b"second\n"):
            yield admin_pb2.ServerOutputReply(chunk=common_pb2.OutputChunk(data=line))
        if self.error is not None:
            raise self.error


@dataclass
class Served:
    servicer: PingAdmin
    endpoints: tuple[Endpoint, ...]


@asynccontextmanager
async def serve(
    endpoints: str = "tcp -h 127.0.0.1 -p 0",
    *,
    max_message_bytes: int = 1024 * 1024,
    tls: TlsConfig | None = None,
) -> AsyncIterator[Served]:
    """Run a PingAdmin on `endpoints` for the duration of the block."""
    server, bound = make_server(endpoints, max_message_bytes=max_message_bytes, tls=tls)
    servicer = PingAdmin()
    admin_pb2_grpc.add_AdminServicer_to_server(servicer, server)
    await server.start()
    try:
        yield Served(servicer, bound)
    finally:
        await server.stop(None)


class ShoalTestError(ShoalError):
    """A ShoalError subclass the mapping table does not know."""
