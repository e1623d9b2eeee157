"""ShoalErrors cross a real gRPC call and arrive as the same class, message, hint and fields."""

from __future__ import annotations

import logging
from typing import Any

import grpc
import grpc.aio
import pytest
from rpc_helpers import ShoalTestError, serve

from shoal.errors import (
    AdapterNotFoundError,
    AlreadyExistsError,
    ApplicationNotFoundError,
    BadSignalError,
    BusyError,
    DescriptorError,
    InvalidArgumentError,
    MessageTooLargeError,
    NodeActiveError,
    NodeNotFoundError,
    NodeUnreachableError,
    ObjectNotFoundError,
    PermissionDeniedError,
    Problem,
    RemoteError,
    RevisionConflictError,
    ServerDisabledError,
    ServerNotFoundError,
    SessionExpiredError,
    ShoalError,
    TimedOutError,
    UnreachableError,
)
from shoal.rpc import admin_pb2, admin_pb2_grpc
from shoal.rpc.channels import make_channel
from shoal.rpc.common_pb2 import ErrorDetail
from shoal.rpc.errors import (
    ERROR_DETAIL_KEY,
    Peer,
    error_detail,
    error_from_detail,
    error_from_rpc,
    status_of,
    translate_errors,
)

MB = 1024 * 1024

CROSSING = [
    ServerNotFoundError("no server `Jobs-9'", "see `shoal admin server list'", name="Jobs-9"),
    NodeNotFoundError("no node `node9'", name="node9"),
    ApplicationNotFoundError("no application `OMERO'", name="OMERO"),
    AdapterNotFoundError("no adapter `Hello-0.Hello'", name="Hello-0.Hello"),
    ObjectNotFoundError("no object `greeter'", name="greeter"),
    NodeActiveError(
        "node `node1' is already active on host b.example",
        "stop the other node or rename this one (IceGrid.Node.Name)",
        node="node1",
        holder_host="b.example",
    ),
    NodeUnreachableError("cannot reach node `node2'", node="node2", address="tcp -h h -p 1"),
    DescriptorError(
        [Problem("grid/default.xml", 12, "undefined variable `x'"), Problem("t.xml", 3, "bad")]
    ),
    ServerDisabledError("server `Processor-0' is disabled", server_id="Processor-0"),
    BadSignalError("unknown signal `SIGFOO'", "use a name like SIGHUP or 1-63", signal="SIGFOO"),
    PermissionDeniedError("user `bob' may not administer this grid"),
    MessageTooLargeError("too large", "raise it", limit_kb=1024, hops=("client", "server")),
    AlreadyExistsError("application `OMERO' exists", kind="application", name="OMERO"),
    AlreadyExistsError("server `Jobs-0' exists", kind="server", name="Jobs-0"),
    BusyError("the grid is being updated by alice", holder="alice"),
    RemoteError("internal error in X", "a bug", status="INTERNAL"),
    InvalidArgumentError("revision must be positive"),
    TimedOutError("the server activation timed out", "look at var/log/Jobs-0.err"),
    SessionExpiredError("session abc expired", "the node registers again"),
    ShoalError("something Shoal knows about", "do this"),
]


def fields(error: ShoalError) -> dict[str, Any]:
    """What makes two errors the same for a caller: class, message, hint and own fields."""
    found = {k: v for k, v in vars(error).items() if not k.startswith("_")}
    return {"class": type(error), **found}


async def call_raising(error: BaseException, *, stream: bool = False) -> ShoalError:
    async with serve() as served:
        served.servicer.error = error
        (endpoint,) = served.endpoints
        channel = make_channel(endpoint, max_message_bytes=MB)
        stub = admin_pb2_grpc.AdminStub(channel)
        try:
            with translate_errors(Peer.registry(str(endpoint))):
                if stream:
                    chunks = []
                    async for reply in stub.ServerOutput(admin_pb2.ServerOutputRequest()):
                        chunks.append(reply.chunk.data)
                    raise AssertionError(f"the stream ended without an error after {chunks}")
                await stub.RegistryPing(admin_pb2.RegistryPingRequest())
        except ShoalError as received:
            return received
        finally:
            await channel.close()
    raise AssertionError("the call did not fail")


@pytest.mark.asyncio
@pytest.mark.parametrize("error", CROSSING, ids=lambda e: type(e).__name__)
async def test_an_error_raised_in_a_servicer_arrives_as_the_same_error(error: ShoalError) -> None:
    received = await call_raising(error)
    assert fields(received) == fields(error)
    assert received.__cause__ is not None  # the gRPC error stays reachable for debugging


@pytest.mark.asyncio
async def test_an_error_in_the_middle_of_a_stream_arrives_after_the_chunks_before_it() -> None:
    error = ServerNotFoundError("server `Jobs-0' was destroyed", name="Jobs-0")
    async with serve() as served:
        served.servicer.error = error
        (endpoint,) = served.endpoints
        channel = make_channel(endpoint, max_message_bytes=MB)
        chunks = []
        stream = admin_pb2_grpc.AdminStub(channel).ServerOutput(admin_pb2.ServerOutputRequest())
        with pytest.raises(ServerNotFoundError) as caught, translate_errors():
            async for reply in stream:
                chunks.append(reply.chunk.data)
        await channel.close()
    assert chunks == [b"first\n", b"second\n"]
    assert fields(caught.value) == fields(error)


