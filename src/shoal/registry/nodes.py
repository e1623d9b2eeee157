"""Node sessions: the registry's link to each node (every call it makes to a node, with its
deadline and errors) and the table of live sessions, each expiring on its own timer."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from shoal.config.endpoints import ANY_HOST, EndpointParseError, parse_endpoint, parse_endpoints
from shoal.errors import NodeUnreachableError, SessionExpiredError, ShoalError, UnreachableError
from shoal.rpc import common_pb2, internal_pb2
from shoal.rpc.detail import Peer
from shoal.rpc.tls import TlsConfig
from shoal.rpc.wire import Stub, WireChannel

__all__ = ["CALL_TIMEOUT", "PING_TIMEOUT", "NodeLink", "NodeSession", "SessionTable"]

log = logging.getLogger("shoal.registry")

#: How long a node has to answer the ping that decides whether a node name is still held.
PING_TIMEOUT = 2.0
#: Deadline of quick calls (enable, disable, signal, load, destroy).
CALL_TIMEOUT = 10.0
_UNSPECIFIED_HOSTS = frozenset({ANY_HOST, "0.0.0.0", "::", "[::]"})
#: The Node service (internal.proto), as nodes serve it on IceGrid.Node.Endpoints.
NODE_SERVICE = internal_pb2.DESCRIPTOR.services_by_name["Node"]


def node_endpoint(endpoints: str, peer_host: str | None) -> str:
    """The endpoint to call a node on, from the endpoints it reported: its first tcp or ssl
    one; a node bound to every interface (`-h *`) is called at the address it came from."""
    try:
        parsed = parse_endpoints(endpoints)
    except EndpointParseError as error:
        raise NodeUnreachableError(
            f"the node reported endpoints the registry cannot use: {error}",
            "check IceGrid.Node.Endpoints in the node's config",
            address=endpoints,
        ) from error
    usable = [e for e in parsed if e.transport in ("tcp", "ssl")]
    if not usable:
        raise NodeUnreachableError(
            f"the node reported no tcp or ssl endpoint: `{endpoints}'",
            "set IceGrid.Node.Endpoints to a tcp or ssl endpoint",
            address=endpoints,
        )
    endpoint = usable[0]
    if (endpoint.host is None or endpoint.host in _UNSPECIFIED_HOSTS) and peer_host:
        endpoint = replace(endpoint, host=peer_host)
    return str(endpoint)


def peer_host(peer: str) -> str | None:
    """The host part of a peer string (`ipv4:127.0.0.1:5000`, `ipv6:[::1]:5000`: gRPC's form,
    which Shoal's wire protocol keeps)."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0] or None
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]") or None
    return None


class NodeLink:
    """The connection to one node (Shoal's wire protocol). Errors come out as ShoalErrors
    naming the node; an unreachable node is a NodeUnreachableError (NODE_UNREACHABLE in the
    contract)."""

    def __init__(
        self, name: str, address: str, *, max_message_bytes: int, tls: TlsConfig | None
    ) -> None:
        self.name = name
        self.address = address
        # Server pushes to one node happen one at a time, each computed when it is sent, so a
        # registration's complete load and a deploy's partial one never cross.
        self.push_lock = asyncio.Lock()
        self._peer = Peer.node(name, address)
        try:
            endpoint = parse_endpoint(address)
        except EndpointParseError as exc:
            raise NodeUnreachableError(
                f"node {name} reported an endpoint the registry cannot use: {exc}",
                "check IceGrid.Node.Endpoints in the node's config",
                node=name,
                address=address,
            ) from exc
        self._channel = WireChannel(
            endpoint, max_message_bytes=max_message_bytes, tls=tls, peer=self._peer
        )
        self._stub: Any = Stub(self._channel, NODE_SERVICE)
        self._closed = False

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except NodeUnreachableError:
            raise
        except UnreachableError as error:
            raise NodeUnreachableError(
                error.message, error.hint, node=self.name, address=self.address
            ) from error

    async def ping(self, deadline: float = PING_TIMEOUT) -> internal_pb2.PingReply:
        with self._errors():
            reply: internal_pb2.PingReply = await self._stub.Ping(
                internal_pb2.PingRequest(), timeout=deadline
            )
        return reply

    async def wait_until_lost(self) -> str | None:
        """Return once the node looks gone: its connection dropped or could not be made, and
        one ping right after finds nobody there. Event-driven (the connection's end), no
        polling: a node killed outright is noticed in moments, not after the session timeout.
        Returns the reason, or None when this link was closed first."""
        while not self._closed:
            try:
                await self._channel.wait_disconnected()
            except UnreachableError as error:
                if self._closed:
                    break
                return f"unreachable: {error.message}"
            if self._closed:
                break
            # The node dying, or just a connection dropped by the network: ask it.
            try:
                await self.ping()
            except NodeUnreachableError as error:
                return f"unreachable: {error.message}"
            except ShoalError as error:  # slow, not gone: the session timeout decides
                log.info("node %s: ping after a connection change failed: %s", self.name, error)
        return None

    async def load_servers(
        self, request: internal_pb2.LoadServersRequest, deadline: float
    ) -> internal_pb2.LoadServersReply:
        with self._errors():
            reply: internal_pb2.LoadServersReply = await self._stub.LoadServers(
                request, timeout=deadline
            )
        return reply

    async def destroy_servers(self, server_ids: list[str], deadline: float) -> None:
        with self._errors():
            await self._stub.DestroyServers(
                internal_pb2.DestroyServersRequest(server_ids=server_ids), timeout=deadline
            )

    async def start_server(self, server_id: str, deadline: float) -> common_pb2.ServerStatus:
        with self._errors():
            reply = await self._stub.StartServer(
                internal_pb2.StartServerRequest(server_id=server_id), timeout=deadline
            )
        status: common_pb2.ServerStatus = reply.status
        return status

    async def stop_server(self, server_id: str, deadline: float) -> common_pb2.ServerStatus:
        with self._errors():
            reply = await self._stub.StopServer(
                internal_pb2.StopServerRequest(server_id=server_id), timeout=deadline
            )
        status: common_pb2.ServerStatus = reply.status
        return status

    async def set_enabled(self, server_id: str, enabled: bool) -> common_pb2.ServerStatus:
        with self._errors():
            if enabled:
                reply = await self._stub.EnableServer(
                    internal_pb2.EnableServerRequest(server_id=server_id), timeout=CALL_TIMEOUT
                )
            else:
                reply = await self._stub.DisableServer(
                    internal_pb2.DisableServerRequest(server_id=server_id), timeout=CALL_TIMEOUT
                )
        status: common_pb2.ServerStatus = reply.status
        return status

    async def signal_server(self, server_id: str, signal: str) -> None:
        with self._errors():
            await self._stub.SignalServer(
                internal_pb2.SignalServerRequest(server_id=server_id, signal=signal),
                timeout=CALL_TIMEOUT,
            )

    async def output(
        self, request: internal_pb2.OutputRequest
    ) -> AsyncIterator[common_pb2.OutputChunk]:
        """The node's output stream, chunk by chunk, until it ends or the caller stops."""
        replies = self._stub.Output(request)
        try:
            with self._errors():
                async for reply in replies:
                    yield reply.chunk
        finally:
            await replies.aclose()  # the node stops sending

    async def get_load(self) -> common_pb2.LoadInfo:
        with self._errors():
            reply = await self._stub.GetLoad(internal_pb2.GetLoadRequest(), timeout=CALL_TIMEOUT)
        load: common_pb2.LoadInfo = reply.load
        return load

    async def shutdown(self, *, stop_servers: bool, deadline: float) -> None:
        with self._errors():
            await self._stub.Shutdown(
                internal_pb2.ShutdownRequest(stop_servers=stop_servers), timeout=deadline
            )

    async def close(self) -> None:
        self._closed = True
        await self._channel.close()


