"""What the wire protocol's tests share: a served WireServer, channels and pings to it, bounded
waits, and hand-driven connections to it. Real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from shoal.config.endpoints import Endpoint
from shoal.rpc import admin_pb2
from shoal.rpc.detail import Peer
from shoal.rpc.tls import TlsConfig
from shoal.rpc.wire import BlockingChannel, Frame, FrameReader, Stub, WireChannel, WireServer

if TYPE_CHECKING:
    from google.protobuf.descriptor import ServiceDescriptor

MB = 1024 * 1024
#: The bound on every wait for something the test expects to happen soon.
WAIT = 5.0
ADMIN = admin_pb2.DESCRIPTOR.services_by_name["Admin"]
PING = "/shoal.v1.Admin/RegistryPing"


# ------------------------------------------------------------------------ servers and clients


@dataclass
class Served:
    server: WireServer
    endpoint: Endpoint
    admin: Any


@asynccontextmanager
async def serving(
    admin: Any,
    *,
    endpoints: str = "tcp -h 127.0.0.1 -p 0",
    max_message_bytes: int = MB,
    check: Callable[[str], None] | None = None,
    tls: TlsConfig | None = None,
    others: Sequence[tuple[ServiceDescriptor, object]] = (),
) -> AsyncIterator[Served]:
    """A WireServer with `admin` (and the `others` services) on `endpoints`, stopped after the
    block."""
    server = WireServer(max_message_bytes=max_message_bytes, name="the registry")
    server.add_service(ADMIN, admin, check=check)
    for service, servicer in others:
        server.add_service(service, servicer)
    try:
        (endpoint,) = await server.listen(endpoints, tls=tls)
        yield Served(server, endpoint, admin)
    finally:
        await server.stop(0)


@asynccontextmanager
async def channel_to(
    endpoint: Endpoint, *, max_message_bytes: int = MB, tls: TlsConfig | None = None
) -> AsyncIterator[WireChannel]:
    channel = WireChannel(
        endpoint, max_message_bytes=max_message_bytes, tls=tls, peer=registry_at(endpoint)
    )
    try:
        yield channel
    finally:
        await channel.close()


def registry_at(endpoint: Endpoint) -> Peer:
    return Peer.registry(str(endpoint))


async def ping(channel: WireChannel, name: str = "Master", *, deadline: float | None = WAIT) -> str:
    reply = await Stub(channel, ADMIN).RegistryPing(
        admin_pb2.RegistryPingRequest(name=name), timeout=deadline
    )
    return str(reply.registry.name)


def blocking_ping(endpoint: Endpoint, *, deadline: float | None = WAIT) -> str:
    with BlockingChannel(endpoint, max_message_bytes=MB, peer=registry_at(endpoint)) as channel:
        reply = channel.unary(
            PING,
            admin_pb2.RegistryPingRequest(name="Master"),
            admin_pb2.RegistryPingReply,
            deadline=deadline,
        )
    return str(reply.registry.name)


# ----------------------------------------------------------------------------- bounded waits


async def collect(replies: AsyncIterator[Any]) -> list[Any]:
    """Every item of a stream, to its end (bounded)."""
    async with asyncio.timeout(WAIT):
        return [reply async for reply in replies]


async def happens(event: asyncio.Event, what: str) -> None:
    """Wait (bounded) for `event`; fail naming what was expected."""
    try:
        await asyncio.wait_for(event.wait(), WAIT)
    except TimeoutError:
        pytest.fail(f"waited {WAIT} s for {what}")


async def until(
    condition: Callable[[], bool], what: str, seen: Callable[[], object] = lambda: None
) -> None:
    """Poll `condition` (bounded by WAIT); fail naming what was expected and what was seen."""
    give_up = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail(f"waited {WAIT} s for {what}; saw {seen()}")
        await asyncio.sleep(0.005)


# ------------------------------------------------------------------ hand-driven connections


class RawClient:
    """A hand-driven connection: bytes out, frames (or the end of the connection) in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self._cutter = FrameReader(-1)
        self._frames: deque[Frame] = deque()

    def send(self, data: bytes) -> None:
        self._writer.write(data)

    async def frame(self) -> Frame:
        await self._received()
        return self._frames.popleft()

    async def frames(self) -> list[Frame]:
        """Every frame not yet taken, once there is at least one (what one read brought)."""
        await self._received()
        frames = list(self._frames)
        self._frames.clear()
        return frames

    async def _received(self) -> None:
        while not self._frames:
            data = await asyncio.wait_for(self._reader.read(65536), WAIT)
            assert data, "the server closed the connection"
            self._frames.extend(self._cutter.feed(data))

    async def rest(self) -> bytes:
        """Whatever the server still sends, up to its closing the connection."""
        return await asyncio.wait_for(self._reader.read(), WAIT)


@asynccontextmanager
async def raw_client(endpoint: Endpoint) -> AsyncIterator[RawClient]:
    reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
    try:
        yield RawClient(reader, writer)
    finally:
        writer.close()
        with suppress(OSError):  # the server dropped it first: nothing left to close cleanly
            await writer.wait_closed()


class RawSocket:
    """A hand-driven connection that reads only when told to (most tests never do)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._loop = asyncio.get_running_loop()

    async def send(self, data: bytes) -> None:
        await asyncio.wait_for(self._loop.sock_sendall(self._sock, data), WAIT)

    async def drop(self, size: int) -> None:
        """Read `size` bytes and throw them away."""
        while size > 0:
            data = await asyncio.wait_for(self._loop.sock_recv(self._sock, size), WAIT)
            assert data, "the server closed the connection"
            size -= len(data)


@asynccontextmanager
async def raw_socket(endpoint: Endpoint) -> AsyncIterator[RawSocket]:
    sock = socket.socket()
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (endpoint.host, endpoint.port))
        yield RawSocket(sock)
    finally:
        sock.close()
