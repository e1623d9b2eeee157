"""Deploys through Admin.Deploy on a real registry: stored before any node hears of it, pushed
to nodes with a session, restarting only what changed, and all or nothing when invalid."""

from __future__ import annotations

from pathlib import Path

import pytest
from grid_helpers import (
    admin_client,
    app_xml,
    fake_node,
    make_site,
    running_registry,
    status_map,
    stored_revision,
)

from shoal.errors import AlreadyExistsError, ApplicationNotFoundError, DescriptorError
from shoal.rpc import admin_pb2, common_pb2
from shoal.rpc.errors import translate_errors


def deploy_request(xml: str, **options: object) -> admin_pb2.DeployRequest:
    return admin_pb2.DeployRequest(descriptor_xml=xml, source_name="app.xml", **options)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_a_deploy_is_stored_before_the_node_is_told_and_pushed_when_it_registers(
    tmp_path: Path,
) -> None:
    """Deploy with no node up: the reply names node1 and node2 as pending. node1 registers
    and gets its servers in a complete load; a redeploy changing S1 reaches it as a partial
    load of S1 alone, and the database held the new revision when the node got it."""
    site = make_site(tmp_path)
    seen_revisions: list[int | None] = []
    async with (
        running_registry(site) as registry,
        admin_client(registry) as admin,
        fake_node(
            "node1", on_load=lambda _: seen_revisions.append(stored_revision(site, "App"))
        ) as node,
    ):
        first = await admin.Deploy(deploy_request(app_xml()))
        assert (first.revision, first.created) == (1, True)
        assert list(first.added) == ["S1", "S2", "S3"]
        assert list(first.pending_nodes) == ["node1", "node2"]
        assert stored_revision(site, "App") == 1

        await node.register(registry)
        await node.wait_for(lambda: len(node.loads) == 1, "the complete load")
        load = node.loads[0]
        assert load.complete and [s.id for s in load.servers] == ["S1", "S2"]
        assert load.revision == 1

        second = await admin.Deploy(deploy_request(app_xml("bonjour")))
        assert second.revision == 2 and not second.created
        assert [(c.server_id, list(c.changed_fields)) for c in second.restarted] == [
            ("S1", ["properties"])
        ]
        assert list(second.unchanged) == ["S2", "S3"]
        assert list(second.pending_nodes) == []  # node2 has nothing new to load
        assert len(node.loads) == 2  # the deploy waits for the node's answer
        partial = node.loads[1]
        assert not partial.complete and [s.id for s in partial.servers] == ["S1"]
        assert seen_revisions == [1, 2]

        servers = status_map((await admin.ServerList(admin_pb2.ServerListRequest())).servers)
        assert servers["S1"].revision == 2 and servers["S1"].node == "node1"


