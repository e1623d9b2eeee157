"""When is a running server Active: at once, or once its adapters are reachable (IceGrid §2.1).

    spawned ──┬── no server-lifetime adapter ──────────────────────────────────────► Ready
              ├── every adapter endpoint has a fixed port ── connects, or registered ─► Ready
              └── some adapter binds port 0 (or udp) ────── registered ─────────────► Ready

"Registered" means the server's process called Node.RegisterAdapters (shoal.server does) for
every server-lifetime adapter; `AdapterRegistrations` keeps those, per process, for readiness
and for the ServerStatus the node reports. A program that is not built with the SDK can only be
found at ports the descriptor fixes: it is Active once each of them accepts a TCP connection.

Nothing here waits for time to pass: a program that dies in its first moments
(`shoal.node.startup_grace_ms`) is caught by the restart policy, which takes such an exit as a
failure during activation (node/restart.py), not by holding every healthy server back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from shoal.config.endpoints import ANY_HOST, EndpointParseError, parse_endpoints, resolve_endpoint
from shoal.descriptor.model import Adapter, ServerDescription
from shoal.node.activator import RunningProcess
from shoal.node.hooks import Readiness
from shoal.rpc import common_pb2

__all__ = [
    "AdapterReadiness",
    "AdapterRegistrations",
    "RegisteredAdapter",
    "declared_adapters",
    "listen_addresses",
    "server_lifetime_adapters",
]

_log = logging.getLogger(__name__)

# Transports a TCP connect can probe (ws and ssl listen on TCP too).
_TCP_TRANSPORTS = frozenset({"tcp", "ssl", "ws", "wss"})
# Where to connect for an adapter bound to every interface.
_WILDCARD_TARGET = {ANY_HOST: "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}

Connect = Callable[[str, int], Awaitable[bool]]


@dataclass(frozen=True)
class RegisteredAdapter:
    """One adapter a server process registered: its id and bound endpoints (Ice form)."""

    adapter_id: str
    endpoints: str
    replica_group: str = ""

    def to_pb(self) -> common_pb2.AdapterStatus:
        return common_pb2.AdapterStatus(
            adapter_id=self.adapter_id, endpoints=self.endpoints, replica_group=self.replica_group
        )


class AdapterRegistrations:
    """What each server's current process registered (Node.RegisterAdapters), keyed by pid so
    that a new process starts with nothing and an exited one's adapters are never shown."""

    def __init__(self) -> None:
        self._by_server: dict[str, tuple[int, dict[str, RegisteredAdapter]]] = {}
        self._changed: dict[str, asyncio.Event] = {}

    def register(self, server_id: str, pid: int, adapters: Iterable[RegisteredAdapter]) -> None:
        """Add (or replace, by id) adapters of process `pid`; another pid's are dropped."""
        held_pid, held = self._by_server.get(server_id, (pid, {}))
        current = dict(held) if held_pid == pid else {}
        for adapter in adapters:
            current[adapter.adapter_id] = adapter
        self._by_server[server_id] = (pid, current)
        self._wake(server_id)

    def unregister(self, server_id: str) -> None:
        """The server withdraws every adapter (it is stopping)."""
        if self._by_server.pop(server_id, None) is not None:
            self._wake(server_id)

    def forget(self, server_id: str) -> None:
        self._by_server.pop(server_id, None)
        self._wake(server_id)
        self._changed.pop(server_id, None)

    def current(self, server_id: str, pid: int) -> tuple[RegisteredAdapter, ...]:
        """The adapters process `pid` of the server registered, sorted by id (none if another
        process did, or `pid` is 0)."""
        held_pid, held = self._by_server.get(server_id, (0, {}))
        if not pid or held_pid != pid:
            return ()
        return tuple(held[key] for key in sorted(held))

    async def wait_for(self, server_id: str, pid: int, adapter_ids: Iterable[str]) -> None:
        """Until process `pid` registered every one of `adapter_ids`."""
        wanted = set(adapter_ids)
        while not wanted <= {a.adapter_id for a in self.current(server_id, pid)}:
            await self._event(server_id).wait()

    def _event(self, server_id: str) -> asyncio.Event:
        event = self._changed.get(server_id)
        if event is None:
            event = self._changed[server_id] = asyncio.Event()
        return event

    def _wake(self, server_id: str) -> None:
        event = self._changed.pop(server_id, None)
        if event is not None:
            event.set()


def declared_adapters(server: ServerDescription) -> tuple[Adapter, ...]:
    """Every adapter the description declares (IceBox services' included)."""
    services = server.services or ()
    return (*server.adapters, *(a for service in services for a in service.adapters))


