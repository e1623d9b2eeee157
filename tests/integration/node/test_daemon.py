"""The node daemon as a process (`python -m shoal.node.daemon`), against a stand-in registry
served by the test in Shoal's wire protocol (its Locator on the client endpoint, its Registry on
the internal one): the ready pipe, registration, reports, refusals and a clean SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from shoal.config.endpoints import format_endpoints, parse_endpoint
from shoal.descriptor.model import Activation
from shoal.errors import NodeActiveError
from shoal.rpc import common_pb2, internal_pb2, locator_pb2
from shoal.rpc.convert import server_to_pb
from shoal.rpc.wire import Stub, WireChannel, WireServer

from .conftest import WAIT, server, until

pytestmark = pytest.mark.slow

LOCATOR_SERVICE = locator_pb2.DESCRIPTOR.services_by_name["Locator"]
REGISTRY_SERVICE = internal_pb2.DESCRIPTOR.services_by_name["Registry"]
NODE_SERVICE = internal_pb2.DESCRIPTOR.services_by_name["Node"]


@dataclass
class StandInRegistry:
    """Locator + Registry as the node sees them; records what the node says."""

    refuse: Exception | None = None
    registrations: list[Any] = field(default_factory=list)
    reports: list[Any] = field(default_factory=list)
    unregistered: list[str] = field(default_factory=list)
    internal: str = ""

    # Locator (served as is: the Locator methods it lacks answer "not implemented")
    async def FindRegistry(self, request: Any, context: Any) -> Any:
        return locator_pb2.FindRegistryReply(
            instance_name="IceGrid", replica_name="Master", internal_endpoints=self.internal
        )

    # Registry (served as is too, on the internal endpoint)
    async def RegisterNode(self, request: Any, context: Any) -> Any:
        if self.refuse is not None:
            raise self.refuse
        self.registrations.append(request)
        return internal_pb2.RegisterNodeReply(
            session_id="s-1", keepalive_seconds=1, session_timeout_seconds=3
        )

    async def Keepalive(self, request: Any, context: Any) -> Any:
        return internal_pb2.KeepaliveReply()

    async def ReportState(self, request: Any, context: Any) -> Any:
        self.reports.extend(request.servers)
        return internal_pb2.ReportStateReply()

    async def UnregisterNode(self, request: Any, context: Any) -> Any:
        self.unregistered.append(request.reason)
        return internal_pb2.UnregisterNodeReply()


@dataclass
class Grid:
    site: Path
    registry: StandInRegistry


@pytest_asyncio.fixture
async def grid(tmp_path: Path) -> AsyncIterator[Grid]:
    registry = StandInRegistry()
    client = WireServer(max_message_bytes=1 << 24, name="the stand-in registry")
    client.add_service(LOCATOR_SERVICE, registry)
    internal = WireServer(max_message_bytes=1 << 24, name="the stand-in registry")
    internal.add_service(REGISTRY_SERVICE, registry)
    registry.internal = format_endpoints(await internal.listen("tcp -h 127.0.0.1 -p 0"))
    client_bound = await client.listen("tcp -h 127.0.0.1 -p 0")
    site = tmp_path / "site"
    (site / "etc" / "grid").mkdir(parents=True)
    (site / "etc" / "internal.cfg").write_text(
        f"Ice.Default.Locator=IceGrid/Locator:{format_endpoints(client_bound)}\n"
    )
    (site / "etc" / "node1.cfg").write_text(
        "IceGrid.Node.Name=node1\nIceGrid.Node.Endpoints=tcp -h 127.0.0.1\n"
        "IceGrid.Node.Data=var/node1\nIceGrid.Node.Output=var/log\n"
    )
    try:
        yield Grid(site, registry)
    finally:
        await client.stop(None)
        await internal.stop(None)


@dataclass
class Daemon:
    process: asyncio.subprocess.Process
    ready: asyncio.StreamReader

    async def ready_line(self) -> str:
        return (await asyncio.wait_for(self.ready.readline(), WAIT)).decode()

    async def exit_code(self) -> int:
        return await asyncio.wait_for(self.process.wait(), WAIT)


@pytest_asyncio.fixture
async def start_daemon() -> AsyncIterator[Any]:
    started: list[Daemon] = []

    async def start(site: Path, name: str = "node1", module: str = "shoal.node.daemon") -> Daemon:
        read_fd, write_fd = os.pipe()
        err_fd = os.open(site / f"{name}.err", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", module, "--site", str(site), "--name", name,
                "--ready-fd", str(write_fd),
                pass_fds=(write_fd,), stdin=asyncio.subprocess.DEVNULL,
                stdout=err_fd, stderr=err_fd,
            )  # fmt: skip
        finally:
            os.close(write_fd)
            os.close(err_fd)
        reader = asyncio.StreamReader()
        await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb")
        )
        daemon = Daemon(process, reader)
        started.append(daemon)
        return daemon

    try:
        yield start
    finally:
        for daemon in started:
            if daemon.process.returncode is None:
                daemon.process.kill()
                await daemon.process.wait()


@pytest.mark.asyncio
async def test_a_node_registers_runs_servers_and_stops_cleanly(
    grid: Grid, start_daemon: Any
) -> None:
    daemon = await start_daemon(grid.site)
    line = await daemon.ready_line()
    assert line == f"ready {daemon.process.pid}\n"
    pidfile = grid.site / "var" / "node1" / "node1.pid"
    assert pidfile.read_text().strip() == str(daemon.process.pid)
    (registration,) = grid.registry.registrations
    info = registration.info
    assert (info.name, info.pid, info.os) == ("node1", daemon.process.pid, os.uname().sysname)
    assert info.data_dir == str(grid.site / "var" / "node1")

    # As the registry would: push the node's servers to the endpoints it registered.
    channel = WireChannel(parse_endpoint(info.endpoints.split(":")[0]), max_message_bytes=1 << 24)
    try:
        stub = Stub(channel, NODE_SERVICE)
        always = server("Always-1", "--show", "env:SHOAL_CONFIG", activation=Activation.ALWAYS)
        await stub.LoadServers(
            internal_pb2.LoadServersRequest(servers=[server_to_pb(always)], complete=True)
        )
        await until(
            lambda: any(r.state == common_pb2.ACTIVE for r in grid.registry.reports),
            "Always-1 reported active",
        )
        active = next(r for r in grid.registry.reports if r.state == common_pb2.ACTIVE)
        server_pid = active.pid
        out = grid.site / "var" / "log" / "Always-1.out"
        await until(lambda: out.exists() and "ready" in out.read_text(), "Always-1 output")
        assert "servers/Always-1/config/config" in out.read_text()
    finally:
        await channel.close()

    daemon.process.send_signal(signal.SIGTERM)
    assert await daemon.exit_code() == 0
    assert not pidfile.exists()
    assert grid.registry.unregistered == ["SIGTERM"]
    # It leaves with os._exit once all is closed: its log is written out first.
    log = (grid.site / "node1.err").read_text().splitlines()
    assert log[-1].endswith("INFO shoal.node: node node1: stopped")
    assert any("server Always-1: Inactive (pid -): stopped" in line for line in log)
    with pytest.raises(ProcessLookupError):  # stopped with its node, and reaped
        os.kill(server_pid, 0)
    assert grid.registry.reports[-1].state == common_pb2.INACTIVE


@pytest.mark.asyncio
async def test_the_lean_entry_runs_the_daemon_without_loading_openssl(
    grid: Grid, start_daemon: Any
) -> None:
    """`python -m shoal.node`: the same daemon, with asyncio imported while `ssl` is hidden
    (the wire protocol loads it for ssl endpoints only): Python's OpenSSL module is never
    loaded."""
    daemon = await start_daemon(grid.site, module="shoal.node")
    assert await daemon.ready_line() == f"ready {daemon.process.pid}\n"
    maps = await asyncio.to_thread(Path(f"/proc/{daemon.process.pid}/maps").read_text)
    assert "/_upb/_message." in maps  # extension modules (protobuf's) do show in the maps
    assert "/_ssl." not in maps
    assert "cygrpc" not in maps  # Shoal's own services speak the wire protocol: no grpc
    daemon.process.send_signal(signal.SIGTERM)
    assert await daemon.exit_code() == 0
    assert grid.registry.unregistered == ["SIGTERM"]


@pytest.mark.asyncio
async def test_a_name_held_by_a_live_node_is_a_start_error(grid: Grid, start_daemon: Any) -> None:
    grid.registry.refuse = NodeActiveError(
        "node node1 is active", node="node1", holder_host="hostA"
    )
    daemon = await start_daemon(grid.site)
    line = await daemon.ready_line()
    assert line.startswith("error node node1 is already active on hostA")
    assert "\t" in line
    assert await daemon.exit_code() == 1
    assert not (grid.site / "var" / "node1" / "node1.pid").exists()


@pytest.mark.asyncio
async def test_a_missing_node_config_is_a_start_error_naming_the_file(
    grid: Grid, start_daemon: Any
) -> None:
    daemon = await start_daemon(grid.site, "node7")
    line = await daemon.ready_line()
    assert line.startswith("error missing ") and "etc/node7.cfg" in line
    assert await daemon.exit_code() == 1


@pytest.mark.asyncio
async def test_a_node_waits_for_its_registry_and_registers_when_it_appears(
    tmp_path: Path, grid: Grid, start_daemon: Any
) -> None:
    """The registry cannot be reached first (the locator is a dead port): the node keeps
    retrying and writes nothing until it is registered; SIGTERM then stops it cleanly."""
    holder = WireServer(max_message_bytes=1 << 20)
    bound = await holder.listen("tcp -h 127.0.0.1 -p 0")
    await holder.stop(None)  # a port nobody answers on (it stays ours: nobody else binds it)
    config = grid.site / "etc" / "internal.cfg"
    config.write_text(f"Ice.Default.Locator=IceGrid/Locator:{format_endpoints(bound)}\n")
    daemon = await start_daemon(grid.site)
    err = grid.site / "node1.err"
    await until(lambda: err.exists() and "retrying" in err.read_text(), "a retry logged")
    assert not grid.registry.registrations
    daemon.process.send_signal(signal.SIGTERM)
    assert await daemon.exit_code() == 0
    assert await daemon.ready.read() == b""  # nothing was reported: not registered


@pytest.mark.asyncio
async def test_a_held_node_starts_only_when_let_go(grid: Grid) -> None:
    """`--hold-fd`: the daemon loads its code, then waits; closed without `go`, it exits 0
    having written nothing (`admin start` with a refused descriptor); with `go`, it starts."""

    async def held(go: bool) -> tuple[int | None, bytes, asyncio.subprocess.Process]:
        hold_read, hold_write = os.pipe()
        ready_read, ready_write = os.pipe()
        err_fd = os.open(grid.site / "held.err", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "shoal.node", "--site", str(grid.site), "--name", "node1",
                "--ready-fd", str(ready_write), "--hold-fd", str(hold_read),
                pass_fds=(ready_write, hold_read), stdin=asyncio.subprocess.DEVNULL,
                stdout=err_fd, stderr=err_fd,
            )  # fmt: skip
        finally:
            for fd in (hold_read, ready_write, err_fd):
                os.close(fd)
        if go:
            os.write(hold_write, b"go\n")
        os.close(hold_write)
        with os.fdopen(ready_read, "rb") as ready:
            line = await asyncio.to_thread(ready.readline)
        if go:
            process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(process.wait(), WAIT), line, process

    code, line, process = await held(go=False)
    assert (code, line) == (0, b"")
    assert not (grid.site / "var" / "node1").exists()
    assert (grid.site / "held.err").read_text() == ""
    assert grid.registry.registrations == []

    code, line, process = await held(go=True)
    assert line == f"ready {process.pid}\n".encode()
    assert code == 0
