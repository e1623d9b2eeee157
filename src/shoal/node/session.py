"""The node's side of its registry session: find the registry, register, keep alive, report.

`Locator.FindRegistry` at `Ice.Default.Locator`'s endpoint gives the internal endpoints; then
`Registry.RegisterNode`, `Keepalive` every `keepalive_seconds` (sooner when the connection
drops: the channel says so) and `ReportState` for every status change, in order, in batches,
all in Shoal's wire protocol. A lost registry (unreachable, SESSION_EXPIRED) means registering
again with back-off (0.1 s doubling to 5 s) while the servers keep running. Refusals at the
first registration (NODE_ACTIVE, NOT_FOUND_NODE, PERMISSION_DENIED) are fatal: `failed` is set
with the error.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

from shoal.config.endpoints import ANY_HOST, Endpoint, parse_endpoints
from shoal.errors import (
    ConfigError,
    NodeActiveError,
    NodeNotFoundError,
    PermissionDeniedError,
    ShoalError,
)
from shoal.node.service import current_load
from shoal.rpc import common_pb2, internal_pb2, locator_pb2
from shoal.rpc.detail import Peer
from shoal.rpc.tls import TlsConfig
from shoal.rpc.wire import Stub, WireChannel

__all__ = ["NodeSession", "SessionSettings"]

_log = logging.getLogger(__name__)
#: The Registry service (internal.proto): node sessions, on the registry's internal endpoints.
_REGISTRY_SERVICE = internal_pb2.DESCRIPTOR.services_by_name["Registry"]
#: The locator's call that says where the registry's internal (session) endpoints are.
FIND_REGISTRY = "/shoal.v1.Locator/FindRegistry"
_FATAL = (NodeActiveError, NodeNotFoundError, PermissionDeniedError, ConfigError)


@dataclass(frozen=True)
class SessionSettings:
    node_name: str
    locator: Endpoint  # Ice.Default.Locator's first endpoint, resolved for connecting
    max_message_bytes: int
    tls: TlsConfig | None = None
    backoff_initial: float = 0.1
    backoff_cap: float = 5.0
    call_timeout: float = 10.0
    default_keepalive: float = 15.0  # when the registry names no period


class NodeSession:
    """One node's registration with the registry, kept up for the node's whole life."""

    def __init__(
        self,
        settings: SessionSettings,
        *,
        node_info: Callable[[], common_pb2.NodeInfo],
        running_servers: Callable[[], list[common_pb2.ServerStatus]],
        report_state: Callable[[internal_pb2.ReportStateRequest], Awaitable[object]] | None = None,
        unregister_node: Callable[[internal_pb2.UnregisterNodeRequest], Awaitable[object]]
        | None = None,
    ) -> None:
        self.settings = settings
        self._node_info = node_info
        self._running_servers = running_servers
        #: The collocated registry's own ReportState (the master): reports skip the wire.
        self._report_state = report_state
        self._unregister_node = unregister_node  # the same, for the goodbye
        #: Set while a session is open; cleared when it is lost.
        self.registered = asyncio.Event()
        #: Set when registering was refused for good; `error` says why.
        self.failed = asyncio.Event()
        self.error: ShoalError | None = None
        self._ever_registered = False
        self._session_id = ""
        self._channel: WireChannel | None = None
        self._stub: Any = None  # the Registry service on _channel
        self._keepalive = settings.default_keepalive
        self._pending: deque[tuple[int, common_pb2.ServerStatus]] = deque()
        self._sequence = 0
        self._report_wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: The ReportState being sent, until it is done (see `_send_reports`).
        self._sending: asyncio.Future[object] | None = None

    # ----------------------------------------------------------------- the daemon's side

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="node session")

    def report(self, status: common_pb2.ServerStatus) -> None:
        """Queue a status change for ReportState (sent in order, batched)."""
        self._sequence += 1
        self._pending.append((self._sequence, status))
        self._report_wanted.set()

    async def close(self, reason: str) -> None:
        """Stop the session: UnregisterNode if registered (best effort), close the channel."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._sending is not None:  # it goes on: sent again below, it would be written twice
            await asyncio.wait([self._sending], timeout=self.settings.call_timeout)
        if self._stub is not None and self._session_id and self.registered.is_set():
            stub = self._stub
            try:
                if self._pending:  # the last changes (servers stopped) before the goodbye
                    request = internal_pb2.ReportStateRequest(
                        session_id=self._session_id, servers=[s for _, s in self._pending]
                    )
                    if self._report_state is not None:  # the collocated registry: no wire
                        await self._report_state(request)
                    else:
                        await stub.ReportState(request, timeout=self.settings.call_timeout)
                    self._pending.clear()
                goodbye = internal_pb2.UnregisterNodeRequest(
                    session_id=self._session_id, reason=reason
                )
                if self._unregister_node is not None:
                    await self._unregister_node(goodbye)
                else:
                    await stub.UnregisterNode(goodbye, timeout=self.settings.call_timeout)
                _log.info("unregistered from the registry (%s)", reason)
            except ShoalError as error:
                _log.warning("could not unregister from the registry: %s", error.message)
        self.registered.clear()
        await self._close_channel()

    # ----------------------------------------------------------------- the loop

    async def _run(self) -> None:
        delay = self.settings.backoff_initial
        while True:
            try:
                await self._register()
                delay = self.settings.backoff_initial
                await self._serve()
            except _FATAL as error:
                if not self._ever_registered:
                    _log.error("registration refused: %s", error.message)
                    self.error = error
                    self.failed.set()
                    return
                # A refusal after a registry restart may be transient (the old session is not
                # reaped yet): keep trying, slowly, as IceGrid nodes do.
                _log.error("registration refused: %s; retrying", error.message)
                delay = self.settings.backoff_cap
            except ShoalError as error:
                level = logging.WARNING if self.registered.is_set() else logging.INFO
                _log.log(level, "registry session: %s; retrying in %g s", error.message, delay)
            except Exception:  # a bug: logged, and the node keeps trying rather than going deaf
                _log.exception("registry session failed; retrying in %g s", delay)
            self.registered.clear()
            await self._close_channel()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.backoff_cap)

    async def _register(self) -> None:
        settings = self.settings
        peer = Peer.registry(str(settings.locator))
        # New channels per attempt: nothing of a lost registry is kept.
        locator = WireChannel(
            settings.locator,
            max_message_bytes=settings.max_message_bytes,
            tls=settings.tls,
            peer=peer,
        )
        try:
            found = await locator.unary(
                FIND_REGISTRY,
                locator_pb2.FindRegistryRequest(),
                locator_pb2.FindRegistryReply,
                deadline=settings.call_timeout,
            )
        finally:
            await locator.close()
        internal = self._internal_endpoint(found.internal_endpoints)
        self._channel = WireChannel(
            internal,
            max_message_bytes=settings.max_message_bytes,
            tls=settings.tls,
            peer=Peer.registry(str(internal)),
        )
        stub = self._stub = Stub(self._channel, _REGISTRY_SERVICE)
        cut = self._sequence  # the statuses sent with the registration supersede these reports
        request = internal_pb2.RegisterNodeRequest(
            info=self._node_info(), servers=self._running_servers(), load=current_load()
        )
        reply = await stub.RegisterNode(request, timeout=settings.call_timeout)
        while self._pending and self._pending[0][0] <= cut:
            self._pending.popleft()
        self._session_id = reply.session_id
        self._keepalive = float(reply.keepalive_seconds or settings.default_keepalive)
        self._ever_registered = True
        self.registered.set()
        _log.info(
            "registered with the registry at %s as node %s (session %s, keepalive %g s)",
            internal,
            settings.node_name,
            reply.session_id,
            self._keepalive,
        )

    def _internal_endpoint(self, text: str) -> Endpoint:
        """The first internal endpoint the registry gave, reachable from here."""
        endpoints = [e for e in parse_endpoints(text) if e.transport in ("tcp", "ssl")]
        if not endpoints:
            raise ShoalError(
                f"the registry gave no usable internal endpoint (`{text}')",
                "check IceGrid.Registry.Internal.Endpoints in etc/master.cfg",
            )
        chosen = endpoints[0]
        if chosen.host in (None, ANY_HOST, "0.0.0.0", "::"):
            # Bound on every interface: reach it where the locator was reached.
            chosen = replace(chosen, host=self.settings.locator.host)
        return chosen

    async def _serve(self) -> None:
        """Keepalives and reports until one fails; the failure ends the session."""
        tasks = [
            asyncio.create_task(self._keep_alive(), name="keepalive"),
            asyncio.create_task(self._send_reports(), name="report state"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _keep_alive(self) -> None:
        stub = self._stub
        assert stub is not None
        while True:
            await self._idle(self._keepalive)
            reply = await stub.Keepalive(
                internal_pb2.KeepaliveRequest(session_id=self._session_id, load=current_load()),
                timeout=self.settings.call_timeout,
            )
            if reply.keepalive_seconds:
                self._keepalive = float(reply.keepalive_seconds)

    async def _idle(self, period: float) -> None:
        """Wait `period` seconds, or less if the connection to the registry drops (a keepalive
        then finds out at once whether the registry is gone)."""
        channel = self._channel
        assert channel is not None
        if not channel.connected:
            await asyncio.sleep(period)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(channel.wait_disconnected(), period)

    async def _send_reports(self) -> None:
        stub = self._stub
        assert stub is not None
        while True:
            await self._report_wanted.wait()
            self._report_wanted.clear()
            while self._pending:
                batch = list(self._pending)
                request = internal_pb2.ReportStateRequest(
                    session_id=self._session_id, servers=[s for _, s in batch]
                )
                if self._report_state is not None:
                    sending = asyncio.ensure_future(self._report_state(request))
                else:
                    sending = asyncio.ensure_future(
                        stub.ReportState(request, timeout=self.settings.call_timeout)
                    )
                # A close (which cancels this task) lets the call finish, and the batch
                # leaves the queue when it is through, whoever waits for it.
                self._sending = sending
                sending.add_done_callback(functools.partial(self._sent, batch[-1][0]))
                await asyncio.shield(sending)
                sending.result()

    def _sent(self, last: int, sending: asyncio.Future[object]) -> None:
        if self._sending is sending:
            self._sending = None
        if not sending.cancelled() and sending.exception() is None:
            while self._pending and self._pending[0][0] <= last:
                self._pending.popleft()

    async def _close_channel(self) -> None:
        channel, self._channel, self._stub = self._channel, None, None
        if channel is not None:
            await channel.close()


async def first_of(*waits: Coroutine[Any, Any, Any]) -> None:
    """Return when the first of these completes; cancel the rest."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
