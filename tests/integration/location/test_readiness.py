"""AdapterReadiness with real sockets: a fixed port is probed until it listens, a dynamic one
waits for the server's registration, and a registration by another process does not count."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import cast

import pytest

from shoal.descriptor.model import Adapter, ServerDescription
from shoal.node.activator import RunningProcess
from shoal.node.readiness import (
    AdapterReadiness,
    AdapterRegistrations,
    RegisteredAdapter,
    listen_addresses,
)


class _Process:
    pid = 4242


PROCESS = cast(RunningProcess, _Process())


def server(*adapters: Adapter) -> ServerDescription:
    return ServerDescription(id="S", node="n", application="A", exe="x", adapters=adapters)


@pytest.fixture
def bound_socket() -> Iterator[socket.socket]:
    """A socket holding a port but not listening yet: connects are refused until listen()."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield held


def test_only_fixed_tcp_ports_are_probed() -> None:
    fixed = Adapter("A", "S.A", "tcp -h 127.0.0.1 -p 5000:tcp -h * -p 5001")
    assert listen_addresses([fixed]) == (("127.0.0.1", 5000), ("127.0.0.1", 5001))
    assert listen_addresses([fixed, Adapter("B", "S.B", "tcp -h 127.0.0.1")]) is None
    assert listen_addresses([Adapter("C", "S.C", "tcp -p 0")]) is None
    assert listen_addresses([Adapter("D", "S.D", "udp -p 5002")]) is None


@pytest.mark.asyncio
async def test_a_fixed_port_is_ready_once_it_listens(bound_socket: socket.socket) -> None:
    port = bound_socket.getsockname()[1]
    attempts: list[bool] = []
    probed = asyncio.Event()

    async def connect(host: str, port: int) -> bool:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            attempts.append(False)
            if len(attempts) >= 2:
                probed.set()
            return False
        writer.close()
        attempts.append(True)
        return True

    readiness = AdapterReadiness(AdapterRegistrations(), connect=connect, first_delay=0.01)
    waiting = readiness.check(server(Adapter("W", "S.W", f"tcp -h 127.0.0.1 -p {port}")), PROCESS)
    assert waiting is not None
    task = asyncio.ensure_future(waiting)
    await asyncio.wait_for(probed.wait(), 10)
    assert not task.done()
    bound_socket.listen()
    await asyncio.wait_for(task, 10)
    assert attempts[-1] is True


@pytest.mark.asyncio
async def test_a_dynamic_port_is_ready_once_its_process_registers() -> None:
    registrations = AdapterRegistrations()
    readiness = AdapterReadiness(registrations)
    task = asyncio.ensure_future(
        readiness.check(server(Adapter("H", "S.H", "tcp -h 127.0.0.1")), PROCESS)  # type: ignore[arg-type]
    )
    registrations.register("S", 1, [RegisteredAdapter("S.H", "tcp -h 127.0.0.1 -p 4000")])
    await asyncio.sleep(0)
    assert not task.done()  # another process's registration
    registrations.register("S", PROCESS.pid, [RegisteredAdapter("S.H", "tcp -h 127.0.0.1 -p 4001")])
    await asyncio.wait_for(task, 10)
    assert [a.endpoints for a in registrations.current("S", PROCESS.pid)] == [
        "tcp -h 127.0.0.1 -p 4001"
    ]
    assert registrations.current("S", 0) == ()


def test_a_server_without_adapters_is_ready_at_once() -> None:
    assert AdapterReadiness(AdapterRegistrations()).check(server(), PROCESS) is None
