"""Regression tests for the wire protocol's behaviour under misbehaving peers and callers: TLS
after a lean asyncio import, streams nobody reads, clients that never read their replies,
stop() against such a peer, CALL+CANCEL in one read, a connect its caller gave up on, connect
deadlines, peers that are not Shoal, a handler's own timeout, and malformed replies.

Real sockets on 127.0.0.1. A few tests look at the server's private connection state (named
where they do): what they pin (write buffers, calls in flight, connections left after stop)
has no public window, and the alternative, timing, is worse.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import grpc.aio
import pytest
import pytest_asyncio
from wire_helpers import (
    ADMIN,
    MB,
    PING,
    WAIT,
    RawClient,
    RawSocket,
    Served,
    blocking_ping,
    channel_to,
    ping,
    raw_client,
    raw_socket,
    serving,
    until,
)

from shoal.config.endpoints import Endpoint, parse_endpoint
from shoal.errors import RemoteError, TimedOutError, UnreachableError
from shoal.rpc import admin_pb2
from shoal.rpc.frames import CALL, CANCEL, REPLY
from shoal.rpc.tls import TlsConfig
from shoal.rpc.wire import (
    MAGIC,
    CallContext,
    FrameReader,
    Stub,
    WireServer,
    encode_call,
    encode_frame,
)

SLOW = "/shoal.v1.Admin/ServerState"
WATCH = "/shoal.v1.Admin/WatchServers"
#: The calls one server connection runs at once (shoal.rpc.wire._MAX_CALLS).
MAX_CALLS = 256
#: What an HTTP/2 server (gRPC) sends first: an empty-ish SETTINGS frame.
HTTP2_SETTINGS = b"\x00\x00\x06\x04\x00\x00\x00\x00\x00" + b"\x00\x03\x00\x00\x00\x64"


# ------------------------------------------------------------------------------ test servicer


@dataclass
class BusyAdmin:
    """An Admin servicer (a plain object) that counts what it does.

    RegistryPing  answers at once, its registry name padded to `ping_size`; counts `pings`
    ServerState   waits for `release`; counts `running`, the most at once and `finished`
    WatchServers  yields one item for ever (`removed`: `watch_size` x's, none by default);
                  counts `produced` (items the server took from it)
    Deploy        its own asyncio.timeout runs out: a TimeoutError of the handler's own
    """

    ping_size: int = 0
    watch_size: int = 0
    pings: int = 0
    running: int = 0
    most_running: int = 0
    finished: int = 0
    produced: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def RegistryPing(
        self, request: admin_pb2.RegistryPingRequest, context: CallContext
    ) -> admin_pb2.RegistryPingReply:
        self.pings += 1
        name = (request.name or "Master").ljust(self.ping_size, "x")
        return admin_pb2.RegistryPingReply(registry=admin_pb2.RegistryInfo(name=name))

    async def ServerState(
        self, request: admin_pb2.ServerStateRequest, context: CallContext
    ) -> admin_pb2.ServerStateReply:
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await self.release.wait()
        finally:
            self.running -= 1
            self.finished += 1
        return admin_pb2.ServerStateReply()

    async def WatchServers(
        self, request: admin_pb2.WatchServersRequest, context: CallContext
    ) -> AsyncIterator[admin_pb2.WatchServersReply]:
        item = admin_pb2.WatchServersReply(removed="x" * self.watch_size)
        for _ in count():
            yield item
            self.produced += 1  # resumed: the server has sent the item before

    async def Deploy(
        self, request: admin_pb2.DeployRequest, context: CallContext
    ) -> admin_pb2.DeployReply:
        async with asyncio.timeout(0):  # e.g. a backend the handler gave up on
            await asyncio.Event().wait()
        raise AssertionError("unreachable")


# ------------------------------------------------------------------------ servers and clients


@pytest.fixture
def admin() -> BusyAdmin:
    return BusyAdmin()


@pytest_asyncio.fixture
async def served(admin: BusyAdmin) -> AsyncIterator[Served]:
    async with serving(admin) as running:
        yield running


def the_connection(server: WireServer) -> Any:
    """The server's one client connection (private state: see the module docstring)."""
    (connection,) = server._connections
    return connection


Respond = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def scripted_peer(respond: Respond) -> AsyncIterator[Endpoint]:
    """A server that is not a WireServer: `respond` runs each connection, which then stays
    open until the client leaves; every connection is dropped after the block."""
    handlers: set[asyncio.Future[None]] = set()
    writers: set[asyncio.StreamWriter] = set()

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        try:
            await respond(reader, writer)
            await reader.read()  # until the client hangs up
        except (OSError, asyncio.IncompleteReadError):
            pass  # the client dropped the connection: what clients of a bad peer do
        finally:
            writer.close()

    def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers.add(asyncio.ensure_future(connected(reader, writer)))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        yield parse_endpoint(f"tcp -h 127.0.0.1 -p {port}")
    finally:
        server.close()
        for writer in writers:
            writer.transport.abort()  # its handler's read then ends
        if handlers:
            _, running = await asyncio.wait(handlers, timeout=WAIT)
            assert not running, "a scripted peer's connection did not end"
        await server.wait_closed()


async def calls_of(reader: asyncio.StreamReader) -> AsyncIterator[int]:
    """The call ids of the CALL frames a client sends (after its MAGIC)."""
    assert await reader.readexactly(len(MAGIC)) == MAGIC
    cutter = FrameReader(-1)
    while data := await reader.read(65536):
        for frame in cutter.feed(data):
            if frame.kind == CALL:
                yield frame.call_id


# ------------------------------------------------------------------- 1. TLS after lean asyncio

LEAN_TLS_ROUND_TRIP = """
import sys
from shoal.lean import import_asyncio_without_ssl

import_asyncio_without_ssl()
import asyncio

assert sys.modules["asyncio.sslproto"].ssl is None, "asyncio was imported with ssl"

from pathlib import Path

from shoal.rpc import admin_pb2
from shoal.rpc.tls import TlsConfig
from shoal.rpc.wire import Stub, WireChannel, WireServer

ADMIN = admin_pb2.DESCRIPTOR.services_by_name["Admin"]


class Admin:
    async def RegistryPing(self, request, context):
        return admin_pb2.RegistryPingReply(registry=admin_pb2.RegistryInfo(name="Master"))


async def main():
    cert, key = Path(sys.argv[1]), Path(sys.argv[2])
    tls = TlsConfig(cert_file=cert, key_file=key, ca_file=cert)
    server = WireServer(max_message_bytes=1 << 20)
    server.add_service(ADMIN, Admin())
    try:
        (endpoint,) = await server.listen("ssl -h 127.0.0.1 -p 0", tls=tls)
        channel = WireChannel(endpoint, max_message_bytes=1 << 20, tls=tls)
        try:
            reply = await Stub(channel, ADMIN).RegistryPing(
                admin_pb2.RegistryPingRequest(), timeout=5
            )
        finally:
            await channel.close()
    finally:
        await server.stop(0)
    print("TLS round trip:", reply.registry.name)


asyncio.run(main())
"""


def test_tls_works_in_a_process_that_imported_asyncio_without_ssl(tls_files: TlsConfig) -> None:
    # A process of its own: this one imported asyncio with ssl long ago.
    cert, key = str(tls_files.cert_file), str(tls_files.key_file)
    command = [sys.executable, "-c", LEAN_TLS_ROUND_TRIP, cert, key]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3 * WAIT)
    assert (done.returncode, done.stdout) == (0, "TLS round trip: Master\n"), done.stderr


