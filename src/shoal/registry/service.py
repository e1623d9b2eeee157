"""The registry as one object: open the database, rebuild the state from it, serve Admin and
Locator on the client endpoints and Registry (node sessions) on the internal endpoints, both in
Shoal's wire protocol (shoal.rpc.wire)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Literal

from shoal import __version__
from shoal.config.endpoints import format_endpoints
from shoal.config.properties import Properties
from shoal.config.site import Site
from shoal.registry.admin import AdminServicer, RegistryFacts
from shoal.registry.database import RegistryDatabase
from shoal.registry.deploy import Deployer
from shoal.registry.locator import LocatorServicer
from shoal.registry.nodes import SessionTable
from shoal.registry.permissions import AdminPermissions
from shoal.registry.sessions import RegistryServicer
from shoal.registry.settings import RegistrySettings
from shoal.registry.state import RegistryState
from shoal.registry.sync import NodeSync
from shoal.registry.watch import StatusHub
from shoal.rpc import admin_pb2, internal_pb2, locator_pb2
from shoal.rpc.wire import WireServer

__all__ = ["STOP_GRACE", "Registry", "ShutdownKind"]

log = logging.getLogger("shoal.registry")

#: Seconds in-flight calls get to finish when the registry stops (the ShutdownGrid reply).
STOP_GRACE = 2.0

#: "grid": Admin.ShutdownGrid (the nodes were told; the master stops its servers and exits).
#: "registry": Admin.RegistryShutdown (the registry alone; nodes keep their servers).
ShutdownKind = Literal["grid", "registry"]


class Registry:
    """The registry of one site, run inside the master node's event loop.

    registry = Registry(site, properties)   # master.cfg + internal.cfg
    await registry.start()                   # ShoalError: port in use, database locked...
    await registry.shutdown_requested.wait()
    await registry.stop()
    """

    def __init__(
        self,
        site: Site,
        properties: Properties,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.site = site
        self.settings = RegistrySettings.from_properties(site, properties)
        self.clock = clock
        self.shutdown_requested = asyncio.Event()
        self.shutdown_kind: ShutdownKind | None = None
        #: The bound endpoints in Ice's string form (real ports), set by `start`.
        self.client_endpoints = ""
        self.internal_endpoints = ""
        self.state = RegistryState()
        self.hub = StatusHub()
        self.database: RegistryDatabase | None = None
        self.sessions: SessionTable | None = None
        self.sync: NodeSync | None = None
        self.locator: LocatorServicer | None = None
        self._node_sessions: RegistryServicer | None = None
        self._servers: list[WireServer] = []

    async def start(self) -> None:
        """Open the database, recover, bind both endpoint sets and serve. All or nothing."""
        settings = self.settings
        database = await asyncio.to_thread(RegistryDatabase.open, settings.data_dir)
        self.database = database
        try:
            await self._start(database)
        except BaseException:
            await self.stop()
            raise
        log.info(
            "registry serving: client %s, internal %s, database %s",
            self.client_endpoints,
            self.internal_endpoints,
            database.path,
        )

    async def _start(self, database: RegistryDatabase) -> None:
        settings = self.settings
        sessions = SessionTable(
            settings.session_timeout, lambda s: sync.session_expired(s), clock=self.clock
        )
        sync = NodeSync(
            self.state,
            self.hub,
            sessions,
            database,
            dynamic_registration=settings.dynamic_registration,
        )
        self.sessions, self.sync = sessions, sync
        deployer = Deployer(settings, self.state, database, sync, clock=self.clock)
        problems = await deployer.recover()

        internal = WireServer(max_message_bytes=settings.max_message_bytes, name="the registry")
        self._servers.append(internal)
        internal_bound = await internal.bind(settings.internal_endpoints, tls=settings.tls)
        client = WireServer(max_message_bytes=settings.max_message_bytes, name="the registry")
        self._servers.append(client)
        client_bound = await client.bind(settings.client_endpoints, tls=settings.tls)
        self.internal_endpoints = format_endpoints(internal_bound)
        self.client_endpoints = format_endpoints(client_bound)

        self._node_sessions = RegistryServicer(settings, self.state, sessions, sync, database)
        internal.add_service(
            internal_pb2.DESCRIPTOR.services_by_name["Registry"], self._node_sessions
        )
        facts = RegistryFacts(
            hostname=socket.gethostname(),
            client_endpoints=self.client_endpoints,
            internal_endpoints=self.internal_endpoints,
            version=__version__,
            pid=os.getpid(),
            started_at=self.clock(),
            database_path=str(database.path),
        )
        admin = AdminServicer(
            settings=settings,
            facts=facts,
            state=self.state,
            sessions=sessions,
            sync=sync,
            deployer=deployer,
            database=database,
            hub=self.hub,
            request_shutdown=self._request_shutdown,
            recovery_problems=problems,
        )
        permissions = AdminPermissions()
        client.add_service(
            admin_pb2.DESCRIPTOR.services_by_name["Admin"], admin, check=permissions.check
        )
        self.locator = LocatorServicer(
            instance_name=settings.instance_name,
            internal_endpoints=self.internal_endpoints,
            state=self.state,
            dynamic_registration=settings.dynamic_registration,
            sessions=sessions,
            record_answer=sync.record_answer,
        )
        client.add_service(locator_pb2.DESCRIPTOR.services_by_name["Locator"], self.locator)
        # Sessions first: a node told the internal endpoints by the locator can register.
        await internal.start()
        await client.start()

    def _request_shutdown(self, kind: str) -> None:
        if self.shutdown_kind is None:
            self.shutdown_kind = "grid" if kind == "grid" else "registry"
        self.shutdown_requested.set()

    async def report_state(self, request: internal_pb2.ReportStateRequest) -> None:
        """A node's ReportState without the wire: the collocated master node's status changes
        reach the registry in its own event loop, not through a call to itself (~0.2-1 ms
        each, on the path from a crash to the new pid every client sees)."""
        if self._node_sessions is None:
            raise RuntimeError("the registry is not started")
        await self._node_sessions.report_state(request)

    async def unregister_node(self, request: internal_pb2.UnregisterNodeRequest) -> None:
        """A node's UnregisterNode without the wire: the collocated master node's goodbye as
        the grid stops (as `report_state`)."""
        if self._node_sessions is None:
            raise RuntimeError("the registry is not started")
        await self._node_sessions.unregister_node(request)

    async def stop(self) -> None:
        """Stop serving (in-flight calls get STOP_GRACE seconds), drop the node sessions
        without telling the nodes (they keep their servers and register again when a registry
        is back), and close the database. Idempotent."""
        self.hub.close()  # ends WatchServers streams, which would hold the grace period
        servers, self._servers = self._servers, []
        await asyncio.gather(*(server.stop(STOP_GRACE) for server in servers))
        if self.locator is not None:
            await self.locator.aclose()  # on-demand starts still waiting on a node
            self.locator = None
        if self.sync is not None:
            await self.sync.aclose()
            self.sync = None
        if self.sessions is not None:
            for session in self.sessions.close_all():
                await session.link.close()
        if self.database is not None:
            database, self.database = self.database, None
            await asyncio.to_thread(database.close)
