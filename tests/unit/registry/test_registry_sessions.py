"""Node sessions on a real registry: the duplicate-name rule, unknown names, dynamic
registration, expiry by timer, and what ReportState records."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from grid_helpers import (
    admin_client,
    app_xml,
    fake_node,
    make_site,
    poll,
    registry_properties,
    running_registry,
)

from shoal.config.endpoints import parse_endpoint
from shoal.errors import NodeActiveError, NodeNotFoundError, SessionExpiredError
from shoal.registry.database import DisabledBy
from shoal.rpc import admin_pb2, common_pb2, internal_pb2, locator_pb2
from shoal.rpc.wire import WireChannel

MB = 1024 * 1024


async def deploy(registry: object) -> None:
    async with admin_client(registry) as admin:  # type: ignore[arg-type]
        await admin.Deploy(admin_pb2.DeployRequest(descriptor_xml=app_xml(), source_name="a.xml"))


@pytest.mark.asyncio
async def test_a_name_held_by_a_live_node_is_refused_naming_its_host(tmp_path: Path) -> None:
    async with (
        running_registry(make_site(tmp_path)) as registry,
        fake_node("node1", hostname="host-a", pid=1001) as holder,
        fake_node("node1", hostname="host-b", pid=2002) as newcomer,
    ):
        await deploy(registry)
        await holder.register(registry)
        with pytest.raises(NodeActiveError, match="already active on host host-a") as caught:
            await newcomer.register(registry)
        assert (caught.value.node, caught.value.holder_host) == ("node1", "host-a")
        assert "Ping" in holder.calls
        await holder.keepalive(registry)  # the holder's session is untouched


@pytest.mark.asyncio
async def test_a_name_held_by_a_dead_node_goes_to_the_newcomer(tmp_path: Path) -> None:
    async with (
        running_registry(make_site(tmp_path)) as registry,
        fake_node("node1", hostname="host-a", pid=1001) as holder,
        fake_node("node1", hostname="host-b", pid=2002) as newcomer,
    ):
        await deploy(registry)
        await holder.register(registry)
        await holder.stop_serving()  # it no longer answers a ping
        await newcomer.register(registry)
        await newcomer.wait_for(lambda: len(newcomer.loads) == 1, "the complete load")
        assert registry.sessions is not None
        session = registry.sessions.get("node1")
        assert session is not None and session.info.hostname == "host-b"
        with pytest.raises(SessionExpiredError):
            await holder.keepalive(registry)


@pytest.mark.asyncio
async def test_the_same_node_registering_again_replaces_its_own_session(tmp_path: Path) -> None:
    async with running_registry(make_site(tmp_path)) as registry, fake_node("node1") as node:
        await deploy(registry)
        first = await node.register(registry)
        second = await node.register(registry)  # e.g. its first reply was lost
        assert first.session_id != second.session_id


@pytest.mark.asyncio
async def test_a_node_no_descriptor_names_is_refused_unless_dynamic_registration(
    tmp_path: Path,
) -> None:
    async with (
        running_registry(make_site(tmp_path / "a")) as registry,
        fake_node("ghost") as ghost,
    ):
        with pytest.raises(NodeNotFoundError, match="not in any deployed") as caught:
            await ghost.register(registry)
        assert caught.value.name == "ghost" and "DynamicRegistration" in caught.value.hint

    dynamic = registry_properties(**{"IceGrid_Registry_DynamicRegistration": "1"})
    async with (
        running_registry(make_site(tmp_path / "b"), dynamic) as registry,
        fake_node("ghost") as ghost,
    ):
        reply = await ghost.register(registry)
        assert reply.session_id
        await ghost.wait_for(lambda: len(ghost.loads) == 1, "an (empty) complete load")
        assert ghost.loads[0].complete and not ghost.loads[0].servers


@pytest.mark.asyncio
async def test_the_collocated_master_node_may_register_before_any_deploy(tmp_path: Path) -> None:
    master = registry_properties(IceGrid_Node_CollocateRegistry="1", IceGrid_Node_Name="master")
    async with (
        running_registry(make_site(tmp_path), master) as registry,
        fake_node("master") as node,
    ):
        await node.register(registry)


@pytest.mark.asyncio
async def test_a_session_without_keepalive_expires(tmp_path: Path) -> None:
    short = registry_properties(IceGrid_Registry_NodeSessionTimeout="1")
    async with (
        running_registry(make_site(tmp_path), short) as registry,
        admin_client(registry) as admin,
        fake_node("node1") as node,
    ):
        await deploy(registry)
        reply = await node.register(registry)
        assert (reply.session_timeout_seconds, reply.keepalive_seconds) == (1, 1)
        watch = admin.WatchServers(admin_pb2.WatchServersRequest(node="node1"))
        events = aiter(watch)
        assert (await anext(events)).HasField("snapshot")
        while True:  # the expiry is an event on the watch: no polling, no sleep
            event = await anext(events)
            if event.HasField("node") and not event.node.up:
                break
        await watch.aclose()
        with pytest.raises(SessionExpiredError):
            await node.keepalive(registry)
        nodes = await admin.NodeList(admin_pb2.NodeListRequest())
        assert [(n.info.name, n.up) for n in nodes.nodes] == [("node1", False), ("node2", False)]


@pytest.mark.asyncio
async def test_reported_exits_and_failure_disables_reach_the_database(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    async with running_registry(site) as registry, fake_node("node1") as node:
        await deploy(registry)
        await node.register(registry)
        await node.wait_for(lambda: len(node.loads) == 1, "the complete load")
        crashed = common_pb2.ServerStatus(
            server_id="S1",
            state=common_pb2.INACTIVE,
            enabled=False,
            disabled_by=common_pb2.ServerStatus.FAILURE,
            restart_count=3,
            last_exit=common_pb2.ExitInfo(code=2, description="exited with code 2", failure=True),
        )
        crashed.last_exit.at.FromSeconds(1_700_000_000)
        await node.report(registry, crashed)
        entry = registry.state.servers["S1"]
        assert not entry.status.enabled and entry.status.node == "node1"
        assert registry.database is not None
        stored = registry.database.server("S1")
        assert stored is not None
        assert (stored.enabled, stored.disabled_by, stored.restart_count) == (
            False,
            DisabledBy.FAILURE,
            3,
        )
        assert stored.last_exit is not None and stored.last_exit.code == 2

        # A node's report never undoes an administrator's disable.
        async with admin_client(registry) as admin:
            await admin.ServerDisable(admin_pb2.ServerDisableRequest(server_id="S2"))
        await node.report(registry, common_pb2.ServerStatus(server_id="S2", enabled=True))
        assert not registry.state.servers["S2"].status.enabled
        stored2 = registry.database.server("S2")
        assert stored2 is not None and stored2.disabled_by is DisabledBy.USER


def _exit_status(server_id: str, code: int, restart_count: int, at: int) -> common_pb2.ServerStatus:
    status = common_pb2.ServerStatus(
        server_id=server_id,
        state=common_pb2.INACTIVE,
        enabled=True,
        restart_count=restart_count,
        last_exit=common_pb2.ExitInfo(code=code, description=f"exited with code {code}"),
    )
    status.last_exit.at.FromSeconds(at)
    return status


@pytest.mark.asyncio
async def test_a_batch_of_reports_stores_each_servers_latest_status_in_one_thread_trip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node stopping many servers reports every change in one ReportState: the database
    gets the newest status of each server, written from one trip to a worker thread."""
    site = make_site(tmp_path)
    async with running_registry(site) as registry, fake_node("node1") as node:
        await deploy(registry)
        await node.register(registry)
        await node.wait_for(lambda: len(node.loads) == 1, "the complete load")
        trips: list[str] = []
        to_thread = asyncio.to_thread

        async def counting(function: Any, /, *args: Any, **kwargs: Any) -> Any:
            trips.append(getattr(function, "__name__", repr(function)))
            return await to_thread(function, *args, **kwargs)

        monkeypatch.setattr(asyncio, "to_thread", counting)
        disabled = common_pb2.ServerStatus(
            server_id="S2", enabled=False, disabled_by=common_pb2.ServerStatus.FAILURE
        )
        await node.report(
            registry,
            _exit_status("S1", 1, 1, 1_700_000_000),
            disabled,
            _exit_status("S1", 2, 2, 1_700_000_010),
        )
        assert trips == ["_run_writes"]
        assert registry.database is not None
        first = registry.database.server("S1")
        assert first is not None and first.last_exit is not None
        assert (first.last_exit.code, first.restart_count) == (2, 2)
        second = registry.database.server("S2")
        assert second is not None
        assert (second.enabled, second.disabled_by) == (False, DisabledBy.FAILURE)
        # Nothing new to store: no trip at all.
        await node.report(registry, _exit_status("S1", 2, 2, 1_700_000_010))
        assert trips == ["_run_writes"]