# ------------------------------------------------------------ 2. a stream nobody reads further


@pytest.mark.asyncio
async def test_a_stream_left_unread_does_not_hold_up_a_unary_call_on_the_same_channel(
    served: Served,
) -> None:
    # 9-byte items: the client stops reading the connection a stream comes on after the read
    # (256 KiB at most) that takes its unread items past 512, i.e. within the first ~261 KB.
    # Once the server has sent 400 KB, a reply sharing that connection would come after the
    # point where the client stopped reading, and never arrive.
    produced_enough = 400_000 // 9
    async with channel_to(served.endpoint) as channel:
        replies = Stub(channel, ADMIN).WatchServers(admin_pb2.WatchServersRequest())
        async with aclosing(replies):
            await asyncio.wait_for(anext(replies), WAIT)
            await until(
                lambda: served.admin.produced >= produced_enough,
                f"the server to send {produced_enough} stream items",
                lambda: f"{served.admin.produced} items",
            )
            assert await ping(channel) == "Master"


# --------------------------------------------------- 3. a client that never reads its replies


@asynccontextmanager
async def flooded_with_pings(served: Served) -> AsyncIterator[RawSocket]:
    """A connection that sends 500 pings with 60 KB replies at once and reads none of them,
    once the server has answered as many as it runs at once (MAX_CALLS)."""
    served.admin.ping_size = 60_000
    request = admin_pb2.RegistryPingRequest().SerializeToString()
    async with raw_socket(served.endpoint) as raw:
        await raw.send(MAGIC + b"".join(encode_call(i, PING, request, None) for i in range(1, 501)))
        await until(
            lambda: served.admin.pings >= MAX_CALLS,
            f"{MAX_CALLS} pings to be answered",
            lambda: f"{served.admin.pings}",
        )
        yield raw


