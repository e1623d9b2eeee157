"""Shoal's wire protocol (shoal.rpc.wire): frames with no I/O, then calls, streams, errors,
limits, deadlines, cancellation, lost connections, bad clients and TLS over real sockets on
127.0.0.1. Handlers that must be seen to stop set an event in a `finally:`; tests wait on it."""

from __future__ import annotations

import asyncio
import random
import socket
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, aclosing
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
import pytest_asyncio
from rpc_helpers import PingAdmin
from wire_helpers import (
    ADMIN,
    MB,
    PING,
    WAIT,
    Served,
    blocking_ping,
    channel_to,
    collect,
    happens,
    ping,
    raw_client,
)
from wire_helpers import serving as serving_admin

from shoal.config.endpoints import Endpoint, parse_endpoint
from shoal.errors import (
    BusyError,
    ConfigError,
    DescriptorError,
    InvalidArgumentError,
    MessageTooLargeError,
    PermissionDeniedError,
    Problem,
    RemoteError,
    ServerNotFoundError,
    ShoalError,
    TimedOutError,
    UnreachableError,
)
from shoal.rpc import admin_pb2, common_pb2, locator_pb2
from shoal.rpc.common_pb2 import ErrorDetail
from shoal.rpc.detail import MESSAGE_SIZE_HOPS, error_from_detail
from shoal.rpc.tls import TlsConfig
from shoal.rpc.wire import (
    CALL,
    END,
    ERROR,
    MAGIC,
    REPLY,
    BlockingChannel,
    CallContext,
    Frame,
    FrameReader,
    ProtocolError,
    Stub,
    WireChannel,
    WireServer,
    encode_call,
    encode_frame,
)

LOCATOR = locator_pb2.DESCRIPTOR.services_by_name["Locator"]
#: A frame's header: length, kind, call id; a CALL's body then starts with its deadline in ms.
HEAD = 9


# ------------------------------------------------------------------------------ test servicers


@dataclass
class SteeredAdmin:
    """An Admin servicer steered by its fields; a plain object (no gRPC base class).

    RegistryPing  answers with the name asked (or "Master"); raises `error` when set; with
                  `shuffle`, yields to the loop a few times first so replies leave out of order
    Deploy        replies an application name of `reply_size` x's, else the source name
    ServerState   a slow call: sets `slow_started`, waits for `release`; `slow_finished` after
    WatchServers  yields `watch_items` removals ("server-<i>", padded to `watch_item_size`),
                  then raises `watch_error`, or waits forever with `watch_forever`, or ends;
                  `stream_finished` after
    anything else is not implemented
    """

    error: Exception | None = None
    shuffle: bool = False
    reply_size: int = 0
    watch_items: int = 2
    watch_item_size: int = 0
    watch_error: ShoalError | None = None
    watch_forever: bool = False
    calls: list[str] = field(default_factory=list)
    replied: list[str] = field(default_factory=list)
    peers: list[str] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    slow_started: asyncio.Event = field(default_factory=asyncio.Event)
    slow_finished: asyncio.Event = field(default_factory=asyncio.Event)
    stream_finished: asyncio.Event = field(default_factory=asyncio.Event)

    async def RegistryPing(
        self, request: admin_pb2.RegistryPingRequest, context: CallContext
    ) -> admin_pb2.RegistryPingReply:
        self.calls.append(request.name)
        self.peers.append(context.peer())
        if self.error is not None:
            raise self.error
        if self.shuffle:
            for _ in range(zlib.crc32(request.name.encode()) % 8):
                await asyncio.sleep(0)
        self.replied.append(request.name)
        return admin_pb2.RegistryPingReply(
            registry=admin_pb2.RegistryInfo(name=request.name or "Master", pid=4242)
        )

    async def Deploy(
        self, request: admin_pb2.DeployRequest, context: CallContext
    ) -> admin_pb2.DeployReply:
        self.calls.append("Deploy")
        name = "x" * self.reply_size if self.reply_size else request.source_name
        return admin_pb2.DeployReply(application=name)

    async def ServerState(
        self, request: admin_pb2.ServerStateRequest, context: CallContext
    ) -> admin_pb2.ServerStateReply:
        self.calls.append("ServerState")
        self.slow_started.set()
        try:
            await self.release.wait()
        finally:
            self.slow_finished.set()
        return admin_pb2.ServerStateReply(
            status=common_pb2.ServerStatus(server_id=request.server_id)
        )

    async def WatchServers(
        self, request: admin_pb2.WatchServersRequest, context: CallContext
    ) -> AsyncIterator[admin_pb2.WatchServersReply]:
        self.calls.append("WatchServers")
        try:
            for index in range(self.watch_items):
                removed = f"server-{index}".ljust(self.watch_item_size, "x")
                yield admin_pb2.WatchServersReply(removed=removed)
            if self.watch_error is not None:
                raise self.watch_error
            if self.watch_forever:
                await asyncio.Event().wait()
        finally:
            self.stream_finished.set()


