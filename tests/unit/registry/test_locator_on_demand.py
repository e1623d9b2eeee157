"""The Locator servicer's lookups with a stand-in node: on-demand activation and replica groups.

Scenario: `Lazy` (on-demand) on node1 is not running; the first FindAdapterById starts it
through its node and answers with the endpoints it registered; three lookups at once share one
start. A disabled or manual server is not started and the error says why; a node without a
session is NODE_UNREACHABLE; a start past the activation timeout is TIMED_OUT naming both.
A replica group answers its live members by policy, starts on-demand members when none is live,
and its `<object>` resolves through it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from shoal.descriptor.model import (
    Activation,
    Adapter,
    Application,
    ApplicationDescriptor,
    LoadBalancingType,
    Node,
    ObjectDescriptor,
    ReplicaGroup,
    ServerDescription,
)
from shoal.errors import AdapterNotFoundError, NodeUnreachableError, TimedOutError
from shoal.registry.database import StoredApplication, StoredServer
from shoal.registry.locator import LocatorServicer
from shoal.registry.nodes import NodeSession
from shoal.registry.state import DeployedApplication, RegistryState, ServerEntry
from shoal.rpc import common_pb2, locator_pb2

WAIT = 10.0


@dataclass
class FakeLink:
    """Node.StartServer: counts calls; waits for `release` when set; registers the adapters."""

    state: RegistryState
    release: asyncio.Event | None = None
    fail: Exception | None = None
    started: list[str] = field(default_factory=list)
    entered: asyncio.Event = field(default_factory=asyncio.Event)

    async def start_server(self, server_id: str, deadline: float) -> common_pb2.ServerStatus:
        self.started.append(server_id)
        self.entered.set()
        if self.release is not None:
            await self.release.wait()
        if self.fail is not None:
            raise self.fail
        entry = self.state.servers[server_id]
        port = 5000 + len(self.started)
        return common_pb2.ServerStatus(
            server_id=server_id,
            state=common_pb2.ACTIVE,
            enabled=True,
            pid=1000 + len(self.started),
            adapters=[
                common_pb2.AdapterStatus(
                    adapter_id=a.id,
                    endpoints=f"tcp -h 127.0.0.1 -p {port}",
                    replica_group=a.replica_group,
                )
                for a in entry.description.adapters
            ],
        )


@dataclass
class FakeSession:
    link: FakeLink
    info: common_pb2.NodeInfo = field(default_factory=lambda: common_pb2.NodeInfo(cpus=1))
    load: common_pb2.LoadInfo = field(default_factory=common_pb2.LoadInfo)


class Sessions(dict[str, FakeSession]):
    def get(self, name: str) -> NodeSession | None:  # type: ignore[override]
        return cast(NodeSession | None, super().get(name))


def server(
    server_id: str,
    activation: Activation,
    *,
    node: str = "node1",
    group: str = "",
    priority: str = "",
    timeout: int = 0,
) -> ServerDescription:
    adapter = Adapter(
        "A",
        f"{server_id}.A",
        "tcp -h 127.0.0.1",
        replica_group=group,
        priority=priority,
        objects=(ObjectDescriptor(f"obj/{server_id}", "::T"),) if not group else (),
    )
    return ServerDescription(
        server_id,
        node,
        "App",
        "/bin/true",
        activation=activation,
        activation_timeout=timeout,
        adapters=(adapter,),
    )


def grid(*descriptions: ServerDescription, groups: tuple[ReplicaGroup, ...] = ()) -> RegistryState:
    state = RegistryState()
    for description in descriptions:
        stored = StoredServer(description.id, "App", description.node)
        status = common_pb2.ServerStatus(
            server_id=description.id, state=common_pb2.INACTIVE, enabled=True
        )
        state.servers[description.id] = ServerEntry(description, 1, stored, status)
    nodes = {d.node for d in descriptions}
    state.applications["App"] = DeployedApplication(
        StoredApplication("App", "", "", (), {}, 1, "root", 0.0),
        ApplicationDescriptor("App"),
        Application("App", nodes={n: Node(n) for n in nodes}, replica_groups=groups),
    )
    return state


def locator(state: RegistryState, sessions: Sessions) -> LocatorServicer:
    async def record_answer(entry: ServerEntry, call: Awaitable[common_pb2.ServerStatus]) -> None:
        state.apply_report(entry.description.node, await call)

    return LocatorServicer(
        instance_name="IceGrid",
        internal_endpoints="",
        state=state,
        sessions=sessions,
        record_answer=record_answer,
    )


async def find(servicer: LocatorServicer, adapter_id: str) -> locator_pb2.FindAdapterByIdReply:
    request = locator_pb2.FindAdapterByIdRequest(adapter_id=adapter_id)
    return await asyncio.wait_for(servicer.FindAdapterById(request, cast(Any, None)), WAIT)


@pytest.mark.asyncio
async def test_first_lookup_starts_an_on_demand_server_and_answers_its_endpoints() -> None:
    state = grid(server("Lazy", Activation.ON_DEMAND))
    link = FakeLink(state)
    servicer = locator(state, Sessions(node1=FakeSession(link)))

    reply = await find(servicer, "Lazy.A")

    assert reply.endpoints == "tcp -h 127.0.0.1 -p 5001"
    assert [(r.adapter_id, r.endpoints) for r in reply.replicas] == [("Lazy.A", reply.endpoints)]
    assert link.started == ["Lazy"]
    assert state.servers["Lazy"].status.state == common_pb2.ACTIVE
    # Registered now: the next lookup does not start it again.
    assert (await find(servicer, "Lazy.A")).endpoints == reply.endpoints
    assert link.started == ["Lazy"]


@pytest.mark.asyncio
async def test_concurrent_lookups_share_one_pending_start() -> None:
    state = grid(server("Lazy", Activation.ON_DEMAND))
    link = FakeLink(state, release=asyncio.Event())
    servicer = locator(state, Sessions(node1=FakeSession(link)))

    lookups = [asyncio.create_task(find(servicer, "Lazy.A")) for _ in range(3)]
    object_lookup = asyncio.create_task(
        servicer.FindObjectById(
            locator_pb2.FindObjectByIdRequest(identity="obj/Lazy"), cast(Any, None)
        )
    )
    await asyncio.wait_for(link.entered.wait(), WAIT)
    assert link.release is not None
    link.release.set()
    replies = await asyncio.gather(*lookups)
    found = await object_lookup

    assert link.started == ["Lazy"]
    assert {r.endpoints for r in replies} == {found.endpoints} == {"tcp -h 127.0.0.1 -p 5001"}
    assert (found.adapter_id, found.type) == ("Lazy.A", "::T")


@pytest.mark.asyncio
async def test_a_caller_giving_up_does_not_cancel_the_start_others_wait_for() -> None:
    state = grid(server("Lazy", Activation.ON_DEMAND))
    link = FakeLink(state, release=asyncio.Event())
    servicer = locator(state, Sessions(node1=FakeSession(link)))
    impatient = asyncio.create_task(find(servicer, "Lazy.A"))
    patient = asyncio.create_task(find(servicer, "Lazy.A"))
    await asyncio.wait_for(link.entered.wait(), WAIT)
    impatient.cancel()
    assert link.release is not None
    link.release.set()
    assert (await patient).endpoints == "tcp -h 127.0.0.1 -p 5001"
    with pytest.raises(asyncio.CancelledError):
        await impatient
    assert link.started == ["Lazy"]


@pytest.mark.asyncio
async def test_disabled_and_manual_servers_are_not_started_and_the_error_says_why() -> None:
    state = grid(server("Off", Activation.ON_DEMAND), server("Hand", Activation.MANUAL))
    state.set_enabled(state.servers["Off"], False, None)
    link = FakeLink(state)
    servicer = locator(state, Sessions(node1=FakeSession(link)))

    with pytest.raises(AdapterNotFoundError, match="server `Off' is disabled"):
        await find(servicer, "Off.A")
    with pytest.raises(
        AdapterNotFoundError,
        match=r"server `Hand' is manual and not running: `shoal admin ice server start Hand`",
    ):
        await find(servicer, "Hand.A")
    assert link.started == []


@pytest.mark.asyncio
async def test_on_demand_server_of_a_node_without_session_is_node_unreachable() -> None:
    state = grid(server("Lazy", Activation.ON_DEMAND, node="node2"))
    servicer = locator(state, Sessions())
    with pytest.raises(NodeUnreachableError, match="node node2 is down") as raised:
        await find(servicer, "Lazy.A")
    assert raised.value.node == "node2"


@pytest.mark.asyncio
async def test_start_past_the_activation_timeout_is_timed_out_naming_server_and_timeout() -> None:
    state = grid(server("Slow", Activation.ON_DEMAND, timeout=5))
    link = FakeLink(state, fail=TimedOutError("server `Slow': the server activation timed out"))
    servicer = locator(state, Sessions(node1=FakeSession(link)))
    with pytest.raises(TimedOutError, match=r"`Slow' did not become active .* \(5 s\)"):
        await find(servicer, "Slow.A")
    # The failed start is not kept: the next lookup tries again.
    link.fail = None
    assert (await find(servicer, "Slow.A")).endpoints
    assert link.started == ["Slow", "Slow"]


@pytest.mark.asyncio
async def test_replica_group_answers_live_members_and_starts_on_demand_ones_when_none_is() -> None:
    group = ReplicaGroup(
        "Pool",
        load_balancing=LoadBalancingType.ORDERED,
        n_replicas=1,
        objects=(ObjectDescriptor("pool", "::Pool"),),
    )
    state = grid(
        server("P1", Activation.ON_DEMAND, group="Pool", priority="2"),
        server("P2", Activation.ON_DEMAND, group="Pool", priority="1"),
        server("P3", Activation.MANUAL, group="Pool", priority="0"),
        groups=(group,),
    )
    link = FakeLink(state)
    servicer = locator(state, Sessions(node1=FakeSession(link)))

    reply = await find(servicer, "Pool")
    # P3 (best priority) is manual: the best on-demand one is started, and only it.
    assert link.started == ["P2"]
    assert [r.adapter_id for r in reply.replicas] == ["P2.A"]
    assert reply.endpoints == reply.replicas[0].endpoints

    found = await servicer.FindObjectById(
        locator_pb2.FindObjectByIdRequest(identity="pool"), cast(Any, None)
    )
    assert (found.adapter_id, found.type, found.endpoints) == ("Pool", "::Pool", reply.endpoints)
    assert link.started == ["P2"]


@pytest.mark.asyncio
async def test_replica_group_with_no_startable_member_says_why_for_each() -> None:
    group = ReplicaGroup("Pool")
    state = grid(server("P1", Activation.MANUAL, group="Pool"), groups=(group,))
    servicer = locator(state, Sessions(node1=FakeSession(FakeLink(state))))
    with pytest.raises(AdapterNotFoundError, match=r"`Pool' has no registered member: .*manual"):
        await find(servicer, "Pool")