@pytest.mark.asyncio
async def test_a_client_that_never_reads_its_replies_leaves_the_servers_write_buffer_bounded(
    served: Served,
) -> None:
    async with flooded_with_pings(served):
        # Private state: the transport's unsent bytes (500 replies would be 30 MB).
        buffered = the_connection(served.server)._transport.get_write_buffer_size()
        assert buffered < MB


@pytest.mark.asyncio
async def test_a_client_that_reads_a_little_then_stops_again_leaves_the_write_buffer_bounded(
    served: Served,
) -> None:
    async with flooded_with_pings(served) as raw:
        connection = the_connection(served.server)
        await raw.drop(4 * MB)  # the server's buffer drains: it writes again
        # Private state: the connection stopped writing again, and what it holds meanwhile.
        await until(lambda: not connection._writable.is_set(), "the server to stop writing")
        assert connection._transport.get_write_buffer_size() < MB


@pytest.mark.asyncio
async def test_no_more_than_256_calls_run_at_once_on_one_connection_and_the_rest_wait(
    served: Served,
) -> None:
    admin = served.admin
    async with raw_socket(served.endpoint) as raw:
        await raw.send(MAGIC + b"".join(encode_call(i, SLOW, b"", None) for i in range(1, 1001)))
        await until(
            lambda: admin.running >= MAX_CALLS,
            f"{MAX_CALLS} slow calls to run",
            lambda: f"{admin.running} running",
        )
        # Private state: the connection's call tasks.
        connection = the_connection(served.server)
        assert len(connection._calls) == MAX_CALLS
        admin.release.set()
        await until(
            lambda: admin.finished == 1000,
            "all 1000 calls to finish",
            lambda: f"{admin.finished} finished, {admin.running} running",
        )
    assert admin.most_running == MAX_CALLS


# ------------------------------------------------------------ 4. stop() and a peer not reading


@pytest.mark.asyncio
async def test_stop_drops_a_peer_that_stopped_reading_a_stream_and_returns_promptly(
    served: Served,
) -> None:
    served.admin.watch_size = 32_000
    server = served.server
    async with raw_socket(served.endpoint) as raw:
        await raw.send(MAGIC + encode_call(1, WATCH, b"", None))
        # Private state: the server holds output it cannot send (the peer's buffers are full).
        await until(
            lambda: (
                bool(server._connections)
                and the_connection(server)._transport.get_write_buffer_size() > 0
            ),
            "the server to hold stream output the peer does not read",
        )
        started = time.monotonic()
        async with asyncio.timeout(WAIT):
            await server.stop(grace=0.2)
        assert time.monotonic() - started < 0.2 + 1.0
        # Closed, not waiting for a flush that never comes (private: the open connections).
        await until(
            lambda: not server._connections,
            "the server to drop the connection",
            lambda: server._connections,
        )


