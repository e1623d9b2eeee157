"""The admin console: its command table, icegridadmin's wording, and commands run against an
in-process fake Admin service (no daemons)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from shoal.cli.client import AdminApi, AdminClient, RegistryTarget
from shoal.cli.console import execute, interactive
from shoal.cli.console_commands import (
    COMMANDS,
    Output,
    Session,
    help_lines,
    parse_output_args,
    resolve,
)
from shoal.cli.console_format import deploy_lines, load_line, server_state_line
from shoal.cli.errors import ConsoleUsageError
from shoal.cli.exits import EXIT_NOT_FOUND, exit_code_for
from shoal.config.endpoints import parse_endpoint
from shoal.errors import NodeUnreachableError, ServerNotFoundError, ShoalError
from shoal.rpc import admin_pb2, common_pb2
from shoal.rpc.wire import WireServer

# ------------------------------------------------------------------------- the command table


def test_every_icegridadmin_command_of_the_brief_is_in_the_table() -> None:
    names = {c.name for c in COMMANDS}
    for group, verbs in {
        "application": "list describe diff add update remove",
        "server": "list describe state pid start stop enable disable signal stdout stderr "
        "properties",
        "node": "list describe ping load shutdown",
        "registry": "list ping shutdown",
    }.items():
        for verb in verbs.split():
            assert f"{group} {verb}" in names


def test_resolve_splits_command_words_from_arguments() -> None:
    command, args = resolve(["server", "signal", "Blitz-0", "SIGHUP"])
    assert command.name == "server signal"
    assert args == ["Blitz-0", "SIGHUP"]


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["server", "state"], "`server state' requires exactly one argument"),
        (["server", "signal", "x"], "`server signal' requires exactly two arguments"),
        (["node", "list", "x"], "`node list' requires no argument"),
        (["server", "frob"], "unknown command `server frob'"),
        (["frob"], "unknown command `frob'"),
    ],
)
def test_wrong_commands_say_what_icegridadmin_says(words: list[str], message: str) -> None:
    with pytest.raises(ConsoleUsageError) as caught:
        resolve(words)
    assert caught.value.message == message


def test_help_lists_everything_or_one_group() -> None:
    everything = help_lines()
    assert any(line.startswith("server state ID") for line in everything)
    assert all(line.startswith("node") for line in help_lines(["node"]))


def test_output_options() -> None:
    assert parse_output_args(["S"]) == ("S", 20, False)
    assert parse_output_args(["S", "--tail", "5", "--follow"]) == ("S", 5, True)
    assert parse_output_args(["--tail=0", "S"]) == ("S", 0, False)
    with pytest.raises(ConsoleUsageError):
        parse_output_args(["S", "--tail", "x"])


# ------------------------------------------------------------------------------ formatting


def test_server_state_is_printed_as_icegridadmin_prints_it() -> None:
    active = common_pb2.ServerStatus(state=common_pb2.ACTIVE, pid=42, enabled=True)
    assert server_state_line(active) == "active (pid = 42, enabled)"
    inactive = common_pb2.ServerStatus(state=common_pb2.INACTIVE, enabled=False)
    assert server_state_line(inactive) == "inactive (disabled)"


def test_load_line() -> None:
    load = common_pb2.LoadInfo(avg1=0.5, avg5=0.25, avg15=1)
    assert load_line(load) == "load average (1/5/15): 0.5 / 0.25 / 1"


# ------------------------------------------------------------------- against a fake registry


class FakeAdmin:
    """Two servers, two nodes (node1 unreachable); signals are recorded."""

    def __init__(self) -> None:
        self.signals: list[tuple[str, str]] = []
        self.servers = {
            "Blitz-0": common_pb2.ServerStatus(
                server_id="Blitz-0", node="master", state=common_pb2.ACTIVE, pid=99, enabled=True
            ),
            "Processor-1": common_pb2.ServerStatus(
                server_id="Processor-1",
                node="node1",
                activation="always",
                history=[
                    common_pb2.StateChange(state=common_pb2.ACTIVE, reason="adapters ready"),
                    common_pb2.StateChange(state=common_pb2.INACTIVE, reason="node node1 is down"),
                ],
            ),
        }
        self.started: list[str] = []
        self.deploys: list[Any] = []

    async def Deploy(self, request: Any, context: Any) -> Any:
        self.deploys.append(request)
        return admin_pb2.DeployReply(application="App", revision=2)

    async def ServerList(self, request: Any, context: Any) -> Any:
        return admin_pb2.ServerListReply(servers=list(self.servers.values()))

    async def ServerState(self, request: Any, context: Any) -> Any:
        if request.server_id not in self.servers:
            raise ServerNotFoundError(f"no server `{request.server_id}'", name=request.server_id)
        return admin_pb2.ServerStateReply(status=self.servers[request.server_id])

    async def ServerStart(self, request: Any, context: Any) -> Any:
        self.started.append(request.server_id)
        return admin_pb2.ServerStartReply(status=self.servers[request.server_id])

    async def ServerStop(self, request: Any, context: Any) -> Any:
        return admin_pb2.ServerStopReply(status=self.servers[request.server_id])

    async def ServerSignal(self, request: Any, context: Any) -> Any:
        self.signals.append((request.server_id, request.signal))
        return admin_pb2.ServerSignalReply()

    async def NodePing(self, request: Any, context: Any) -> Any:
        if request.node == "node1":
            raise NodeUnreachableError("node node1 does not answer", node="node1")
        return admin_pb2.NodePingReply(round_trip_seconds=0.001)

    async def RegistryPing(self, request: Any, context: Any) -> Any:
        return admin_pb2.RegistryPingReply(registry=admin_pb2.RegistryInfo(name="Master"))

    async def ServerOutput(self, request: Any, context: Any) -> Any:
        yield admin_pb2.ServerOutputReply(chunk=common_pb2.OutputChunk(data=b"line 1\n"))
        yield admin_pb2.ServerOutputReply(chunk=common_pb2.OutputChunk(data=b"line 2\n"))


@dataclass
class Console:
    client: AdminClient
    fake: FakeAdmin
    lines: list[str] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)

    def __call__(self, line: str) -> list[str]:
        self.lines.clear()
        session = Session(self.client.api, None, Output(self.lines.append, self.raw.append))
        execute(self.client, session, line.split())
        return list(self.lines)


@pytest.fixture
def console() -> Iterator[Console]:
    fake = FakeAdmin()
    placeholder = RegistryTarget(parse_endpoint("tcp -h 127.0.0.1 -p 1"), 1 << 20)
    client = AdminClient(placeholder)

    async def serve() -> tuple[WireServer, RegistryTarget]:
        # The registry's client endpoints speak Shoal's wire protocol, as the CLI does.
        server = WireServer(max_message_bytes=1 << 20, name="the fake registry")
        server.add_service(admin_pb2.DESCRIPTOR.services_by_name["Admin"], fake)
        bound = await server.listen("tcp -h 127.0.0.1 -p 0")
        return server, RegistryTarget(bound[0], 1 << 20)

    server, target = client.run(serve())  # served by the client's own loop
    client.target, client.api = target, AdminApi(target)
    try:
        yield Console(client, fake)
    finally:
        client.run(server.stop(None))
        client.close()


def test_server_list_and_state(console: Console) -> None:
    assert console("server list") == ["Blitz-0", "Processor-1"]
    assert console("server state Blitz-0") == ["active (pid = 99, enabled)"]
    assert console("server pid Blitz-0") == ["99"]


def test_an_unknown_server_is_a_not_found_error(console: Console) -> None:
    with pytest.raises(ServerNotFoundError, match="no server `Nope'"):
        console("server state Nope")


def test_node_ping_says_up_or_down_and_fails_when_down(console: Console) -> None:
    assert console("node ping master") == ["node is up"]
    with pytest.raises(NodeUnreachableError, match="node node1 does not answer"):
        console("node ping node1")
    assert console.lines == ["node is down"]  # icegridadmin's words, then the failure
    assert console("registry ping") == ["registry is up"]


def test_the_pid_of_a_server_whose_node_is_down_is_an_error_naming_the_node(
    console: Console,
) -> None:
    with pytest.raises(ShoalError) as caught:
        console("server pid Processor-1")
    assert caught.value.message == "server Processor-1 is not running (node node1 is down)"
    assert exit_code_for(caught.value) != 0


def test_starting_an_active_server_says_so_and_asks_nothing(console: Console) -> None:
    assert console("server start Blitz-0") == ["server Blitz-0 is already active (pid 99)"]
    assert console.fake.started == []
    assert console("server start Processor-1") == []
    assert console.fake.started == ["Processor-1"]


def test_stopping_an_always_server_says_it_comes_back_and_how_to_keep_it_down(
    console: Console,
) -> None:
    assert console("server stop Processor-1") == [
        "server Processor-1 stopped; activation is `always`, so the node starts it again:"
        " `server disable Processor-1` keeps it down"
    ]
    assert console("server stop Blitz-0") == []


def run_script(console: Console, script: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    """Feed `script` to the interactive console through a pipe (not a terminal)."""
    read_end, write_end = os.pipe()
    os.write(write_end, script.encode())
    os.close(write_end)
    with os.fdopen(read_end) as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        errors = io.StringIO()
        with contextlib.redirect_stderr(errors):
            session = Session(console.client.api, None, Output(console.lines.append, print))
            code = interactive(console.client, session)
    return code, errors.getvalue()


def test_a_script_goes_on_after_a_failure_and_exits_non_zero(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    console.lines.clear()
    code, errors = run_script(console, "server state Nope\nserver state Blitz-0\n", monkeypatch)
    assert "active (pid = 99, enabled)" in console.lines  # the line after the failure ran
    assert errors.startswith("shoal: no server `Nope'")
    assert "error:" not in errors
    assert code == EXIT_NOT_FOUND


def test_a_script_without_failures_exits_zero(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_script(console, "server list\n", monkeypatch) == (0, "")


def test_the_deploy_summary_uses_the_words_of_its_rows() -> None:
    reply = admin_pb2.DeployReply(
        application="App",
        revision=2,
        restarted=[
            admin_pb2.ChangedServer(server_id="A", changed_fields=["options"], running=True),
            admin_pb2.ChangedServer(server_id="B", changed_fields=["options"], running=False),
        ],
    )
    assert deploy_lines(reply) == [
        "application `App' revision 2: 0 added, 0 removed, 1 restarted, 1 reloaded, 0 unchanged",
        "  restarted  A (options)",
        "  reloaded   B (options)",
    ]


def test_server_signal_reaches_the_registry(console: Console) -> None:
    assert console("server signal Blitz-0 SIGHUP") == []
    assert console.fake.signals == [("Blitz-0", "SIGHUP")]


def test_server_output_is_written_as_bytes(console: Console) -> None:
    console("server stdout Blitz-0 --tail 2")
    assert b"".join(console.raw) == b"line 1\nline 2\n"


def test_exit_and_help_are_console_words(console: Console) -> None:
    session = Session(console.client.api, None, Output(console.lines.append, console.raw.append))
    assert execute(console.client, session, ["exit"]) is False
    assert execute(console.client, session, ["help", "registry"]) is True


def test_application_update_takes_icegridadmins_no_restart_flag(
    console: Console, tmp_path: Any
) -> None:
    descriptor = tmp_path / "app.xml"
    descriptor.write_text(
        '<icegrid><application name="App"><node name="n">'
        '<server id="s" exe="sleep"/></node></application></icegrid>'
    )
    console(f"application update -n {descriptor}")
    console(f"application update {descriptor}")
    assert [d.no_restart for d in console.fake.deploys] == [True, False]
    assert [d.mode for d in console.fake.deploys] == [admin_pb2.DeployRequest.UPDATE] * 2
    with pytest.raises(ConsoleUsageError):
        console(f"application add -n {descriptor}")  # -n is update's flag only