@pytest.mark.asyncio
async def test_the_locator_names_the_internal_endpoints(tmp_path: Path) -> None:
    async with running_registry(make_site(tmp_path)) as registry:
        channel = WireChannel(parse_endpoint(registry.client_endpoints), max_message_bytes=MB)
        try:
            reply = await channel.unary(
                "/shoal.v1.Locator/FindRegistry",
                locator_pb2.FindRegistryRequest(),
                locator_pb2.FindRegistryReply,
            )
        finally:
            await channel.close()
        assert reply.internal_endpoints == registry.internal_endpoints
        assert (reply.instance_name, reply.replica_name) == ("IceGrid", "Master")
        assert " -p 0" not in reply.internal_endpoints


@pytest.mark.asyncio
async def test_unregistering_closes_the_session(tmp_path: Path) -> None:
    async with running_registry(make_site(tmp_path)) as registry, fake_node("node1") as node:
        await deploy(registry)
        await node.register(registry)
        sessions = registry.sessions
        assert sessions is not None
        stub = node._stub(registry)
        await stub.UnregisterNode(internal_pb2.UnregisterNodeRequest(session_id=node.session_id))
        await poll(lambda: sessions.get("node1") is None, "the session to close")
        await stub.UnregisterNode(internal_pb2.UnregisterNodeRequest(session_id="unknown"))


