"""When a node's session ends, its servers stop looking alive: each shows INACTIVE, pid 0, no
adapters, "node NODE is down" in its history, published on WatchServers; the node's reports
replace that when it registers again. A node whose connection drops and which then does not
answer a ping loses its session at once, not after the session timeout."""

from __future__ import annotations

from pathlib import Path

import pytest
from grid_helpers import (
    FakeNode,
    admin_client,
    app_xml,
    fake_node,
    make_site,
    registry_properties,
    running_registry,
)

from shoal.registry.service import Registry
from shoal.registry.state import node_down_reason
from shoal.rpc import admin_pb2, common_pb2
from shoal.rpc.wire import Stub

ACTIVE_S1 = common_pb2.ServerStatus(
    server_id="S1",
    state=common_pb2.ACTIVE,
    pid=4242,
    enabled=True,
    adapters=[common_pb2.AdapterStatus(adapter_id="S1.A", endpoints="tcp -h 127.0.0.1 -p 1")],
)


async def deploy(admin: Stub) -> None:
    await admin.Deploy(admin_pb2.DeployRequest(descriptor_xml=app_xml(), source_name="a.xml"))


async def state_of(admin: Stub, server_id: str) -> common_pb2.ServerStatus:
    reply = await admin.ServerState(admin_pb2.ServerStateRequest(server_id=server_id))
    status: common_pb2.ServerStatus = reply.status
    return status


async def changes_until_down(watch: object, server_id: str) -> common_pb2.ServerStatus:
    """Read the watch until `server_id` shows a process no more (in the snapshot, if the watch
    started late, or as a change): an event, no polling."""
    async for event in watch:  # type: ignore[attr-defined]
        shown = list(event.snapshot.servers) if event.HasField("snapshot") else []
        if event.HasField("changed"):
            shown.append(event.changed)
        for status in shown:
            if status.server_id == server_id and status.pid == 0:
                found: common_pb2.ServerStatus = status
                return found
    raise AssertionError("the watch ended first")


def assert_down(status: common_pb2.ServerStatus, node: str) -> None:
    assert (status.state, status.pid, list(status.adapters)) == (common_pb2.INACTIVE, 0, [])
    assert status.history[-1].reason == node_down_reason(node) == f"node {node} is down"
    assert status.history[-1].state == common_pb2.INACTIVE


@pytest.mark.asyncio
async def test_an_expired_session_shows_its_servers_inactive_with_the_reason(
    tmp_path: Path,
) -> None:
    short = registry_properties(IceGrid_Registry_NodeSessionTimeout="1")
    async with (
        running_registry(make_site(tmp_path), short) as registry,
        admin_client(registry) as admin,
        fake_node("node1") as node,
    ):
        await deploy(admin)
        await running(registry, node)
        watch = admin.WatchServers(admin_pb2.WatchServersRequest(node="node1"))
        assert_down(await changes_until_down(watch, "S1"), "node1")  # no keepalive: expiry
        await watch.aclose()
        assert_down(await state_of(admin, "S1"), "node1")
        assert_down(await state_of(admin, "S2"), "node1")  # never started: still says why
        assert not (await state_of(admin, "S3")).history  # node2's server: untouched


@pytest.mark.asyncio
async def test_a_node_whose_connection_drops_loses_its_session_before_the_timeout(
    tmp_path: Path,
) -> None:
    # The default session timeout (30 s) is far beyond the test's 10 s limit.
    async with (
        running_registry(make_site(tmp_path)) as registry,
        admin_client(registry) as admin,
        fake_node("node1") as node,
    ):
        await deploy(admin)
        await running(registry, node)
        watch = admin.WatchServers(admin_pb2.WatchServersRequest(server_ids=["S1"]))
        await node.stop_serving()  # as killed: the connection closes, pings go unanswered
        assert_down(await changes_until_down(watch, "S1"), "node1")
        await watch.aclose()
        assert registry.sessions is not None and registry.sessions.get("node1") is None
        nodes = await admin.NodeList(admin_pb2.NodeListRequest())
        assert ("node1", False) in [(n.info.name, n.up) for n in nodes.nodes]


@pytest.mark.asyncio
async def test_a_node_registering_again_replaces_the_down_statuses(tmp_path: Path) -> None:
    async with (
        running_registry(make_site(tmp_path)) as registry,
        admin_client(registry) as admin,
        fake_node("node1") as node,
    ):
        await deploy(admin)
        await running(registry, node)
        await drop_session(registry, "node1")
        assert_down(await state_of(admin, "S1"), "node1")
        await running(registry, node, loads=2)
        again = await state_of(admin, "S1")
        assert (again.state, again.pid) == (common_pb2.ACTIVE, 4242)
        assert not [h for h in again.history if h.reason == node_down_reason("node1")]


@pytest.mark.asyncio
async def test_the_same_node_registering_again_does_not_flap_its_servers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with (
        running_registry(make_site(tmp_path)) as registry,
        admin_client(registry) as admin,
        fake_node("node1") as node,
    ):
        await deploy(admin)
        await running(registry, node)
        published: list[common_pb2.ServerStatus] = []
        publish = registry.hub.server_changed

        def recorded(status: common_pb2.ServerStatus) -> None:
            published.append(status)
            publish(status)

        monkeypatch.setattr(registry.hub, "server_changed", recorded)
        await running(registry, node, loads=2)  # the same node: its first reply was lost
        assert published
        assert not [
            s for s in published for h in s.history if h.reason == node_down_reason("node1")
        ]


async def running(registry: Registry, node: FakeNode, loads: int = 1) -> None:
    """Register `node`, wait for its complete load, then report S1 active (pid 4242)."""
    await node.register(registry)
    await node.wait_for(lambda: len(node.loads) == loads, "the complete load")
    await node.report(registry, ACTIVE_S1)


async def drop_session(registry: Registry, node: str) -> None:
    assert registry.sessions is not None and registry.sync is not None
    session = registry.sessions.get(node)
    assert session is not None
    await registry.sync.drop(session, "the node unregistered")