# ---------------------------------------------------------------- 5. CALL then CANCEL at once


@pytest.mark.asyncio
async def test_calls_cancelled_in_the_same_read_leave_nothing_behind_and_ids_can_be_reused(
    served: Served,
) -> None:
    request = admin_pb2.RegistryPingRequest().SerializeToString()

    async def next_frame(raw: RawClient) -> tuple[int, int]:
        (frame,) = await raw.frames()
        return frame.kind, frame.call_id

    async with raw_client(served.endpoint) as raw:
        # More than the per-connection cap: some are cancelled running, some still waiting.
        # Call 1001, not cancelled, is answered after the server has read all the others.
        raw.send(
            MAGIC
            + b"".join(
                encode_call(i, PING, request, None) + encode_frame(CANCEL, i)
                for i in range(1, 1001)
            )
            + encode_call(1001, PING, request, None)
        )
        assert await next_frame(raw) == (REPLY, 1001)
        connection = the_connection(served.server)
        # Private state: the connection's running and waiting calls.
        await until(
            lambda: not connection._calls,
            "every cancelled call to be forgotten",
            lambda: f"{len(connection._calls)} calls",
        )
        assert not connection._waiting
        raw.send(encode_call(7, PING, request, None))  # an id used (and cancelled) above
        assert await next_frame(raw) == (REPLY, 7)


# ------------------------------------------------------------- 6. a connect its caller left


@pytest.mark.asyncio
async def test_a_connect_whose_caller_gave_up_does_not_hand_a_stale_connection_to_later_calls(
    admin: BusyAdmin,
) -> None:
    async with serving(admin) as served, channel_to(served.endpoint) as channel:
        endpoint = served.endpoint
        with pytest.raises(TimedOutError):
            await ping(channel, deadline=1e-6)  # gives up while the connection is made
        await until(lambda: channel.connected, "the connection left behind to come up")
        await served.server.stop(0)
        await until(lambda: not channel.connected, "the channel to see the connection lost")
        async with serving(BusyAdmin(), endpoints=str(endpoint)) as restarted:
            assert await ping(channel) == "Master"
            assert restarted.admin.pings == 1


# ------------------------------------------------------------------ 7. a connect that hangs


@pytest.fixture
def hanging_endpoint() -> Iterator[Endpoint]:
    """An endpoint whose connects hang: a listener whose accept queue is full drops new SYNs
    (as a firewall would). Closing it refuses the connects still trying."""
    held: list[socket.socket] = []
    try:
        listener = socket.socket()
        held.append(listener)
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)  # Linux queues backlog + 1 = one connection
        address = listener.getsockname()
        held.append(socket.create_connection(address, timeout=WAIT))
        yield parse_endpoint(f"tcp -h 127.0.0.1 -p {address[1]}")
    finally:
        for sock in held:
            sock.close()


def test_a_blocking_call_whose_connect_hangs_times_out_at_its_deadline(
    hanging_endpoint: Endpoint,
) -> None:
    outcome: list[BaseException | str] = []

    def call() -> None:
        try:
            outcome.append(blocking_ping(hanging_endpoint, deadline=1.0))
        except BaseException as exc:  # reported by the test thread
            outcome.append(exc)

    started = time.monotonic()
    # A thread, so that a connect that ignores the deadline fails the test rather than hangs it.
    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    caller.join(WAIT)
    elapsed = time.monotonic() - started
    assert not caller.is_alive(), f"a call with a 1 s deadline still blocked after {WAIT} s"
    (result,) = outcome
    assert isinstance(result, TimedOutError), result
    assert str(result) == f"the registry at {hanging_endpoint} did not answer in time"
    assert 1.0 <= elapsed < 2.0


# ------------------------------------------------------------------ 8. a peer that is not Shoal


async def http2_when_asked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readexactly(len(MAGIC))
    writer.write(HTTP2_SETTINGS)


