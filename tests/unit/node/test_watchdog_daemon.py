"""The real node daemon (`python -m shoal.node.daemon`, its wire server running) killed with
SIGKILL: its watchdog stops every server it ran, and their children, then exits.

Reuses the stand-in registry of tests/integration/node/test_daemon.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from integration.node.conftest import WAIT, server, until
from integration.node.test_daemon import Grid, grid, start_daemon
from shoal.config.endpoints import parse_endpoint
from shoal.descriptor.model import Activation
from shoal.node.pidrecord import read_proc_stat
from shoal.rpc import common_pb2, internal_pb2
from shoal.rpc.convert import server_to_pb
from shoal.rpc.wire import Stub, WireChannel

__all__ = ["grid", "start_daemon"]  # fixtures, used by name

pytestmark = pytest.mark.slow
SERVERS = 3


def is_alive(pid: int) -> bool:
    stat = read_proc_stat(pid)
    return stat is not None and stat.alive


def watchdog_of(pid: int) -> int:
    """The daemon's watchdog: its child running shoal/node/watchdog.py."""
    for entry in Path("/proc").iterdir():
        stat = read_proc_stat(int(entry.name)) if entry.name.isdigit() else None
        if stat is None:
            continue
        with contextlib.suppress(OSError):
            status = (entry / "status").read_text()
            ppid = int(next(ln for ln in status.splitlines() if ln.startswith("PPid:")).split()[1])
            if ppid == pid and b"shoal/node/watchdog.py" in (entry / "cmdline").read_bytes():
                return stat.pid
    raise AssertionError(f"node {pid} runs no watchdog")


@pytest.mark.asyncio
async def test_a_sigkilled_node_daemon_leaves_no_server_running(
    grid: Grid, start_daemon: Any
) -> None:
    daemon = await start_daemon(grid.site)
    assert await daemon.ready_line() == f"ready {daemon.process.pid}\n"
    watchdog = watchdog_of(daemon.process.pid)
    endpoints = grid.registry.registrations[0].info.endpoints
    channel = WireChannel(parse_endpoint(endpoints.split(":")[0]), max_message_bytes=1 << 24)
    started: dict[int, int] = {}  # server pid -> start time, for the cleanup
    try:
        servers = [
            server(f"Always-{n}", "--grandchild", activation=Activation.ALWAYS)
            for n in range(SERVERS)
        ]
        await Stub(channel, internal_pb2.DESCRIPTOR.services_by_name["Node"]).LoadServers(
            internal_pb2.LoadServersRequest(
                servers=[server_to_pb(s) for s in servers], complete=True
            )
        )

        def active() -> set[int]:
            return {r.pid for r in grid.registry.reports if r.state == common_pb2.ACTIVE}

        await until(lambda: len(active()) == SERVERS, f"{SERVERS} servers active")
        for pid in active():
            stat = read_proc_stat(pid)
            started[pid] = stat.start_time if stat else 0
        outputs = [grid.site / "var" / "log" / f"Always-{n}.out" for n in range(SERVERS)]
        await until(lambda: all(p.exists() and "ready" in p.read_text() for p in outputs), "ready")
        grandchildren = [
            int(line.split("=")[1])
            for path in outputs
            for line in path.read_text().splitlines()
            if line.startswith("grandchild=")
        ]
        assert len(grandchildren) == SERVERS

        daemon.process.kill()
        await daemon.process.wait()

        everything = [*started, *grandchildren, watchdog]
        await until(lambda: not any(map(is_alive, everything)), "servers and watchdog gone", WAIT)
        err = (grid.site / "node1.err").read_text()
        assert f"shoal watchdog {watchdog}: node gone: stopping {SERVERS} server" in err
    finally:
        await channel.close()
        for pid, start_time in started.items():
            stat = read_proc_stat(pid)
            if stat is None or stat.start_time == start_time:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
