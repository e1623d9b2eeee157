"""A registry on 127.0.0.1 port 0 over a tmp site, an admin client, and a stand-in node.

`FakeNode` is a tiny Node servicer plus a Registry client acting as a node (RegisterNode,
Keepalive, ReportState); it records what the registry asks of it. It stands in for the real
node daemon at unit level only: the end-to-end tests with the real daemon are done once both
land (see tests/integration/registry/).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shoal.config.endpoints import format_endpoints, parse_endpoint
from shoal.config.properties import Properties
from shoal.config.site import Site
from shoal.registry.service import Registry
from shoal.rpc import admin_pb2, common_pb2, internal_pb2
from shoal.rpc.detail import Peer
from shoal.rpc.wire import Stub, WireChannel, WireServer

MB = 1024 * 1024
WAIT = 10.0
NODE_SERVICE = internal_pb2.DESCRIPTOR.services_by_name["Node"]
REGISTRY_SERVICE = internal_pb2.DESCRIPTOR.services_by_name["Registry"]

APP = """<icegrid>
  <application name="App">
    <node name="node1">
      <server id="S1" exe="/bin/true" activation="manual">
        <property name="Greeting" value="{greeting}"/>
      </server>
      <server id="S2" exe="/bin/true" activation="manual"/>
    </node>
    <node name="node2">
      <server id="S3" exe="/bin/true" activation="manual"/>
    </node>
  </application>
</icegrid>
"""


def app_xml(greeting: str = "hello") -> str:
    return APP.format(greeting=greeting)


def make_site(root: Path) -> Site:
    (root / "etc" / "grid").mkdir(parents=True, exist_ok=True)
    return Site(root.resolve())


def registry_properties(**extra: str) -> Properties:
    values = {
        "IceGrid.Registry.Client.Endpoints": "tcp -h 127.0.0.1 -p 0",
        "IceGrid.Registry.Internal.Endpoints": "tcp -h 127.0.0.1 -p 0",
        "IceGrid.Registry.Data": "var/registry",
    }
    values.update({key.replace("_", "."): value for key, value in extra.items()})
    return Properties.from_mapping(values)


@asynccontextmanager
async def running_registry(
    site: Site, properties: Properties | None = None
) -> AsyncIterator[Registry]:
    registry = Registry(site, properties or registry_properties())
    await registry.start()
    try:
        yield registry
    finally:
        await registry.stop()


@asynccontextmanager
async def admin_client(registry: Registry, max_message_bytes: int = MB) -> AsyncIterator[Stub]:
    """The registry's Admin service, as the CLI calls it (Shoal's wire protocol)."""
    channel = WireChannel(
        parse_endpoint(registry.client_endpoints.split(":")[0]),
        max_message_bytes=max_message_bytes,
    )
    try:
        yield Stub(channel, admin_pb2.DESCRIPTOR.services_by_name["Admin"])
    finally:
        await channel.close()


def stored_revision(site: Site, application: str) -> int | None:
    """The revision in the registry database, read by a second connection (as a node would
    see it at the moment the registry calls it)."""
    connection = sqlite3.connect(site.prefix / "var" / "registry" / "registry.db")
    try:
        row = connection.execute(
            "SELECT revision FROM applications WHERE name = ?", (application,)
        ).fetchone()
    finally:
        connection.close()
    return None if row is None else int(row[0])


async def poll(predicate: Callable[[], bool], what: str, limit: float = WAIT) -> None:
    """Bounded polling for state with no event to wait on; reports what it waited for."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {limit} s waiting for {what}")
        await asyncio.sleep(0.01)


_Context = Any