@pytest.mark.asyncio
async def test_an_unlisted_subclass_travels_as_its_nearest_listed_ancestor() -> None:
    received = await call_raising(ShoalTestError("a test error", "a test hint"))
    assert type(received) is ShoalError
    assert (received.message, received.hint) == ("a test error", "a test hint")
    conflict = await call_raising(RevisionConflictError("revision 3 is not current"))
    assert type(conflict) is ShoalError
    assert conflict.message == "revision 3 is not current"


@pytest.mark.asyncio
async def test_an_unexpected_exception_is_an_internal_error_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="shoal.rpc"):
        received = await call_raising(KeyError("server-id"))
    assert isinstance(received, RemoteError)
    assert received.status == "INTERNAL"
    assert received.message == (
        "internal error in /shoal.v1.Admin/RegistryPing: KeyError: 'server-id'"
    )
    assert "bug" in received.hint
    (record,) = caplog.records
    assert record.exc_info is not None and record.exc_info[0] is KeyError


@pytest.mark.asyncio
async def test_a_call_the_server_does_not_implement_says_so() -> None:
    async with serve() as served:
        (endpoint,) = served.endpoints
        channel = make_channel(endpoint, max_message_bytes=MB)
        with pytest.raises(RemoteError) as caught, translate_errors(Peer.registry(str(endpoint))):
            await admin_pb2_grpc.AdminStub(channel).NodeList(admin_pb2.NodeListRequest())
        await channel.close()
    assert caught.value.status == "UNIMPLEMENTED"
    assert "does not implement this call" in caught.value.message
    assert "/shoal.v1.Admin/NodeList is not implemented" in caught.value.message


@pytest.mark.asyncio
async def test_a_descriptor_error_with_thousands_of_problems_is_cut_to_fit_the_trailer() -> None:
    problems = [Problem("grid/big.xml", line, f"problem number {line}") for line in range(5000)]
    received = await call_raising(DescriptorError(problems))
    assert isinstance(received, DescriptorError)
    kept = received.problems
    assert 10 < len(kept) < 5000
    assert kept[:-1] == tuple(problems[: len(kept) - 1])
    assert kept[-1].message == f"... and {5000 - len(kept) + 1} more"


def test_every_code_in_the_contract_has_a_class_and_a_status() -> None:
    for name, number in ErrorDetail.Code.items():
        error = error_from_detail(ErrorDetail(code=number, message=f"m {name}", hint="h"))
        assert (error.message, error.hint) == (f"m {name}", "h"), name
        assert error_detail(error).code == number, name
        assert isinstance(status_of(number), grpc.StatusCode)


def test_a_code_from_a_newer_peer_keeps_its_message() -> None:
    error = error_from_detail(ErrorDetail(code=999, message="new", hint="newer hint"))  # type: ignore[arg-type]
    assert type(error) is ShoalError
    assert (error.message, error.hint) == ("new", "newer hint")


def rpc_error(code: grpc.StatusCode, details: str, trailer: bytes | None = None) -> Any:
    metadata = grpc.aio.Metadata()
    if trailer is not None:
        metadata.add(ERROR_DETAIL_KEY, trailer)
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), metadata, details=details)


@pytest.mark.parametrize(
    ("code", "details", "cls", "message"),
    [
        (
            grpc.StatusCode.DEADLINE_EXCEEDED,
            "Deadline Exceeded",
            TimedOutError,
            "node node1 at tcp -h h -p 7 did not answer in time",
        ),
        (
            grpc.StatusCode.UNAUTHENTICATED,
            "no credentials",
            PermissionDeniedError,
            "node node1 at tcp -h h -p 7 refused access: no credentials",
        ),
        (
            grpc.StatusCode.CANCELLED,
            "Cancelled",
            RemoteError,
            "the call to node node1 at tcp -h h -p 7 was cancelled",
        ),
        (
            grpc.StatusCode.DATA_LOSS,
            "oops",
            RemoteError,
            "node node1 at tcp -h h -p 7 failed: DATA_LOSS: oops",
        ),
        (
            grpc.StatusCode.UNAVAILABLE,
            "",
            UnreachableError,
            "cannot reach node node1 at tcp -h h -p 7",
        ),
        (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "Received message larger than max",
            MessageTooLargeError,
            "a message to or from node node1 at tcp -h h -p 7 is too large: over the size limit "
            "(Ice.MessageSizeMax)",
        ),
    ],
)
def test_bare_statuses_name_the_peer(
    code: grpc.StatusCode, details: str, cls: type[ShoalError], message: str
) -> None:
    error = error_from_rpc(rpc_error(code, details), Peer.node("node1", "tcp -h h -p 7"))
    assert type(error) is cls
    assert error.message == message


def test_an_unreachable_node_gets_the_node_start_hint() -> None:
    error = error_from_rpc(
        rpc_error(grpc.StatusCode.UNAVAILABLE, "failed to connect"),
        Peer.node("node1", "tcp -h h -p 7"),
    )
    assert isinstance(error, UnreachableError)
    assert "shoal node node1 start" in error.hint


def test_a_garbled_trailer_falls_back_to_the_status() -> None:
    error = error_from_rpc(rpc_error(grpc.StatusCode.NOT_FOUND, "gone", b"\xff\xff\xff"))
    assert isinstance(error, RemoteError)
    assert error.message == "the server failed: NOT_FOUND: gone"