@dataclass(eq=False)
class NodeSession:
    """A node's live session: what it said about itself, how to reach it, when it was heard."""

    session_id: str
    info: common_pb2.NodeInfo
    link: NodeLink
    started_at: float
    last_seen: float
    load: common_pb2.LoadInfo = field(default_factory=common_pb2.LoadInfo)
    expiry: asyncio.TimerHandle | None = None
    #: The task watching the link's connectivity (NodeSync.watch), cancelled when it ends.
    watch: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return str(self.info.name)


class SessionTable:
    """Live sessions by node name and by id. Each session has one timer, re-armed by every sign
    of life; when it fires the session is gone and `on_expired` is told (no polling)."""

    def __init__(
        self,
        timeout: float,
        on_expired: Callable[[NodeSession], None],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.timeout = timeout
        self._on_expired = on_expired
        self.clock = clock
        self._by_name: dict[str, NodeSession] = {}
        self._by_id: dict[str, NodeSession] = {}

    def get(self, name: str) -> NodeSession | None:
        return self._by_name.get(name)

    def all(self) -> list[NodeSession]:
        return sorted(self._by_name.values(), key=lambda s: s.name)

    def find(self, session_id: str) -> NodeSession:
        """The live session with this id, or SessionExpiredError (the node registers again)."""
        session = self._by_id.get(session_id)
        if session is None:
            raise SessionExpiredError(
                "the node session is unknown or expired",
                "the node registers again (it does so by itself)",
            )
        return session

    def open(self, info: common_pb2.NodeInfo, link: NodeLink) -> NodeSession:
        """A new session for `info.name`; the caller has dropped any previous one."""
        now = self.clock()
        # 128 random bits as 32 hex digits (uuid4().hex's form; the uuid module would load
        # platform too, for nothing).
        session_id = os.urandom(16).hex()
        session = NodeSession(session_id, info, link, started_at=now, last_seen=now)
        self._by_name[session.name] = session
        self._by_id[session.session_id] = session
        self._arm(session)
        return session

    def touch(self, session: NodeSession) -> None:
        """A sign of life: push the expiry back."""
        session.last_seen = self.clock()
        self._arm(session)

    def close(self, session: NodeSession) -> bool:
        """Drop a session (the caller closes its link); False if it was already gone."""
        if self._by_id.pop(session.session_id, None) is None:
            return False
        if self._by_name.get(session.name) is session:
            del self._by_name[session.name]
        if session.expiry is not None:
            session.expiry.cancel()
            session.expiry = None
        return True

    def close_all(self) -> list[NodeSession]:
        sessions = list(self._by_id.values())
        for session in sessions:
            self.close(session)
        return sessions

    def _arm(self, session: NodeSession) -> None:
        if session.expiry is not None:
            session.expiry.cancel()
        loop = asyncio.get_running_loop()
        session.expiry = loop.call_later(self.timeout, self._expire, session)

    def _expire(self, session: NodeSession) -> None:
        session.expiry = None
        if self.close(session):
            log.warning(
                "node %s: session expired (no keepalive for %s s)", session.name, self.timeout
            )
            self._on_expired(session)