def server_lifetime_adapters(server: ServerDescription) -> tuple[Adapter, ...]:
    """The adapters whose registration Active waits for."""
    return tuple(a for a in declared_adapters(server) if a.server_lifetime)


def listen_addresses(adapters: Sequence[Adapter]) -> tuple[tuple[str, int], ...] | None:
    """(host, port) pairs a connect can probe, or None when some endpoint has no fixed port
    (no `-p`, `-p 0`), is not over TCP, or does not parse: then only registration tells."""
    targets: list[tuple[str, int]] = []
    for adapter in adapters:
        try:
            endpoints = parse_endpoints(adapter.endpoints)
        except EndpointParseError:
            return None
        if not endpoints:
            return None
        for endpoint in endpoints:
            resolved = resolve_endpoint(endpoint, for_server=True)
            if resolved.transport not in _TCP_TRANSPORTS or not resolved.port:
                return None
            host = resolved.host or ANY_HOST
            target = (_WILDCARD_TARGET.get(host, host), resolved.port)
            if target not in targets:
                targets.append(target)
    return tuple(targets)


_CONNECT_TIMEOUT = 1.0


def fixed_port_adapters(server: ServerDescription) -> tuple[RegisteredAdapter, ...]:
    """The declared adapters whose every endpoint has a fixed TCP port, as registrations."""
    return tuple(
        RegisteredAdapter(adapter.id, adapter.endpoints, adapter.replica_group)
        for adapter in declared_adapters(server)
        if listen_addresses((adapter,)) is not None
    )


async def can_connect(host: str, port: int) -> bool:
    """One TCP connect attempt (a second at most): does something listen at host:port?"""
    try:
        async with asyncio.timeout(_CONNECT_TIMEOUT):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


class AdapterReadiness(Readiness):
    """Active = every server-lifetime adapter is reachable: registered by the server
    (shoal.server), or, when every endpoint has a fixed port, accepting connections. Without
    adapters, at once (IceGrid's rule for a server without adapters).

    The port probe retries with a short back-off (`first_delay` doubling to `max_delay`) for
    at most the server's activation timeout, then gives up: a connect attempt is its own event
    source, and the bound keeps a server that never listens from being probed forever (it is
    ActivationTimedOut by then; a later registration still makes it Active).
    """

    def __init__(
        self,
        registrations: AdapterRegistrations,
        *,
        wait_time: float = 60.0,
        connect: Connect = can_connect,
        first_delay: float = 0.02,
        max_delay: float = 0.5,
    ) -> None:
        self.registrations = registrations
        self.wait_time = wait_time  # IceGrid.Node.WaitTime: a 0 activation timeout means this
        self._connect = connect
        self._first_delay = first_delay
        self._max_delay = max_delay

    def check(self, server: ServerDescription, process: RunningProcess) -> Awaitable[None] | None:
        adapters = server_lifetime_adapters(server)
        if not adapters:
            return None
        return self._reachable(server, process.pid, adapters)

    async def _reachable(
        self, server: ServerDescription, pid: int, adapters: Sequence[Adapter]
    ) -> None:
        registered = asyncio.ensure_future(
            self.registrations.wait_for(server.id, pid, (a.id for a in adapters))
        )
        targets = listen_addresses(adapters)
        if targets is None:
            await registered
            return
        timeout = float(server.activation_timeout or self.wait_time)
        probe = asyncio.ensure_future(self._listening(server.id, targets, timeout))
        try:
            done, _ = await asyncio.wait({registered, probe}, return_when=asyncio.FIRST_COMPLETED)
            if registered in done:
                return
            if probe.result():
                # A program without the SDK: its fixed endpoints are where clients find it, so
                # the node registers them for it (for this pid) before calling it Active.
                self.registrations.register(server.id, pid, fixed_port_adapters(server))
                return
            _log.warning(
                "server %s: nothing listens at %s after %g s; waiting for it to register",
                server.id,
                ", ".join(f"{host}:{port}" for host, port in targets),
                timeout,
            )
            await registered
        finally:
            for task in (registered, probe):
                task.cancel()

    async def _listening(
        self, server_id: str, targets: Sequence[tuple[str, int]], limit: float
    ) -> bool:
        """True once every target accepts a connection; False after `limit` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        pending = list(targets)
        delay = self._first_delay
        while True:
            pending = [t for t in pending if not await self._connect(*t)]
            if not pending:
                _log.info("server %s: listening at its fixed ports", server_id)
                return True
            if loop.time() + delay > deadline:
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_delay)
