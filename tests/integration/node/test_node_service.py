"""The Node service over Shoal's wire protocol, called as the registry calls it: load, start,
stop, signal, output (tail and follow), destroy, ping, load averages, shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from shoal.descriptor.model import Activation
from shoal.errors import BadSignalError, ServerDisabledError, ServerNotFoundError
from shoal.node.service import NodeService
from shoal.rpc import common_pb2, internal_pb2
from shoal.rpc.convert import server_to_pb
from shoal.rpc.wire import Stub, WireChannel, WireServer

from .conftest import NodeParts, clean_up, make_parts, output_has, server, until

Outcome = internal_pb2.LoadOutcome
NODE_SERVICE = internal_pb2.DESCRIPTOR.services_by_name["Node"]


@dataclass
class Served:
    parts: NodeParts
    service: NodeService
    stub: Any
    shutdowns: list[bool]


@pytest_asyncio.fixture
async def node(tmp_path: Path) -> AsyncIterator[Served]:
    parts = make_parts(tmp_path)
    shutdowns: list[bool] = []
    service = parts.service()
    service._on_shutdown = lambda: shutdowns.append(True)
    wire_server = WireServer(max_message_bytes=1 << 24, name="node node1")
    wire_server.add_service(NODE_SERVICE, service)
    bound = await wire_server.listen("tcp -h 127.0.0.1 -p 0")
    channel = WireChannel(bound[0], max_message_bytes=1 << 24)
    try:
        yield Served(parts, service, Stub(channel, NODE_SERVICE), shutdowns)
    finally:
        await channel.close()
        await wire_server.stop(None)
        await clean_up(parts, service)


def load_request(*servers: Any, complete: bool = True, revision: int = 1) -> Any:
    return internal_pb2.LoadServersRequest(
        revision=revision, servers=[server_to_pb(s) for s in servers], complete=complete
    )


@pytest.mark.asyncio
async def test_load_reports_each_outcome_and_unchanged_keeps_the_pid(node: Served) -> None:
    always = server("A-1", activation=Activation.ALWAYS)
    manual = server("M-1")
    reply = await node.stub.LoadServers(load_request(always, manual))
    assert [(o.server_id, o.result) for o in reply.outcomes] == [
        ("A-1", Outcome.ADDED),
        ("M-1", Outcome.ADDED),
    ]
    supervisor = node.service.servers["A-1"]
    await until(lambda: supervisor.status().state == common_pb2.ACTIVE, "A-1 active")
    pid = supervisor.status().pid

    reply = await node.stub.LoadServers(load_request(always, manual, revision=2))
    assert [o.result for o in reply.outcomes] == [Outcome.UNCHANGED, Outcome.UNCHANGED]
    assert supervisor.status().pid == pid
    assert reply.outcomes[0].status.revision == 2

    changed_manual = server("M-1", "--show", "pid")
    broken = server("B-1", exe="", node="node1")
    reply = await node.stub.LoadServers(load_request(always, changed_manual, broken))
    results = {o.server_id: o for o in reply.outcomes}
    assert results["M-1"].result == Outcome.UPDATED
    assert results["B-1"].result == Outcome.ADDED  # a manual server: nothing runs yet

    reply = await node.stub.LoadServers(load_request(changed_manual))
    assert sorted(reply.destroyed) == ["A-1", "B-1"]
    assert set(node.service.servers) == {"M-1"}
    assert pid not in node.parts.activator.running


@pytest.mark.asyncio
async def test_a_server_for_another_node_fails_to_load(node: Served) -> None:
    reply = await node.stub.LoadServers(load_request(server("X-1", node="node2")))
    outcome = reply.outcomes[0]
    assert outcome.result == Outcome.FAILED
    assert "node2" in outcome.error.message
    assert "X-1" not in node.service.servers


@pytest.mark.asyncio
async def test_start_stop_signal_and_errors(node: Served) -> None:
    await node.stub.LoadServers(load_request(server("M-1")))
    reply = await node.stub.StartServer(internal_pb2.StartServerRequest(server_id="M-1"))
    assert reply.status.state == common_pb2.ACTIVE
    await output_has(node.parts.root / "log" / "M-1.out", "ready")
    with pytest.raises(BadSignalError):
        await node.stub.SignalServer(internal_pb2.SignalServerRequest(server_id="M-1", signal="X"))
    await node.stub.SignalServer(internal_pb2.SignalServerRequest(server_id="M-1", signal="HUP"))
    await until(lambda: not node.service.servers["M-1"].running, "M-1 ended by SIGHUP")

    await node.stub.StartServer(internal_pb2.StartServerRequest(server_id="M-1"))
    reply = await node.stub.StopServer(internal_pb2.StopServerRequest(server_id="M-1"))
    assert reply.status.state == common_pb2.INACTIVE
    assert reply.status.last_exit.signal == "SIGTERM"

    reply = await node.stub.DisableServer(internal_pb2.DisableServerRequest(server_id="M-1"))
    assert not reply.status.enabled
    # SERVER_DISABLED in the contract (gRPC's FAILED_PRECONDITION), naming the server.
    with pytest.raises(ServerDisabledError) as raised:
        await node.stub.StartServer(internal_pb2.StartServerRequest(server_id="M-1"))
    assert raised.value.server_id == "M-1"
    reply = await node.stub.EnableServer(internal_pb2.EnableServerRequest(server_id="M-1"))
    assert reply.status.enabled

    with pytest.raises(ServerNotFoundError):
        await node.stub.StartServer(internal_pb2.StartServerRequest(server_id="Nope"))


@pytest.mark.asyncio
async def test_output_tail_then_follow(node: Served) -> None:
    await node.stub.LoadServers(load_request(server("M-1", "--show", "pid", "--show", "cwd")))
    await node.stub.StartServer(internal_pb2.StartServerRequest(server_id="M-1"))
    await output_has(node.parts.root / "log" / "M-1.out", "ready")

    replies = node.stub.Output(
        internal_pb2.OutputRequest(server_id="M-1", tail_lines=2, stream=common_pb2.STDOUT)
    )
    text = b"".join([r.chunk.data async for r in replies]).decode()
    assert text.startswith("cwd=") and text.endswith("ready\n")

    follow = node.stub.Output(
        internal_pb2.OutputRequest(server_id="M-1", tail_lines=1, follow=True)
    )
    stream = follow.__aiter__()
    assert (await anext(stream)).chunk.data == b"ready\n"
    # The next process of the server appends to the same log: the follower sees it.
    await node.stub.StopServer(internal_pb2.StopServerRequest(server_id="M-1"))
    await node.stub.StartServer(internal_pb2.StartServerRequest(server_id="M-1"))
    seen = b""
    while b"ready" not in seen:
        seen += (await anext(stream)).chunk.data
    assert b"pid=" in seen
    await follow.aclose()


@pytest.mark.asyncio
async def test_ping_load_and_shutdown(node: Served) -> None:
    ping = await node.stub.Ping(internal_pb2.PingRequest())
    assert ping.node == "node1" and ping.pid > 0
    load = await node.stub.GetLoad(internal_pb2.GetLoadRequest())
    assert load.load.avg1 >= 0
    await node.stub.LoadServers(load_request(server("A-1", activation=Activation.ALWAYS)))
    supervisor = node.service.servers["A-1"]
    await until(lambda: supervisor.status().state == common_pb2.ACTIVE, "A-1 active")
    await node.stub.Shutdown(internal_pb2.ShutdownRequest(stop_servers=True))
    assert node.shutdowns == [True]
    assert supervisor.status().state == common_pb2.INACTIVE


@pytest.mark.asyncio
async def test_servers_the_registry_lists_as_disabled_are_loaded_disabled(node: Served) -> None:
    always = server("A-1", activation=Activation.ALWAYS)
    request = load_request(always)
    request.disabled_server_ids.append("A-1")
    reply = await node.stub.LoadServers(request)
    assert reply.outcomes[0].result == Outcome.ADDED
    assert not reply.outcomes[0].status.enabled
    assert reply.outcomes[0].status.disabled_by == common_pb2.ServerStatus.USER
    assert not node.service.servers["A-1"].running
    reply = await node.stub.LoadServers(load_request(always))  # no longer listed: enabled
    assert reply.outcomes[0].status.enabled
    supervisor = node.service.servers["A-1"]
    await until(lambda: supervisor.status().state == common_pb2.ACTIVE, "A-1 started")
