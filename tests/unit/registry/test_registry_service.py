"""The Registry object and its Admin service: start errors, recovery from the database,
WatchServers, grid shutdown, diagnostics and the message size limit."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from grid_helpers import (
    admin_client,
    app_xml,
    fake_node,
    make_site,
    registry_properties,
    running_registry,
    status_map,
)

from shoal.errors import (
    ConfigError,
    DatabaseInUseError,
    InvalidArgumentError,
    MessageTooLargeError,
    NodeNotFoundError,
    NodeUnreachableError,
    ServerDisabledError,
    ServerNotFoundError,
)
from shoal.registry.service import Registry
from shoal.rpc import admin_pb2, common_pb2
from shoal.rpc.errors import translate_errors


def deploy_request(xml: str) -> admin_pb2.DeployRequest:
    return admin_pb2.DeployRequest(descriptor_xml=xml, source_name="app.xml")


@pytest.mark.asyncio
async def test_a_port_in_use_is_a_clear_error_and_leaves_nothing_open(tmp_path: Path) -> None:
    async with running_registry(make_site(tmp_path / "a")) as first:
        port = first.client_endpoints.rsplit("-p ", 1)[1].split()[0]
        taken = registry_properties(IceGrid_Registry_Client_Endpoints=f"tcp -h 127.0.0.1 -p {port}")
        second = Registry(make_site(tmp_path / "b"), taken)
        with pytest.raises(ConfigError, match=f"cannot listen on .*-p {port}"):
            await second.start()
        # Everything it opened is closed again: the database can be opened by another.
        async with running_registry(make_site(tmp_path / "b")):
            pass


@pytest.mark.asyncio
async def test_a_locked_database_is_a_clear_error(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    async with running_registry(site):
        with pytest.raises(DatabaseInUseError, match=f"pid {os.getpid()}"):
            await Registry(site, registry_properties()).start()


@pytest.mark.asyncio
async def test_a_restarted_registry_recovers_its_applications_and_flags(tmp_path: Path) -> None:
    """A master restarted (kill -9 or not) knows its servers from the database alone, and
    pushes them, with the administrator's disables, when the node registers."""
    site = make_site(tmp_path)
    async with running_registry(site) as registry, admin_client(registry) as admin:
        await admin.Deploy(deploy_request(app_xml("bonjour")))
        await admin.ServerDisable(admin_pb2.ServerDisableRequest(server_id="S2"))

    async with (
        running_registry(site) as registry,
        admin_client(registry) as admin,
        fake_node("node1") as node,
    ):
        servers = status_map((await admin.ServerList(admin_pb2.ServerListRequest())).servers)
        assert sorted(servers) == ["S1", "S2", "S3"]
        assert servers["S1"].enabled and not servers["S2"].enabled
        assert servers["S2"].disabled_by == common_pb2.ServerStatus.USER
        described = await admin.ApplicationDescribe(
            admin_pb2.ApplicationDescribeRequest(application="App")
        )
        assert described.summary.revision == 1 and "bonjour" in described.descriptor_xml

        await node.register(registry)
        await node.wait_for(lambda: len(node.loads) == 1, "the complete load")
        load = node.loads[0]
        assert load.complete and [s.id for s in load.servers] == ["S1", "S2"]
        assert list(load.disabled_server_ids) == ["S2"]
        properties = dict((p.name, p.value) for p in load.servers[0].properties)
        assert properties["Greeting"] == "bonjour"


@pytest.mark.asyncio
async def test_watch_servers_sends_a_snapshot_then_each_change(tmp_path: Path) -> None:
    async with (
        running_registry(make_site(tmp_path)) as registry,
        admin_client(registry) as admin,
        fake_node("node1") as node,
    ):
        await admin.Deploy(deploy_request(app_xml()))
        watch = admin.WatchServers(admin_pb2.WatchServersRequest(server_ids=["S1"]))
        events = aiter(watch)
        first = await anext(events)
        assert [s.server_id for s in first.snapshot.servers] == ["S1"]

        await node.register(registry)
        await node.report(
            registry,
            common_pb2.ServerStatus(server_id="S2", state=common_pb2.ACTIVE, pid=11, enabled=True),
            common_pb2.ServerStatus(server_id="S1", state=common_pb2.ACTIVE, pid=12, enabled=True),
        )
        while True:
            event = await asyncio.wait_for(anext(events), 10)
            if event.HasField("changed") and event.changed.state == common_pb2.ACTIVE:
                break
            assert event.WhichOneof("event") in ("changed", "node")
            assert event.changed.server_id in ("", "S1")  # S2 is filtered out
        assert (event.changed.server_id, event.changed.pid) == ("S1", 12)
        assert event.changed.application == "App" and event.changed.activation == "manual"
        await watch.aclose()


@pytest.mark.asyncio
async def test_shutdown_grid_stops_every_node_then_asks_the_master_to_exit(
    tmp_path: Path,
) -> None:
    master = registry_properties(IceGrid_Node_CollocateRegistry="1", IceGrid_Node_Name="master")
    async with (
        running_registry(make_site(tmp_path), master) as registry,
        admin_client(registry) as admin,
        fake_node("node1") as node1,
        fake_node("node2") as node2,
        fake_node("master") as master_node,
    ):
        await admin.Deploy(deploy_request(app_xml()))
        for node in (node1, node2, master_node):
            await node.register(registry)
        assert not registry.shutdown_requested.is_set()
        reply = await admin.ShutdownGrid(admin_pb2.ShutdownGridRequest())
        assert reply.registry_pid == os.getpid()
        assert list(reply.nodes_stopped) == ["master", "node1", "node2"]
        assert node1.shutdowns == [True] and node2.shutdowns == [True]
        assert master_node.shutdowns == []  # this process: the master daemon stops it
        assert registry.shutdown_requested.is_set() and registry.shutdown_kind == "grid"