class SteeredLocator:
    """A second service on the same server."""

    async def FindRegistry(
        self, request: locator_pb2.FindRegistryRequest, context: CallContext
    ) -> locator_pb2.FindRegistryReply:
        return locator_pb2.FindRegistryReply(instance_name="IceGrid", replica_name="Master")


# ------------------------------------------------------------------------ servers and clients


def serving(admin: Any, **options: Any) -> AbstractAsyncContextManager[Served]:
    """A served WireServer (wire_helpers.serving) with a locator besides `admin`."""
    return serving_admin(admin, others=[(LOCATOR, SteeredLocator())], **options)


@pytest.fixture
def admin() -> SteeredAdmin:
    return SteeredAdmin()


@pytest_asyncio.fixture
async def served(admin: SteeredAdmin) -> AsyncIterator[Served]:
    async with serving(admin) as running:
        yield running


@pytest_asyncio.fixture
async def channel(served: Served) -> AsyncIterator[WireChannel]:
    async with channel_to(served.endpoint) as opened:
        yield opened


@pytest.fixture
def stub(channel: WireChannel) -> Any:
    return Stub(channel, ADMIN)


@pytest.fixture
def refused_endpoint() -> Iterator[Endpoint]:
    """An endpoint nothing listens on: a port this test holds bound but never listening, so a
    connection is refused and no other process can take the port meanwhile."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield parse_endpoint(f"tcp -h 127.0.0.1 -p {held.getsockname()[1]}")


# -------------------------------------------------------------------------- frames, no I/O

STREAM_OF_FRAMES = [
    Frame(REPLY, 7, b"first item"),
    Frame(CALL, 8, encode_call(8, PING, b"\x0a\x06Master", 1.5)[HEAD:]),
    Frame(END, 7),
    Frame(ERROR, 4_000_000_000, b"\x08\x01"),
]
STREAM_BYTES = b"".join(encode_frame(f.kind, f.call_id, f.body) for f in STREAM_OF_FRAMES)


def test_frames_come_out_whole_wherever_the_bytes_are_split() -> None:
    for split in range(len(STREAM_BYTES) + 1):
        reader = FrameReader(1024)
        frames = reader.feed(STREAM_BYTES[:split]) + reader.feed(STREAM_BYTES[split:])
        assert frames == STREAM_OF_FRAMES, f"split at byte {split}"


def test_frames_come_out_whole_when_fed_one_byte_at_a_time() -> None:
    reader = FrameReader(1024)
    frames = [frame for byte in STREAM_BYTES for frame in reader.feed(bytes([byte]))]
    assert frames == STREAM_OF_FRAMES


def test_several_frames_in_one_chunk_all_come_out_in_order() -> None:
    assert FrameReader(-1).feed(STREAM_BYTES) == STREAM_OF_FRAMES


@pytest.mark.parametrize("chunk", [1, 7, 9, 64, 1000])
def test_an_oversized_frame_is_skipped_across_feeds_and_the_next_frame_is_whole(
    chunk: int,
) -> None:
    data = encode_frame(REPLY, 1, b"x" * 300) + encode_frame(REPLY, 2, b"small")
    reader = FrameReader(100)
    frames = []
    for start in range(0, len(data), chunk):
        frames += reader.feed(data[start : start + chunk])
    assert frames == [Frame(REPLY, 1, oversized=300), Frame(REPLY, 2, b"small")]


def test_a_body_at_the_limit_is_kept_and_no_limit_keeps_anything() -> None:
    at_limit = encode_frame(REPLY, 1, b"y" * 100)
    assert FrameReader(100).feed(at_limit) == [Frame(REPLY, 1, b"y" * 100)]
    big = encode_frame(REPLY, 2, b"z" * 100_000)
    assert FrameReader(-1).feed(big) == [Frame(REPLY, 2, b"z" * 100_000)]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b"\x00\x00\x00\x04\x03\x00\x00\x00\x01", r"bad frame header \(length 4, kind 3\)"),
        (b"\x00\x00\x00\x05\x09\x00\x00\x00\x01", r"bad frame header \(length 5, kind 9\)"),
        (b"\x00\x00\x00\x05\x00\x00\x00\x00\x01", r"bad frame header \(length 5, kind 0\)"),
    ],
    ids=["length-shorter-than-the-header", "unknown-kind", "kind-zero"],
)
def test_a_bad_frame_header_is_a_protocol_error(header: bytes, message: str) -> None:
    reader = FrameReader(-1)
    with pytest.raises(ProtocolError, match=message):
        reader.feed(header)


def test_a_call_carries_its_deadline_in_milliseconds_and_refuses_a_long_method_name() -> None:
    def deadline_ms(timeout: float | None) -> int:
        return int.from_bytes(encode_call(5, PING, b"", timeout)[HEAD : HEAD + 4], "big")

    assert deadline_ms(0.25) == 250
    assert deadline_ms(None) == 0  # none
    assert deadline_ms(0.0001) == 1  # never rounded down to none
    after_deadline = encode_call(5, PING, b"request", 0.25)[HEAD + 4 :]
    assert after_deadline == bytes([len(PING)]) + PING.encode() + b"request"
    with pytest.raises(ValueError, match="method name too long"):
        encode_call(5, "/" + "m" * 255, b"", None)


# ------------------------------------------------------------------------------ round trips


@pytest.mark.asyncio
async def test_a_unary_call_gets_its_reply_and_the_servicer_sees_the_callers_address(
    served: Served, stub: Any
) -> None:
    reply = await stub.RegistryPing(admin_pb2.RegistryPingRequest(name="Master"), timeout=WAIT)
    assert reply.registry.name == "Master"
    assert reply.registry.pid == 4242
    (peer,) = served.admin.peers
    assert peer.startswith("ipv4:127.0.0.1:")


@pytest.mark.asyncio
async def test_one_server_serves_several_services(channel: WireChannel) -> None:
    locator = Stub(channel, LOCATOR)
    reply = await locator.FindRegistry(locator_pb2.FindRegistryRequest(), timeout=WAIT)
    assert (reply.instance_name, reply.replica_name) == ("IceGrid", "Master")
    assert await ping(channel) == "Master"


@pytest.mark.asyncio
async def test_a_server_stream_delivers_its_items_then_ends(served: Served, stub: Any) -> None:
    served.admin.watch_items = 3
    replies = await collect(stub.WatchServers(admin_pb2.WatchServersRequest()))
    assert [reply.removed for reply in replies] == ["server-0", "server-1", "server-2"]
    await happens(served.admin.stream_finished, "the servicer's stream to finish")


@pytest.mark.asyncio
async def test_a_stream_longer_than_the_clients_backlog_arrives_whole_and_in_order(
    served: Served, stub: Any
) -> None:
    # 2000 items of 300 bytes come faster than they are taken: the client stops reading past
    # its high-water mark and reads again as the backlog drains.
    served.admin.watch_items, served.admin.watch_item_size = 2000, 300
    replies = await collect(stub.WatchServers(admin_pb2.WatchServersRequest()))
    items = [reply.removed for reply in replies]
    assert [item.rstrip("x") for item in items] == [f"server-{i}" for i in range(2000)]
    assert {len(item) for item in items} == {300}


@pytest.mark.asyncio
async def test_a_stream_that_fails_delivers_its_items_then_the_error(
    served: Served, stub: Any
) -> None:
    served.admin.watch_error = ServerNotFoundError("server `Jobs-0' was destroyed", name="Jobs-0")
    items = []
    with pytest.raises(ServerNotFoundError, match="server `Jobs-0' was destroyed") as caught:
        async with asyncio.timeout(WAIT):
            async for reply in stub.WatchServers(admin_pb2.WatchServersRequest()):
                items.append(reply.removed)
    assert items == ["server-0", "server-1"]
    assert caught.value.name == "Jobs-0"


def fields(error: ShoalError) -> dict[str, Any]:
    """What makes two errors the same for a caller: class, message, hint and own fields."""
    return {"class": type(error), **{k: v for k, v in vars(error).items() if k[0] != "_"}}


CROSSING = [
    ServerNotFoundError("no server `Jobs-9'", "see `shoal admin server list'", name="Jobs-9"),
    PermissionDeniedError("user `bob' may not administer this grid", "ask an administrator"),
    BusyError("the grid is being updated by alice", holder="alice"),
    DescriptorError([Problem("grid/default.xml", 12, "undefined variable `x'")]),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("error", CROSSING, ids=lambda e: type(e).__name__)
async def test_a_shoal_error_raised_by_a_servicer_arrives_as_the_same_error(
    served: Served, stub: Any, error: ShoalError
) -> None:
    served.admin.error = error
    with pytest.raises(ShoalError) as caught:
        await stub.RegistryPing(admin_pb2.RegistryPingRequest(), timeout=WAIT)
    assert fields(caught.value) == fields(error)


@pytest.mark.asyncio
async def test_a_non_shoal_exception_arrives_as_an_internal_error_and_is_logged(
    served: Served, stub: Any, caplog: pytest.LogCaptureFixture
) -> None:
    served.admin.error = ValueError("boom")
    with pytest.raises(RemoteError) as caught:
        await stub.RegistryPing(admin_pb2.RegistryPingRequest(), timeout=WAIT)
    assert str(caught.value) == f"internal error in {PING}: ValueError: boom"
    assert caught.value.status == "INTERNAL"
    assert "bug in Shoal" in caught.value.hint
    (record,) = [r for r in caplog.records if r.name == "shoal.rpc.wire"]
    assert record.exc_info is not None and record.getMessage() == f"{PING} failed"


@pytest.mark.asyncio
async def test_a_method_the_servicer_lacks_is_not_implemented(stub: Any) -> None:
    with pytest.raises(RemoteError, match=r"^/shoal\.v1\.Admin/NodeList is not implemented$"):
        await stub.NodeList(admin_pb2.NodeListRequest(), timeout=WAIT)
    with pytest.raises(RemoteError, match=r"^/shoal\.v1\.Admin/ServerOutput is not implemented$"):
        await collect(stub.ServerOutput(admin_pb2.ServerOutputRequest()))


@pytest.mark.asyncio
async def test_a_grpc_servicer_is_served_as_is_its_missing_methods_not_implemented() -> None:
    # The same servicer classes grpc.aio serves: the generated base answers what it lacks.
    async with serving(PingAdmin()) as served, channel_to(served.endpoint) as channel:
        stub = Stub(channel, ADMIN)
        assert await ping(channel, "Replica-1") == "Replica-1"
        replies = await collect(stub.ServerOutput(admin_pb2.ServerOutputRequest()))
        assert [reply.chunk.data for reply in replies] == [b"first\n", b"second\n"]
        with pytest.raises(RemoteError, match=r"^/shoal\.v1\.Admin/NodeList is not implemented$"):
            await stub.NodeList(admin_pb2.NodeListRequest(), timeout=WAIT)
    assert served.admin.calls == ["RegistryPing", "ServerOutput"]


@pytest.mark.asyncio
async def test_a_refusing_check_fails_the_call_without_running_the_handler(
    admin: SteeredAdmin,
) -> None:
    checked: list[str] = []

    def verify(method: str) -> None:
        checked.append(method)
        if method != PING:
            raise PermissionDeniedError("user `bob' may not administer this grid", "ask alice")

    async with (
        serving(admin, check=verify) as served,
        channel_to(served.endpoint) as channel,
    ):
        stub = Stub(channel, ADMIN)
        with pytest.raises(PermissionDeniedError, match="may not administer") as caught:
            await stub.Deploy(admin_pb2.DeployRequest(), timeout=WAIT)
        assert caught.value.hint == "ask alice"
        with pytest.raises(PermissionDeniedError):
            await collect(stub.WatchServers(admin_pb2.WatchServersRequest()))
        assert await ping(channel) == "Master"
    assert checked == ["/shoal.v1.Admin/Deploy", "/shoal.v1.Admin/WatchServers", PING]
    assert admin.calls == ["Master"]


@pytest.mark.asyncio
async def test_many_concurrent_calls_on_one_new_channel_each_get_their_own_reply(
    served: Served, channel: WireChannel
) -> None:
    served.admin.shuffle = True
    names = [f"caller-{index}" for index in range(200)]
    replies = await asyncio.gather(*(ping(channel, name) for name in names))
    assert replies == names
    assert sorted(served.admin.replied) == sorted(names)
    assert served.admin.replied != served.admin.calls  # they really were answered out of order


# ---------------------------------------------------------------------------------- limits


@pytest.mark.asyncio
async def test_a_request_over_the_clients_limit_is_not_sent(served: Served) -> None:
    async with channel_to(served.endpoint, max_message_bytes=8 * 1024) as channel:
        with pytest.raises(MessageTooLargeError) as caught:
            await Stub(channel, ADMIN).Deploy(
                admin_pb2.DeployRequest(descriptor_xml="z" * 9000), timeout=WAIT
            )
    message = str(caught.value)
    assert message.startswith(
        f"this process could not send a request to the registry at {served.endpoint} of 900"
    )
    assert "over the limit of 8 KB (Ice.MessageSizeMax)" in message
    assert caught.value.limit_kb == 8
    assert served.admin.calls == []


@pytest.mark.asyncio
async def test_a_request_over_the_servers_limit_is_refused_and_the_connection_keeps_working(
    admin: SteeredAdmin,
) -> None:
    async with (
        serving(admin, max_message_bytes=64 * 1024) as served,
        channel_to(served.endpoint, max_message_bytes=MB) as channel,
    ):
        stub = Stub(channel, ADMIN)
        with pytest.raises(MessageTooLargeError) as caught:
            await stub.Deploy(admin_pb2.DeployRequest(descriptor_xml="x" * 300_000), timeout=WAIT)
        assert str(caught.value).startswith("the registry refused a request of 300")
        assert caught.value.limit_kb == 64
        assert caught.value.hops == MESSAGE_SIZE_HOPS
        assert await ping(channel) == "Master"  # the rest of the big frame was skipped
    assert admin.calls == ["Master"]


@pytest.mark.asyncio
async def test_a_reply_over_the_servers_limit_fails_the_call_at_the_server(
    admin: SteeredAdmin,
) -> None:
    admin.reply_size = 2000
    async with (
        serving(admin, max_message_bytes=1024) as served,
        channel_to(served.endpoint, max_message_bytes=MB) as channel,
    ):
        with pytest.raises(MessageTooLargeError) as caught:
            await Stub(channel, ADMIN).Deploy(admin_pb2.DeployRequest(), timeout=WAIT)
        assert str(caught.value).startswith("the registry could not send its reply of 200")
        assert caught.value.limit_kb == 1
        assert await ping(channel) == "Master"


@pytest.mark.asyncio
async def test_a_reply_over_the_clients_limit_is_refused_and_the_next_call_works(
    served: Served,
) -> None:
    served.admin.reply_size = 200_000
    async with channel_to(served.endpoint, max_message_bytes=16 * 1024) as channel:
        stub = Stub(channel, ADMIN)
        with pytest.raises(MessageTooLargeError) as caught:
            await stub.Deploy(admin_pb2.DeployRequest(), timeout=WAIT)
        assert str(caught.value).startswith(
            f"this process refused a reply from the registry at {served.endpoint} of 200"
        )
        assert caught.value.limit_kb == 16
        served.admin.reply_size = 10
        reply = await stub.Deploy(admin_pb2.DeployRequest(), timeout=WAIT)
        assert reply.application == "x" * 10


@pytest.mark.asyncio
async def test_a_stream_item_over_the_clients_limit_fails_the_stream_and_cancels_it(
    served: Served,
) -> None:
    served.admin.watch_items, served.admin.watch_item_size = 1, 20_000
    served.admin.watch_forever = True
    async with channel_to(served.endpoint, max_message_bytes=16 * 1024) as channel:
        stream = Stub(channel, ADMIN).WatchServers(admin_pb2.WatchServersRequest())
        with pytest.raises(MessageTooLargeError, match="this process refused a reply"):
            await collect(stream)
        # The server would otherwise stream on for a caller that is gone.
        await happens(served.admin.stream_finished, "the server's stream to be cancelled")
        assert await ping(channel) == "Master"


# ------------------------------------------------------------------------------- deadlines


@pytest.mark.asyncio
async def test_a_call_past_its_deadline_times_out_naming_the_peer_and_its_handler_stops(
    served: Served, channel: WireChannel, stub: Any
) -> None:
    with pytest.raises(TimedOutError) as caught:
        await stub.ServerState(admin_pb2.ServerStateRequest(server_id="Jobs-0"), timeout=0.2)
    assert str(caught.value) == f"the registry at {served.endpoint} did not answer in time"
    await happens(served.admin.slow_finished, "the slow handler to be cancelled")
    assert await ping(channel) == "Master"


@pytest.mark.asyncio
async def test_a_stream_past_its_deadline_is_ended_by_the_server_with_timed_out(
    served: Served, stub: Any
) -> None:
    served.admin.watch_items, served.admin.watch_forever = 1, True
    items = []
    with pytest.raises(TimedOutError, match="WatchServers did not finish within the caller's"):
        async with asyncio.timeout(WAIT):  # the server's deadline ends it long before
            async for reply in stub.WatchServers(admin_pb2.WatchServersRequest(), timeout=0.2):
                items.append(reply.removed)
    assert items == ["server-0"]
    await happens(served.admin.stream_finished, "the server's stream to be cancelled")


# ---------------------------------------------------------------------------- cancellation


@pytest.mark.asyncio
async def test_closing_a_stream_cancels_it_at_the_server(
    served: Served, channel: WireChannel, stub: Any
) -> None:
    served.admin.watch_forever = True
    async with aclosing(stub.WatchServers(admin_pb2.WatchServersRequest())) as replies:
        first = await anext(replies)
    assert first.removed == "server-0"
    await happens(served.admin.stream_finished, "the server's stream to be cancelled")
    assert await ping(channel) == "Master"


@pytest.mark.asyncio
async def test_breaking_out_of_a_stream_cancels_it_at_the_server(served: Served, stub: Any) -> None:
    served.admin.watch_forever = True
    async for reply in stub.WatchServers(admin_pb2.WatchServersRequest()):
        assert reply.removed == "server-0"
        break
    # Nothing holds the stream any more: asyncio closes it, which sends CANCEL.
    await happens(served.admin.stream_finished, "the server's stream to be cancelled")


@pytest.mark.asyncio
async def test_a_caller_that_gives_up_cancels_the_handler(served: Served, stub: Any) -> None:
    call = asyncio.create_task(stub.ServerState(admin_pb2.ServerStateRequest(), timeout=WAIT))
    await happens(served.admin.slow_started, "the slow handler to start")
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    await happens(served.admin.slow_finished, "the slow handler to be cancelled")


@pytest.mark.asyncio
async def test_streams_left_with_items_unread_do_not_stall_the_connection(
    served: Served, channel: WireChannel, stub: Any
) -> None:
    # Each stream leaves 19 items and its END unread: far past the client's high-water mark
    # in all, which must not keep the connection from reading for good.
    served.admin.watch_items = 20
    async with asyncio.timeout(WAIT):  # a stalled connection would hang the next stream
        for _ in range(40):
            async with aclosing(stub.WatchServers(admin_pb2.WatchServersRequest())) as replies:
                await anext(replies)
    assert await ping(channel) == "Master"


@pytest.mark.asyncio
async def test_many_streams_ending_in_errors_do_not_stall_the_connection(
    served: Served, channel: WireChannel, stub: Any
) -> None:
    served.admin.watch_items = 0
    served.admin.watch_error = ServerNotFoundError("no server `Jobs-9'", name="Jobs-9")
    async with asyncio.timeout(WAIT):  # a stalled connection would hang the next stream
        for _ in range(600):
            with pytest.raises(ServerNotFoundError):
                await collect(stub.WatchServers(admin_pb2.WatchServersRequest()))
    assert await ping(channel) == "Master"


# --------------------------------------------------------------------- connection failures


@pytest.mark.asyncio
async def test_a_server_that_is_not_running_is_unreachable_with_its_address_and_a_hint(
    refused_endpoint: Endpoint,
) -> None:
    async with channel_to(refused_endpoint) as channel:
        with pytest.raises(UnreachableError) as caught:
            await ping(channel)
        with pytest.raises(UnreachableError):
            await collect(Stub(channel, ADMIN).WatchServers(admin_pb2.WatchServersRequest()))
    assert str(caught.value).startswith(f"cannot reach the registry at {refused_endpoint}: ")
    assert caught.value.address == str(refused_endpoint)
    assert "shoal admin start" in caught.value.hint


@pytest.mark.asyncio
async def test_a_server_stopped_mid_stream_loses_the_stream_and_a_restart_is_reconnected(
    admin: SteeredAdmin,
) -> None:
    admin.watch_items, admin.watch_forever = 1, True
    async with serving(admin) as served, channel_to(served.endpoint) as channel:
        endpoint = served.endpoint
        replies = Stub(channel, ADMIN).WatchServers(admin_pb2.WatchServersRequest())
        async with aclosing(replies):
            assert (await anext(replies)).removed == "server-0"
            await served.server.stop(0)
            assert admin.stream_finished.is_set()
            with pytest.raises(UnreachableError) as caught:
                await anext(replies)
        assert str(caught.value) == f"lost the connection to the registry at {endpoint}"
        assert "shoal admin start" in caught.value.hint
        async with serving(SteeredAdmin(), endpoints=str(endpoint)) as restarted:
            assert restarted.endpoint == endpoint
            assert await ping(channel, "again") == "again"
            assert restarted.admin.calls == ["again"]


@pytest.mark.asyncio
async def test_calls_in_flight_when_the_connection_drops_fail_as_lost(
    served: Served, stub: Any
) -> None:
    call = asyncio.create_task(stub.ServerState(admin_pb2.ServerStateRequest(), timeout=WAIT))
    await happens(served.admin.slow_started, "the slow handler to start")
    await served.server.stop(0)
    with pytest.raises(UnreachableError, match="lost the connection to the registry at"):
        await call


# ------------------------------------------------------------------------------ bad clients

HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
NOISE = b"\x16\x03\x01" + random.Random(4061).randbytes(61)  # a start like TLS's, then noise


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("sent", "logged"),
    [
        (HTTP2_PREFACE, "a gRPC (HTTP/2) client at ipv4:127.0.0.1:"),
        (NOISE, "a client at ipv4:127.0.0.1:"),
        (MAGIC + b"\x00\x00\x00\x02\x01\x00\x00\x00\x01", "bad frame header"),
        (MAGIC + encode_frame(REPLY, 1, b"unasked"), "unexpected REPLY frame"),
        (MAGIC + encode_call(1, "/shoal.v1.Admin/ServerState", b"", None) * 2, "call id 1 reused"),
    ],
    ids=["http2-preface", "noise", "bad-frame-header", "reply-from-a-client", "call-id-reused"],
)
async def test_a_client_that_breaks_the_protocol_is_dropped_and_others_are_still_served(
    served: Served,
    channel: WireChannel,
    caplog: pytest.LogCaptureFixture,
    sent: bytes,
    logged: str,
) -> None:
    async with raw_client(served.endpoint) as raw:
        raw.send(sent)
        assert await raw.rest() == b""
    assert logged in caplog.text
    assert await ping(channel) == "Master"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            encode_call(1, "/shoal.v1.Admin/Deploy", b"\x0a\xff", None),
            InvalidArgumentError,
            "a malformed request for /shoal.v1.Admin/Deploy",
        ),
        (
            encode_call(1, "/shoal.v1.Admin/Undeploy", b"", None),
            RemoteError,
            "the registry does not implement /shoal.v1.Admin/Undeploy",
        ),
        (
            encode_frame(CALL, 1, b"\x00\x00"),
            InvalidArgumentError,
            "a CALL frame too short for its header",
        ),
    ],
    ids=["malformed-request", "unknown-method", "short-call-header"],
)
async def test_a_bad_call_fails_alone_and_the_connection_goes_on(
    served: Served, call: bytes, error: type[ShoalError], message: str
) -> None:
    async with raw_client(served.endpoint) as raw:
        raw.send(MAGIC + call)
        failed = await raw.frame()
        assert (failed.kind, failed.call_id) == (ERROR, 1)
        received = error_from_detail(ErrorDetail.FromString(failed.body))
        assert type(received) is error
        assert str(received) == message
        raw.send(
            encode_call(2, PING, admin_pb2.RegistryPingRequest(name="M").SerializeToString(), None)
        )
        answered = await raw.frame()
        assert (answered.kind, answered.call_id) == (REPLY, 2)
        assert admin_pb2.RegistryPingReply.FromString(answered.body).registry.name == "M"
    assert served.admin.calls == ["M"]


@pytest.mark.asyncio
async def test_a_client_that_leaves_mid_call_does_not_leave_its_handler_running(
    served: Served,
) -> None:
    async with raw_client(served.endpoint) as raw:
        raw.send(MAGIC + encode_call(1, "/shoal.v1.Admin/ServerState", b"", None))
        await happens(served.admin.slow_started, "the slow handler to start")
    await happens(served.admin.slow_finished, "the slow handler to be cancelled")


# ------------------------------------------------------------------------------ stop(grace)


@pytest.mark.asyncio
async def test_stop_lets_a_call_in_flight_finish_within_grace_and_delivers_its_reply(
    served: Served, stub: Any
) -> None:
    call = asyncio.create_task(
        stub.ServerState(admin_pb2.ServerStateRequest(server_id="Jobs-0"), timeout=WAIT)
    )
    await happens(served.admin.slow_started, "the slow handler to start")
    stopping = asyncio.create_task(served.server.stop(grace=WAIT))
    await asyncio.sleep(0)  # stop() runs up to its wait for the call in flight
    async with channel_to(served.endpoint) as latecomer:
        with pytest.raises(UnreachableError, match="cannot reach"):
            await ping(latecomer)  # no longer listening, while the call in flight goes on
    assert not stopping.done()
    served.admin.release.set()
    reply = await call
    await asyncio.wait_for(stopping, WAIT)
    assert reply.status.server_id == "Jobs-0"


@pytest.mark.asyncio
async def test_stop_cancels_a_call_still_running_after_grace(served: Served, stub: Any) -> None:
    call = asyncio.create_task(stub.ServerState(admin_pb2.ServerStateRequest(), timeout=WAIT))
    await happens(served.admin.slow_started, "the slow handler to start")
    await served.server.stop(grace=0.2)
    assert served.admin.slow_finished.is_set()
    with pytest.raises(UnreachableError, match="lost the connection"):
        await call


# -------------------------------------------------------------------------------------- TLS


@pytest.mark.asyncio
async def test_tls_round_trip_of_a_call_and_a_stream(
    admin: SteeredAdmin, tls_files: TlsConfig
) -> None:
    async with (
        serving(admin, endpoints="ssl -h 127.0.0.1 -p 0", tls=tls_files) as served,
        channel_to(served.endpoint, tls=tls_files) as channel,
    ):
        assert served.endpoint.transport == "ssl"
        assert await ping(channel) == "Master"
        stub = Stub(channel, ADMIN)
        replies = await collect(stub.WatchServers(admin_pb2.WatchServersRequest()))
        assert [reply.removed for reply in replies] == ["server-0", "server-1"]


@pytest.mark.asyncio
async def test_a_plain_client_of_a_tls_endpoint_fails_rather_than_hangs(
    admin: SteeredAdmin, tls_files: TlsConfig
) -> None:
    async with serving(admin, endpoints="ssl -h 127.0.0.1 -p 0", tls=tls_files) as served:
        plain = replace(served.endpoint, transport="tcp")
        async with channel_to(plain) as channel:
            with pytest.raises(UnreachableError):
                await ping(channel)
    assert admin.calls == []


@pytest.mark.asyncio
async def test_a_tls_client_of_a_plain_endpoint_cannot_reach_it(
    served: Served, tls_files: TlsConfig
) -> None:
    secure = replace(served.endpoint, transport="ssl")
    async with channel_to(secure, tls=tls_files) as channel:
        with pytest.raises(UnreachableError, match=f"cannot reach the registry at {secure}"):
            await ping(channel)
    assert served.admin.calls == []


@pytest.mark.asyncio
async def test_a_tls_server_refuses_a_client_without_a_certificate(
    admin: SteeredAdmin, tls_files: TlsConfig
) -> None:
    async with (
        serving(admin, endpoints="ssl -h 127.0.0.1 -p 0", tls=tls_files) as served,
        channel_to(served.endpoint, tls=TlsConfig(ca_file=tls_files.ca_file)) as channel,
    ):
        with pytest.raises(UnreachableError):
            await ping(channel)
    assert admin.calls == []


# ------------------------------------------------------------------------- BlockingChannel


@pytest.mark.asyncio
async def test_a_blocking_channel_makes_unary_calls_on_one_connection(served: Served) -> None:
    def two_calls() -> list[str]:
        with BlockingChannel(served.endpoint, max_message_bytes=MB) as channel:
            return [
                channel.unary(
                    PING,
                    admin_pb2.RegistryPingRequest(name=name),
                    admin_pb2.RegistryPingReply,
                    deadline=WAIT,
                ).registry.name
                for name in ("first", "second")
            ]

    assert await asyncio.to_thread(two_calls) == ["first", "second"]
    first, second = served.admin.peers
    assert first == second  # the same connection


@pytest.mark.asyncio
async def test_a_blocking_channel_gets_the_servicers_error(served: Served) -> None:
    error = ServerNotFoundError(
        "no server `Jobs-9'", "see `shoal admin server list'", name="Jobs-9"
    )
    served.admin.error = error
    with pytest.raises(ServerNotFoundError) as caught:
        await asyncio.to_thread(blocking_ping, served.endpoint)
    assert fields(caught.value) == fields(error)


@pytest.mark.asyncio
async def test_a_blocking_channel_refuses_an_oversized_reply_and_the_next_call_works(
    served: Served,
) -> None:
    def deploy_twice() -> tuple[MessageTooLargeError, str]:
        with BlockingChannel(served.endpoint, max_message_bytes=16 * 1024) as channel:
            request, reply_type = admin_pb2.DeployRequest(), admin_pb2.DeployReply
            with pytest.raises(MessageTooLargeError) as caught:
                channel.unary("/shoal.v1.Admin/Deploy", request, reply_type, deadline=WAIT)
            served.admin.reply_size = 10
            reply = channel.unary("/shoal.v1.Admin/Deploy", request, reply_type, deadline=WAIT)
            return caught.value, reply.application

    served.admin.reply_size = 100_000
    refused, application = await asyncio.to_thread(deploy_twice)
    assert str(refused).startswith("this process refused a reply from the server at")
    assert application == "x" * 10


def test_a_blocking_channel_to_nothing_is_unreachable(refused_endpoint: Endpoint) -> None:
    with pytest.raises(UnreachableError) as caught:
        blocking_ping(refused_endpoint)
    assert str(caught.value).startswith(f"cannot reach the registry at {refused_endpoint}: ")
    assert "shoal admin start" in caught.value.hint


@pytest.mark.asyncio
async def test_a_blocking_call_past_its_deadline_times_out_and_its_handler_stops(
    served: Served,
) -> None:
    def slow_call() -> None:
        with BlockingChannel(served.endpoint, max_message_bytes=MB) as channel:
            channel.unary(
                "/shoal.v1.Admin/ServerState",
                admin_pb2.ServerStateRequest(),
                admin_pb2.ServerStateReply,
                deadline=0.2,
            )

    with pytest.raises(TimedOutError, match=f"the server at {served.endpoint} did not answer"):
        await asyncio.to_thread(slow_call)
    await happens(served.admin.slow_finished, "the slow handler to be cancelled")


def test_a_blocking_channel_speaks_plain_tcp_only() -> None:
    endpoint = parse_endpoint("ssl -h 127.0.0.1 -p 4064")
    with pytest.raises(ConfigError, match="a blocking channel speaks plain tcp"):
        blocking_ping(endpoint)


# ------------------------------------------------------------------------------ bind, start


@pytest.mark.asyncio
async def test_bind_gives_the_real_ports_before_start_serves_them(admin: SteeredAdmin) -> None:
    server = WireServer(max_message_bytes=MB, name="the registry")
    server.add_service(ADMIN, admin)
    try:
        first, second = await server.bind("tcp -h 127.0.0.1 -p 0:tcp -h 127.0.0.1 -p 0")
        assert 0 not in (first.port, second.port) and first.port != second.port
        await server.start()
        for endpoint in (first, second):
            async with channel_to(endpoint) as channel:
                assert await ping(channel) == "Master"
    finally:
        await server.stop(0)


@pytest.mark.asyncio
async def test_a_second_server_on_a_port_in_use_cannot_listen(served: Served) -> None:
    second = WireServer(max_message_bytes=MB)
    with pytest.raises(ConfigError, match=f"cannot listen on `{served.endpoint}'") as caught:
        await second.bind([served.endpoint])
    assert f"port {served.endpoint.port}" in caught.value.hint


@pytest.mark.asyncio
async def test_two_servers_bound_to_one_port_before_starting_cannot_both_listen(
    admin: SteeredAdmin,
) -> None:
    first, second = WireServer(max_message_bytes=MB), WireServer(max_message_bytes=MB)
    first.add_service(ADMIN, admin)
    try:
        (endpoint,) = await first.bind("tcp -h 127.0.0.1 -p 0")
        await second.bind([endpoint])  # Linux lets both bind (SO_REUSEADDR) while none listens
        await first.start()
        with pytest.raises(ConfigError, match=f"cannot listen on `{endpoint}'") as caught:
            await second.start()
        assert f"port {endpoint.port}" in caught.value.hint
        async with channel_to(endpoint) as channel:
            assert await ping(channel) == "Master"
    finally:
        await second.stop(0)
        await first.stop(0)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("endpoints", "message"),
    [
        ("udp -h 127.0.0.1 -p 0", "transport `udp' is not supported"),
        ("ssl -h 127.0.0.1 -p 0", "needs TLS settings"),
        ("", "no endpoint to listen on"),
    ],
)
async def test_bad_server_endpoints_are_config_errors(endpoints: str, message: str) -> None:
    server = WireServer(max_message_bytes=MB)
    with pytest.raises(ConfigError, match=message):
        await server.bind(endpoints)
    await server.stop(0)