@dataclass
class FakeNode:
    """A Node servicer that records calls, and a node's side of the session protocol, both in
    Shoal's wire protocol as the real node daemon speaks it. An RPC it lacks answers
    UNIMPLEMENTED."""

    name: str
    hostname: str = "host-a"
    pid: int = field(default_factory=os.getpid)
    on_load: Callable[[internal_pb2.LoadServersRequest], None] | None = None
    # Server ids whose load fails (LoadOutcome.FAILED).
    failing: set[str] = field(default_factory=set)
    # Run by LoadServers and EnableServer before they reply (a ReportState overtaking it).
    before_reply: Callable[[], Awaitable[None]] | None = None
    # Seconds DestroyServers takes (a node stopping a server slow to exit).
    destroy_delay: float = 0.0
    loads: list[internal_pb2.LoadServersRequest] = field(default_factory=list)
    destroyed: list[list[str]] = field(default_factory=list)
    shutdowns: list[bool] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    endpoints: str = ""
    session_id: str = ""
    _server: WireServer | None = None
    _channel: WireChannel | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    # ------------------------------------------------------------------ Node servicer

    async def _note(self, call: str) -> None:
        self.calls.append(call)
        async with self._changed:
            self._changed.notify_all()

    async def LoadServers(
        self, request: internal_pb2.LoadServersRequest, context: _Context
    ) -> internal_pb2.LoadServersReply:
        if self.on_load is not None:
            self.on_load(request)
        self.loads.append(request)
        outcomes = [
            internal_pb2.LoadOutcome(
                server_id=s.id,
                result=internal_pb2.LoadOutcome.ADDED,
                status=common_pb2.ServerStatus(
                    server_id=s.id,
                    enabled=s.id not in request.disabled_server_ids,
                    disabled_by=common_pb2.ServerStatus.USER
                    if s.id in request.disabled_server_ids
                    else common_pb2.ServerStatus.NONE,
                    revision=request.revision,
                ),
            )
            for s in request.servers
        ]
        for outcome in outcomes:
            if outcome.server_id in self.failing:
                outcome.result = internal_pb2.LoadOutcome.FAILED
                outcome.error.message = "cannot write config"
        await self._note("LoadServers")
        if self.before_reply is not None:
            await self.before_reply()
        return internal_pb2.LoadServersReply(outcomes=outcomes)

    async def DestroyServers(
        self, request: internal_pb2.DestroyServersRequest, context: _Context
    ) -> internal_pb2.DestroyServersReply:
        self.destroyed.append(list(request.server_ids))
        await self._note("DestroyServers")
        await asyncio.sleep(self.destroy_delay)
        return internal_pb2.DestroyServersReply()

    async def Ping(self, request: internal_pb2.PingRequest, context: _Context) -> Any:
        await self._note("Ping")
        return internal_pb2.PingReply(node=self.name, pid=self.pid)

    async def Shutdown(self, request: internal_pb2.ShutdownRequest, context: _Context) -> Any:
        self.shutdowns.append(request.stop_servers)
        await self._note("Shutdown")
        return internal_pb2.ShutdownReply()

    async def StartServer(self, request: internal_pb2.StartServerRequest, context: _Context) -> Any:
        await self._note("StartServer")
        return internal_pb2.StartServerReply(
            status=common_pb2.ServerStatus(
                server_id=request.server_id, state=common_pb2.ACTIVE, pid=4321, enabled=True
            )
        )

    async def EnableServer(self, request: Any, context: _Context) -> Any:
        await self._note("EnableServer")
        if self.before_reply is not None:
            await self.before_reply()
        return internal_pb2.EnableServerReply(
            status=common_pb2.ServerStatus(server_id=request.server_id, enabled=True)
        )

    async def DisableServer(self, request: Any, context: _Context) -> Any:
        await self._note("DisableServer")
        return internal_pb2.DisableServerReply(
            status=common_pb2.ServerStatus(
                server_id=request.server_id,
                enabled=False,
                disabled_by=common_pb2.ServerStatus.USER,
            )
        )

    # ------------------------------------------------------------------ node side

    async def serve(self) -> None:
        server = WireServer(max_message_bytes=MB, name=f"node {self.name}")
        server.add_service(NODE_SERVICE, self)
        bound = await server.listen("tcp -h 127.0.0.1 -p 0")
        self._server, self.endpoints = server, format_endpoints(bound)

    async def stop_serving(self) -> None:
        if self._server is not None:
            await self._server.stop(None)
            self._server = None

    def _stub(self, registry: Registry) -> Any:
        if self._channel is None:
            self._channel = WireChannel(
                parse_endpoint(registry.internal_endpoints.split(":")[0]),
                max_message_bytes=MB,
                peer=Peer("the registry"),
            )
        return Stub(self._channel, REGISTRY_SERVICE)

    async def register(
        self, registry: Registry, servers: list[common_pb2.ServerStatus] | None = None
    ) -> internal_pb2.RegisterNodeReply:
        info = common_pb2.NodeInfo(
            name=self.name,
            hostname=self.hostname,
            os="Linux",
            endpoints=self.endpoints,
            version="test",
            pid=self.pid,
        )
        reply: internal_pb2.RegisterNodeReply = await self._stub(registry).RegisterNode(
            internal_pb2.RegisterNodeRequest(info=info, servers=servers or [])
        )
        self.session_id = reply.session_id
        return reply

    async def keepalive(self, registry: Registry) -> None:
        await self._stub(registry).Keepalive(
            internal_pb2.KeepaliveRequest(session_id=self.session_id)
        )

    async def report(self, registry: Registry, *statuses: common_pb2.ServerStatus) -> None:
        await self._stub(registry).ReportState(
            internal_pb2.ReportStateRequest(session_id=self.session_id, servers=statuses)
        )

    async def close(self) -> None:
        await self.stop_serving()
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    async def wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), WAIT)
            except TimeoutError:
                raise AssertionError(
                    f"node {self.name}: timed out waiting for {what}; calls: {self.calls}"
                ) from None


@asynccontextmanager
async def fake_node(name: str, **options: Any) -> AsyncIterator[FakeNode]:
    node = FakeNode(name, **options)
    await node.serve()
    try:
        yield node
    finally:
        await node.close()


def status_map(statuses: Any) -> Mapping[str, common_pb2.ServerStatus]:
    return {s.server_id: s for s in statuses}