@pytest.mark.asyncio
async def test_registry_shutdown_and_ping(tmp_path: Path) -> None:
    async with running_registry(make_site(tmp_path)) as registry, admin_client(registry) as admin:
        ping = await admin.RegistryPing(admin_pb2.RegistryPingRequest())
        assert ping.registry.name == "Master" and ping.registry.pid == os.getpid()
        assert ping.registry.client_endpoints == registry.client_endpoints
        with pytest.raises(InvalidArgumentError, match="Replica1"), translate_errors():
            await admin.RegistryPing(admin_pb2.RegistryPingRequest(name="Replica1"))
        await admin.RegistryShutdown(admin_pb2.RegistryShutdownRequest())
        assert registry.shutdown_requested.is_set() and registry.shutdown_kind == "registry"


@pytest.mark.asyncio
async def test_a_message_over_ice_message_size_max_is_refused_and_the_registry_goes_on(
    tmp_path: Path,
) -> None:
    small = registry_properties(Ice_MessageSizeMax="1")  # 1 KB
    async with (
        running_registry(make_site(tmp_path), small) as registry,
        admin_client(registry) as admin,
    ):
        padded = app_xml().replace("<icegrid>", "<icegrid>" + "<!--" + "x" * 4096 + "-->")
        with pytest.raises(MessageTooLargeError, match=r"Ice\.MessageSizeMax"), translate_errors():
            await admin.Deploy(deploy_request(padded))
        ping = await admin.RegistryPing(admin_pb2.RegistryPingRequest())
        assert ping.registry.name == "Master"
        assert not registry.state.applications


@pytest.mark.asyncio
async def test_server_commands_go_to_the_node_or_say_why_not(tmp_path: Path) -> None:
    async with (
        running_registry(make_site(tmp_path)) as registry,
        admin_client(registry) as admin,
        fake_node("node1") as node,
    ):
        await admin.Deploy(deploy_request(app_xml()))
        with pytest.raises(NodeUnreachableError, match="node1 is down"), translate_errors():
            await admin.ServerStart(admin_pb2.ServerStartRequest(server_id="S1"))
        with pytest.raises(ServerNotFoundError), translate_errors():
            await admin.ServerState(admin_pb2.ServerStateRequest(server_id="nope"))

        await node.register(registry)
        # The registration's complete load first: its reply, taken before the start, could
        # otherwise be recorded after the start's answer (statuses carry no node sequence
        # number yet; a real node's ReportState corrects it, this fake node reports nothing).
        await node.wait_for(lambda: len(node.loads) == 1, "the complete load")
        started = await admin.ServerStart(admin_pb2.ServerStartRequest(server_id="S1"))
        assert (started.status.state, started.status.pid) == (common_pb2.ACTIVE, 4321)
        state = await admin.ServerState(admin_pb2.ServerStateRequest(server_id="S1"))
        assert state.status.pid == 4321

        await admin.ServerDisable(admin_pb2.ServerDisableRequest(server_id="S2"))
        with pytest.raises(ServerDisabledError), translate_errors():
            await admin.ServerStart(admin_pb2.ServerStartRequest(server_id="S2"))
        assert "DisableServer" in node.calls

        props = await admin.ServerProperties(admin_pb2.ServerPropertiesRequest(server_id="S1"))
        assert ("Greeting", "hello") in [(p.name, p.value) for p in props.properties]

        ping = await admin.NodePing(admin_pb2.NodePingRequest(node="node1"))
        assert ping.round_trip_seconds >= 0
        with pytest.raises(NodeNotFoundError), translate_errors():
            await admin.NodePing(admin_pb2.NodePingRequest(node="ghost"))
        with pytest.raises(NodeUnreachableError), translate_errors():
            await admin.NodePing(admin_pb2.NodePingRequest(node="node2"))


@pytest.mark.asyncio
async def test_diagnostics_tell_what_the_registry_knows(tmp_path: Path) -> None:
    async with (
        running_registry(make_site(tmp_path)) as registry,
        admin_client(registry) as admin,
        fake_node("node1") as node,
    ):
        await admin.Deploy(deploy_request(app_xml()))
        await node.register(registry)
        report = await admin.Diagnostics(admin_pb2.DiagnosticsRequest())
        assert report.database_path.endswith("var/registry/registry.db")
        assert report.registry.internal_endpoints == registry.internal_endpoints
        assert [a.name for a in report.applications] == ["App"]
        nodes = {n.info.name: n for n in report.nodes}
        assert nodes["node1"].up and nodes["node1"].info.hostname == "host-a"
        assert nodes["node1"].HasField("session_started_at")
        assert not nodes["node2"].up
        assert [s.server_id for s in report.servers] == ["S1", "S2", "S3"]
        assert any("node node2 is down" in w for w in report.warnings)