@pytest.mark.asyncio
async def test_an_invalid_descriptor_changes_nothing(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    async with (
        running_registry(site) as registry,
        admin_client(registry) as admin,
        fake_node("node1") as node,
    ):
        await admin.Deploy(deploy_request(app_xml()))
        await node.register(registry)
        await node.wait_for(lambda: len(node.loads) == 1, "the complete load")
        before = {sid: e.description for sid, e in registry.state.servers.items()}

        broken = app_xml("bonjour").replace('exe="/bin/true" activation="manual"/>', 'exe=""/>')
        with pytest.raises(DescriptorError) as caught, translate_errors():
            await admin.Deploy(deploy_request(broken))
        assert caught.value.problems and "app.xml" in caught.value.problems[0].file
        undefined = app_xml().replace("hello", "${nowhere}")
        with pytest.raises(DescriptorError, match="nowhere"), translate_errors():
            await admin.Deploy(deploy_request(undefined))

        assert stored_revision(site, "App") == 1
        assert registry.state.applications["App"].stored.revision == 1
        assert {sid: e.description for sid, e in registry.state.servers.items()} == before
        assert len(node.loads) == 1


@pytest.mark.asyncio
async def test_diff_reports_the_restart_set_and_changes_nothing(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    async with running_registry(site) as registry, admin_client(registry) as admin:
        await admin.Deploy(deploy_request(app_xml()))
        moved = app_xml("bonjour").replace('<server id="S3"', '<server id="S4"')
        diff = await admin.ApplicationDiff(
            admin_pb2.ApplicationDiffRequest(descriptor_xml=moved, source_name="app.xml")
        )
        assert diff.exists and diff.application == "App"
        assert list(diff.added) == ["S4"] and list(diff.removed) == ["S3"]
        assert [c.server_id for c in diff.changed] == ["S1"]
        assert list(diff.unchanged) == ["S2"]
        assert stored_revision(site, "App") == 1


@pytest.mark.asyncio
async def test_a_redeploy_of_the_same_descriptor_stores_nothing(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    async with running_registry(site) as registry, admin_client(registry) as admin:
        await admin.Deploy(deploy_request(app_xml()))
        again = await admin.Deploy(deploy_request(app_xml()))
        assert again.revision == 1 and list(again.unchanged) == ["S1", "S2", "S3"]
        assert stored_revision(site, "App") == 1


@pytest.mark.asyncio
async def test_add_and_update_modes_check_existence(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    async with running_registry(site) as registry, admin_client(registry) as admin:
        with pytest.raises(ApplicationNotFoundError), translate_errors():
            await admin.Deploy(deploy_request(app_xml(), mode=admin_pb2.DeployRequest.UPDATE))
        await admin.Deploy(deploy_request(app_xml(), mode=admin_pb2.DeployRequest.ADD))
        with pytest.raises(AlreadyExistsError, match="App"), translate_errors():
            await admin.Deploy(deploy_request(app_xml(), mode=admin_pb2.DeployRequest.ADD))


@pytest.mark.asyncio
async def test_server_ids_are_unique_across_applications(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    async with running_registry(site) as registry, admin_client(registry) as admin:
        await admin.Deploy(deploy_request(app_xml()))
        other = app_xml().replace('name="App"', 'name="Other"')
        with (
            pytest.raises(DescriptorError, match="already deployed by application `App'"),
            translate_errors(),
        ):
            await admin.Deploy(deploy_request(other))
        assert stored_revision(site, "Other") is None


@pytest.mark.asyncio
async def test_removing_an_application_destroys_its_servers_on_their_nodes(
    tmp_path: Path,
) -> None:
    site = make_site(tmp_path)
    async with (
        running_registry(site) as registry,
        admin_client(registry) as admin,
        fake_node("node1") as node,
    ):
        await admin.Deploy(deploy_request(app_xml()))
        await node.register(registry)
        await node.wait_for(lambda: len(node.loads) == 1, "the complete load")
        reply = await admin.ApplicationRemove(admin_pb2.ApplicationRemoveRequest(application="App"))
        assert list(reply.removed) == ["S1", "S2", "S3"]
        assert node.destroyed == [["S1", "S2"]]
        assert stored_revision(site, "App") is None and not registry.state.servers
        with pytest.raises(ApplicationNotFoundError), translate_errors():
            await admin.ApplicationRemove(admin_pb2.ApplicationRemoveRequest(application="App"))


@pytest.mark.asyncio
async def test_a_failed_server_load_is_a_warning_of_the_deploy(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    async with (
        running_registry(site) as registry,
        admin_client(registry) as admin,
        fake_node("node1") as node,
    ):
        await admin.Deploy(deploy_request(app_xml()))
        await node.register(registry)
        await node.wait_for(lambda: len(node.loads) == 1, "the complete load")

        node.failing.add("S1")
        reply = await admin.Deploy(deploy_request(app_xml("bonjour")))
        assert reply.revision == 2
        assert any("S1" in w and "cannot write config" in w for w in reply.warnings)


@pytest.mark.asyncio
async def test_a_node_slow_to_destroy_still_gets_the_servers_added_in_the_same_deploy(
    tmp_path: Path,
) -> None:
    """A deploy removes S2 and adds S4 on node1, whose DestroyServers outlasts the registry's
    deadline (a server slow to stop): the deploy warns about S2, and S4 is loaded anyway."""
    site = make_site(tmp_path)
    async with (
        running_registry(site) as registry,
        admin_client(registry) as admin,
        fake_node("node1", destroy_delay=5.0) as node,
    ):
        await admin.Deploy(deploy_request(app_xml()))
        await node.register(registry)
        await node.wait_for(lambda: len(node.loads) == 1, "the complete load")
        assert registry.sync is not None
        registry.sync.load_timeout = 0.2

        reply = await admin.Deploy(deploy_request(app_xml().replace('"S2"', '"S4"')))
        assert list(reply.removed) == ["S2"] and list(reply.added) == ["S4"]
        assert node.destroyed == [["S2"]]
        assert [s.id for s in node.loads[-1].servers] == ["S4"]
        assert any("S2" in w and "did not confirm" in w for w in reply.warnings)
        assert list(reply.pending_nodes) == []


@pytest.mark.asyncio
async def test_a_load_reply_overtaken_by_a_report_does_not_bring_back_an_older_state(
    tmp_path: Path,
) -> None:
    """A redeploy loads S1; before the node's reply (its status at load time) reaches the
    registry, a ReportState says S1 is Active with pid 99. The reply is the older news: the
    registry keeps Active and pid 99, and takes the reply's revision."""
    site = make_site(tmp_path)
    async with (
        running_registry(site) as registry,
        admin_client(registry) as admin,
        fake_node("node1") as node,
    ):
        await admin.Deploy(deploy_request(app_xml()))
        await node.register(registry)
        await node.wait_for(lambda: len(node.loads) == 1, "the complete load")

        async def report_active() -> None:
            await node.report(
                registry,
                common_pb2.ServerStatus(
                    server_id="S1", state=common_pb2.ACTIVE, pid=99, enabled=True, revision=2
                ),
            )

        node.before_reply = report_active
        reply = await admin.Deploy(deploy_request(app_xml("bonjour")))
        assert reply.revision == 2
        servers = status_map((await admin.ServerList(admin_pb2.ServerListRequest())).servers)
        assert (servers["S1"].state, servers["S1"].pid) == (common_pb2.ACTIVE, 99)
        assert servers["S1"].revision == 2


TEMPLATED = """<icegrid>
  <application name="Other">
    <server-template id="T">
      <parameter name="index"/>
      <server id="S${index}" exe="/bin/true"/>
    </server-template>
    <node name="node2">
      <server-instance template="T" index="3"/>
    </node>
  </application>
</icegrid>
"""


@pytest.mark.asyncio
async def test_a_server_id_clash_names_the_line_of_the_new_server_element(
    tmp_path: Path,
) -> None:
    site = make_site(tmp_path)
    async with running_registry(site) as registry, admin_client(registry) as admin:
        await admin.Deploy(deploy_request(app_xml()))
        other = app_xml().replace('name="App"', 'name="Other"')
        with pytest.raises(DescriptorError) as caught, translate_errors():
            await admin.Deploy(deploy_request(other))
        assert [(p.file, p.line) for p in caught.value.problems] == [
            ("app.xml", 4),  # <server id="S1">
            ("app.xml", 7),
            ("app.xml", 10),
        ]
        with pytest.raises(DescriptorError) as caught, translate_errors():
            await admin.Deploy(deploy_request(TEMPLATED))
        assert str(caught.value) == (
            "app.xml:8: server `S3' is already deployed by application `App'"
        )  # the <server-instance> that makes S3