@pytest.mark.asyncio
async def test_the_collocated_nodes_direct_report_is_checked_and_recorded_as_a_remote_one(
    tmp_path: Path,
) -> None:
    # The master's node reports through Registry.report_state, not the wire: same session
    # check, same record.
    site = make_site(tmp_path)
    async with running_registry(site) as registry, fake_node("node1") as node:
        await deploy(registry)
        await node.register(registry)
        await node.wait_for(lambda: len(node.loads) == 1, "the complete load")
        active = common_pb2.ServerStatus(server_id="S1", state=common_pb2.ACTIVE, pid=4242)
        await registry.report_state(
            internal_pb2.ReportStateRequest(session_id=node.session_id, servers=[active])
        )
        assert registry.state.servers["S1"].status.pid == 4242
        with pytest.raises(SessionExpiredError):
            await registry.report_state(
                internal_pb2.ReportStateRequest(session_id="no-such-session", servers=[active])
            )


@pytest.mark.asyncio
async def test_a_report_that_overtakes_a_calls_answer_is_not_undone_by_it(tmp_path: Path) -> None:
    # The node enables the server, starts it and reports it Active before its answer to
    # EnableServer (taken before the start) arrives: the answer is the older news.
    site = make_site(tmp_path)
    async with running_registry(site) as registry, fake_node("node1") as node:
        await deploy(registry)
        await node.register(registry)
        await node.wait_for(lambda: len(node.loads) == 1, "the complete load")
        running = common_pb2.ServerStatus(
            server_id="S1", state=common_pb2.ACTIVE, pid=4242, enabled=True
        )

        async def report_first() -> None:
            await node.report(registry, running)

        node.before_reply = report_first
        async with admin_client(registry) as admin:
            await admin.ServerEnable(admin_pb2.ServerEnableRequest(server_id="S1"))
        status = registry.state.servers["S1"].status
        assert (status.state, status.pid, status.enabled) == (common_pb2.ACTIVE, 4242, True)
