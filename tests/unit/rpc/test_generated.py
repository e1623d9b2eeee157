"""The committed *_pb2* modules are what `make proto` makes of the .proto files, and the
contract keeps its conventions (one XRequest/XReply pair per RPC, every admin command)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoal.rpc import admin_pb2, internal_pb2
from shoal.rpc.generate import PROTO_FILES, SOURCE_ROOT, generate

RPC_DIR = SOURCE_ROOT / "shoal" / "rpc"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def test_committed_modules_match_the_proto_files(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools (a test dependency) is needed")
    fresh = {path.name: path.read_bytes() for path in generate(tmp_path)}
    committed = {
        path.name: path.read_bytes()
        for path in RPC_DIR.iterdir()
        if path.name.endswith(GENERATED_SUFFIXES)
    }
    stale = sorted(set(committed) - set(fresh))
    missing = sorted(set(fresh) - set(committed))
    different = sorted(
        name for name in set(fresh) & set(committed) if fresh[name] != committed[name]
    )
    assert not (stale or missing or different), (
        "src/shoal/rpc/ is out of date with its .proto files: run `make proto` and commit the "
        f"result (stale: {stale}, missing: {missing}, different: {different})"
    )


def test_generated_modules_import_each_other_as_shoal_rpc() -> None:
    text = (RPC_DIR / "admin_pb2.py").read_text()
    assert "from shoal.rpc import common_pb2" in text
    assert "\nimport common_pb2" not in text


def test_every_proto_file_is_generated() -> None:
    assert sorted(PROTO_FILES) == sorted(p.name for p in RPC_DIR.glob("*.proto"))


@pytest.mark.parametrize(
    "service",
    [
        admin_pb2.DESCRIPTOR.services_by_name["Admin"],
        internal_pb2.DESCRIPTOR.services_by_name["Registry"],
        internal_pb2.DESCRIPTOR.services_by_name["Node"],
    ],
    ids=lambda s: s.name,
)
def test_each_rpc_has_its_own_request_and_reply(service: object) -> None:
    seen: set[str] = set()
    for method in service.methods:  # type: ignore[attr-defined]
        assert method.input_type.name == f"{method.name}Request", method.full_name
        assert method.output_type.name == f"{method.name}Reply", method.full_name
        assert method.input_type.name not in seen
        seen.add(method.input_type.name)


def test_every_admin_command_has_an_rpc() -> None:
    """icegridadmin's commands (reference/icegrid.md §5) that Shoal offers, and Shoal's own."""
    expected = {
        # application list|describe|diff|add|update|remove (add and update are Deploy modes)
        "Deploy", "ApplicationList", "ApplicationDescribe", "ApplicationDiff", "ApplicationRemove",
        # server list|describe|state|pid|start|stop|enable|disable|signal|stdout|stderr|properties
        "ServerList", "ServerDescribe", "ServerState", "ServerStart", "ServerStop",
        "ServerEnable", "ServerDisable", "ServerSignal", "ServerOutput", "ServerProperties",
        # node list|describe|ping|load|shutdown
        "NodeList", "NodeDescribe", "NodePing", "NodeLoad", "NodeShutdown",
        # registry list|ping|shutdown
        "RegistryList", "RegistryPing", "RegistryShutdown",
        # adapter list|endpoints|remove
        "AdapterList", "AdapterEndpoints", "AdapterRemove",
        # object add|remove|find|describe|list (find, describe and list are ObjectList)
        "ObjectAdd", "ObjectRemove", "ObjectList",
        # shoal admin status|waitup|diagnostics|stop
        "WatchServers", "Diagnostics", "ShutdownGrid",
    }  # fmt: skip
    methods = {m.name for m in admin_pb2.DESCRIPTOR.services_by_name["Admin"].methods}
    assert methods == expected


def test_streaming_rpcs_are_the_ones_that_follow_or_watch() -> None:
    streaming = {
        m.full_name
        for file in (admin_pb2.DESCRIPTOR, internal_pb2.DESCRIPTOR)
        for service in file.services_by_name.values()
        for m in service.methods
        if m.server_streaming or m.client_streaming
    }
    assert streaming == {
        "shoal.v1.Admin.ServerOutput",
        "shoal.v1.Admin.WatchServers",
        "shoal.v1.Node.Output",
    }