@asynccontextmanager
async def grpc_server() -> AsyncIterator[Endpoint]:
    server = grpc.aio.server()
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield parse_endpoint(f"tcp -h 127.0.0.1 -p {port}")
    finally:
        await server.stop(None)


FOREIGN_PEERS: dict[str, Callable[[], Any]] = {
    "http2-bytes-when-asked": lambda: scripted_peer(http2_when_asked),
    "grpc-aio-server": grpc_server,
}
#: Fresh connections each test makes: a peer that speaks first (gRPC sends its SETTINGS on
#: accept) may be heard before or after the call is sent, and either must read the same.
ATTEMPTS = 20


async def foreign_error(endpoint: Endpoint, client: str) -> UnreachableError:
    with pytest.raises(UnreachableError) as caught:
        if client == "WireChannel":
            async with channel_to(endpoint) as channel:
                await ping(channel)
        else:
            await asyncio.to_thread(blocking_ping, endpoint)
    return caught.value


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("foreign", "client"),
    [
        ("http2-bytes-when-asked", "WireChannel"),
        ("http2-bytes-when-asked", "BlockingChannel"),
        ("grpc-aio-server", "WireChannel"),
        ("grpc-aio-server", "BlockingChannel"),
    ],
)
async def test_a_peer_that_is_not_shoal_is_named_as_such_with_a_version_hint(
    foreign: str, client: str
) -> None:
    async with FOREIGN_PEERS[foreign]() as endpoint:
        errors = [await foreign_error(endpoint, client) for _ in range(ATTEMPTS)]
    expected = f"the registry at {endpoint} does not speak Shoal's wire protocol ("
    for error in errors:
        assert str(error).startswith(expected), [str(error) for error in errors]
        assert "Shoal version" in error.hint
        assert error.address == str(endpoint)


# --------------------------------------------------------------- 9. a handler's own timeout


@pytest.mark.asyncio
@pytest.mark.parametrize("deadline", [None, WAIT], ids=["no-deadline", "far-deadline"])
async def test_a_handlers_own_timeout_is_an_internal_error_not_the_callers_deadline(
    served: Served, caplog: pytest.LogCaptureFixture, deadline: float | None
) -> None:
    async with channel_to(served.endpoint) as channel:
        with pytest.raises(RemoteError) as caught:
            await Stub(channel, ADMIN).Deploy(admin_pb2.DeployRequest(), timeout=deadline)
    assert type(caught.value) is RemoteError
    assert str(caught.value) == "internal error in /shoal.v1.Admin/Deploy: TimeoutError: "
    assert caught.value.status == "INTERNAL"
    assert "/shoal.v1.Admin/Deploy failed" in caplog.text  # logged with its traceback


# ---------------------------------------------------------------- 10. a malformed reply body


async def garbage_replies(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    async for call_id in calls_of(reader):
        # A length-delimited field 1 whose length runs past the end: not a message.
        writer.write(encode_frame(REPLY, call_id, b"\x0a\xff\xff"))


@pytest.mark.asyncio
@pytest.mark.parametrize("call", ["unary", "stream", "blocking"])
async def test_a_reply_that_is_not_a_valid_message_is_a_remote_error_naming_the_peer(
    call: str,
) -> None:
    async with scripted_peer(garbage_replies) as endpoint:
        with pytest.raises(RemoteError) as caught:
            if call == "blocking":
                await asyncio.to_thread(blocking_ping, endpoint)
            else:
                async with channel_to(endpoint) as channel:
                    if call == "unary":
                        await ping(channel)
                    else:
                        watch = Stub(channel, ADMIN).WatchServers(admin_pb2.WatchServersRequest())
                        async with aclosing(watch) as replies:
                            await asyncio.wait_for(anext(replies), WAIT)
    reply_type = "WatchServersReply" if call == "stream" else "RegistryPingReply"
    assert str(caught.value) == f"a malformed {reply_type} from the registry at {endpoint}"
    assert caught.value.status == "INTERNAL"
