"""The Admin service (admin.proto): what `shoal admin ...` calls, on the registry's client
endpoints. Reads come from memory; changes go through the Deployer or to the node concerned."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

from shoal.errors import (
    AlreadyExistsError,
    ApplicationNotFoundError,
    BadSignalError,
    InvalidArgumentError,
    NodeNotFoundError,
    NodeUnreachableError,
    ServerDisabledError,
    ServerNotFoundError,
    ShoalError,
)
from shoal.registry.database import DisabledBy, RegistryDatabase, StoredNode
from shoal.registry.deploy import Deployer, DeployPlan
from shoal.registry.locator import adapter_infos, find_adapter, object_infos
from shoal.registry.nodes import NodeSession, SessionTable
from shoal.registry.objects import matches, parse_added_proxy
from shoal.registry.settings import REPLICA_NAME, RegistrySettings
from shoal.registry.state import RegistryState, ServerEntry, has_process, timestamp
from shoal.registry.sync import NodeSync, node_status
from shoal.registry.watch import StatusHub, WatchFilter
from shoal.rpc import admin_pb2, common_pb2, internal_pb2
from shoal.rpc.convert import server_to_pb
from shoal.rpc.wire import CallContext

__all__ = ["AdminServicer", "RegistryFacts"]

log = logging.getLogger("shoal.registry")

#: IceGrid.Node.WaitTime's default: the wait for a server whose timeout is unset (0).
DEFAULT_WAIT = 60
#: Slack on top of a server's own timeout before the registry gives up on its node.
_MARGIN = 10.0
_LOOPBACK_NAMES = frozenset({"localhost"})
#: The signals `server signal` accepts by name (IceGrid's Activator::sendSignal), with or
#: without the SIG prefix, in any case; or a number from 1 to 63.
SIGNAL_NAMES = (
    "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
    "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGKILL", "SIGTERM",
)  # fmt: skip


def check_signal(signal: str) -> None:
    """BadSignalError quoting `signal` as the user typed it, listing every accepted value."""
    word = signal.strip()
    if word.isascii() and word.isdigit() and 1 <= int(word) <= 63:
        return
    name = word.upper()
    if name in SIGNAL_NAMES or f"SIG{name}" in SIGNAL_NAMES:
        return
    raise BadSignalError(
        f"bad signal `{signal}'",
        f"use one of {', '.join(SIGNAL_NAMES)} (the SIG prefix may be left out),"
        " or a number from 1 to 63",
        signal=signal,
    )


@dataclass(frozen=True)
class RegistryFacts:
    """What the registry says about itself (RegistryInfo), fixed once it is bound."""

    hostname: str
    client_endpoints: str
    internal_endpoints: str
    version: str
    pid: int
    started_at: float
    database_path: str

    def to_pb(self) -> admin_pb2.RegistryInfo:
        return admin_pb2.RegistryInfo(
            name=REPLICA_NAME,
            hostname=self.hostname,
            client_endpoints=self.client_endpoints,
            internal_endpoints=self.internal_endpoints,
            version=self.version,
            pid=self.pid,
            started_at=timestamp(self.started_at),
        )


def _copy(status: common_pb2.ServerStatus) -> common_pb2.ServerStatus:
    copy = common_pb2.ServerStatus()
    copy.CopyFrom(status)
    return copy


def _stored_info(node: StoredNode) -> common_pb2.NodeInfo:
    return common_pb2.NodeInfo(
        name=node.name,
        hostname=node.hostname,
        os=node.os,
        endpoints=node.endpoints,
        version=node.version,
    )


class AdminServicer:
    """Every admin RPC. `request_shutdown("grid" | "registry")` tells the registry's owner."""

    def __init__(
        self,
        *,
        settings: RegistrySettings,
        facts: RegistryFacts,
        state: RegistryState,
        sessions: SessionTable,
        sync: NodeSync,
        deployer: Deployer,
        database: RegistryDatabase,
        hub: StatusHub,
        request_shutdown: Callable[[str], None],
        recovery_problems: Iterable[str] = (),
    ) -> None:
        self.settings = settings
        self.facts = facts
        self.state = state
        self.sessions = sessions
        self.sync = sync
        self.deployer = deployer
        self.database = database
        self.hub = hub
        self.request_shutdown = request_shutdown
        self.recovery_problems = tuple(recovery_problems)

    # ------------------------------------------------------------------ lookups

    def _entry(self, server_id: str) -> ServerEntry:
        entry = self.state.servers.get(server_id)
        if entry is None:
            raise ServerNotFoundError(
                f"server `{server_id}' is not deployed",
                "`shoal admin ice server list` shows the deployed servers",
                name=server_id,
            )
        return entry

    def _session(self, node: str) -> NodeSession:
        session = self.sessions.get(node)
        if session is None:
            raise NodeUnreachableError(
                f"node {node} is down: it has no session with the registry",
                f"start it (`shoal node {node} start` on its host), then try again",
                node=node,
            )
        return session

    async def _stored_nodes(self) -> dict[str, StoredNode]:
        return {n.name: n for n in await asyncio.to_thread(self.database.nodes)}

    async def _node_status(self, name: str) -> common_pb2.NodeStatus:
        session = self.sessions.get(name)
        count = len(self.state.servers_on(name))
        if session is not None:
            return node_status(name, session, count)
        stored = await asyncio.to_thread(self.database.node, name)
        if stored is None and name not in self.state.deployed_nodes():
            raise NodeNotFoundError(
                f"node `{name}' is not known: no deployed application names it and it never"
                " registered",
                "`shoal admin ice node list` shows the known nodes",
                name=name,
            )
        if stored is None:
            return node_status(name, None, count)
        return node_status(
            name, None, count, known=_stored_info(stored), last_seen=stored.last_seen
        )

    async def _all_nodes(self) -> list[common_pb2.NodeStatus]:
        stored = await self._stored_nodes()
        names = self.state.deployed_nodes() | stored.keys() | {s.name for s in self.sessions.all()}
        statuses = []
        for name in sorted(names):
            session = self.sessions.get(name)
            count = len(self.state.servers_on(name))
            known = stored.get(name)
            statuses.append(
                node_status(name, None, count, known=_stored_info(known), last_seen=known.last_seen)
                if session is None and known is not None
                else node_status(name, session, count)
            )
        return statuses

    # ------------------------------------------------------------------ applications

    async def Deploy(
        self, request: admin_pb2.DeployRequest, context: CallContext
    ) -> admin_pb2.DeployReply:
        return await self.deployer.deploy(request, deployed_by=context.peer() or "")

    def _summary(self, name: str) -> admin_pb2.ApplicationSummary:
        deployed = self.state.applications[name]
        stored = deployed.stored
        servers = deployed.expanded.servers()
        return admin_pb2.ApplicationSummary(
            name=name,
            revision=stored.revision,
            deployed_at=timestamp(stored.deployed_at),
            source_name=stored.source,
            targets=list(stored.targets),
            server_count=len(servers),
            nodes=sorted(deployed.expanded.nodes),
        )

    async def ApplicationList(
        self, request: admin_pb2.ApplicationListRequest, context: CallContext
    ) -> admin_pb2.ApplicationListReply:
        return admin_pb2.ApplicationListReply(
            applications=[self._summary(name) for name in sorted(self.state.applications)]
        )

    async def ApplicationDescribe(
        self, request: admin_pb2.ApplicationDescribeRequest, context: CallContext
    ) -> admin_pb2.ApplicationDescribeReply:
        deployed = self.state.applications.get(request.application)
        if deployed is None:
            raise _no_application(request.application)
        return admin_pb2.ApplicationDescribeReply(
            summary=self._summary(request.application),
            descriptor_xml=deployed.stored.descriptor_xml,
            variables=dict(deployed.stored.variables),
        )

    async def ApplicationDiff(
        self, request: admin_pb2.ApplicationDiffRequest, context: CallContext
    ) -> admin_pb2.ApplicationDiffReply:
        plan: DeployPlan = await self.deployer.plan(
            request.descriptor_xml,
            source=request.source_name,
            targets=request.targets,
            variables=request.variables,
        )
        deploy_reply = self.deployer.reply_for(plan)
        return admin_pb2.ApplicationDiffReply(
            application=plan.name,
            exists=plan.previous is not None,
            added=deploy_reply.added,
            removed=deploy_reply.removed,
            changed=deploy_reply.restarted,
            unchanged=deploy_reply.unchanged,
        )

    async def ApplicationRemove(
        self, request: admin_pb2.ApplicationRemoveRequest, context: CallContext
    ) -> admin_pb2.ApplicationRemoveReply:
        return admin_pb2.ApplicationRemoveReply(
            removed=await self.deployer.remove(request.application)
        )

    # ------------------------------------------------------------------ servers

    async def ServerList(
        self, request: admin_pb2.ServerListRequest, context: CallContext
    ) -> admin_pb2.ServerListReply:
        wanted = WatchFilter(application=request.application, node=request.node)
        return admin_pb2.ServerListReply(servers=self._statuses(wanted))

    def _statuses(self, wanted: WatchFilter) -> list[common_pb2.ServerStatus]:
        """The registry's own status messages, sorted by server id: for a reply's constructor,
        which copies them (a copy made here too was a second one: ~1 µs per server per call,
        with `server list` polled every ms while a grid starts)."""
        return [
            entry.status
            for server_id, entry in sorted(self.state.servers.items())
            if wanted.matches(server_id, entry.description.application, entry.description.node)
        ]

    async def ServerDescribe(
        self, request: admin_pb2.ServerDescribeRequest, context: CallContext
    ) -> admin_pb2.ServerDescribeReply:
        entry = self._entry(request.server_id)
        return admin_pb2.ServerDescribeReply(
            description=server_to_pb(entry.description), status=entry.status
        )

    async def ServerState(
        self, request: admin_pb2.ServerStateRequest, context: CallContext
    ) -> admin_pb2.ServerStateReply:
        return admin_pb2.ServerStateReply(status=self._entry(request.server_id).status)

    async def ServerStart(
        self, request: admin_pb2.ServerStartRequest, context: CallContext
    ) -> admin_pb2.ServerStartReply:
        entry = self._entry(request.server_id)
        if entry.stored.disabled_by is DisabledBy.USER:
            raise ServerDisabledError(
                f"server `{request.server_id}' is disabled",
                f"enable it first: `shoal admin ice server enable {request.server_id}`",
                server_id=request.server_id,
            )
        session = self._session(entry.description.node)
        wait = (entry.description.activation_timeout or DEFAULT_WAIT) + _MARGIN
        await self.sync.record_answer(entry, session.link.start_server(request.server_id, wait))
        return admin_pb2.ServerStartReply(status=entry.status)

    async def ServerStop(
        self, request: admin_pb2.ServerStopRequest, context: CallContext
    ) -> admin_pb2.ServerStopReply:
        entry = self._entry(request.server_id)
        session = self._session(entry.description.node)
        wait = (entry.description.deactivation_timeout or DEFAULT_WAIT) + _MARGIN
        await self.sync.record_answer(entry, session.link.stop_server(request.server_id, wait))
        return admin_pb2.ServerStopReply(status=entry.status)

    async def _set_enabled(self, server_id: str, enabled: bool) -> common_pb2.ServerStatus:
        entry = self._entry(server_id)
        by = None if enabled else DisabledBy.USER
        reason = "" if enabled else "disabled by an administrator"
        # The registry's flag first: it holds across restarts and reaches a node that is
        # down now with its next load (LoadServersRequest.disabled_server_ids).
        await asyncio.to_thread(self.database.set_enabled, server_id, enabled, by=by, reason=reason)
        self.state.set_enabled(entry, enabled, by)
        self.hub.server_changed(entry.status)
        session = self.sessions.get(entry.description.node)
        if session is not None:
            await self.sync.record_answer(entry, session.link.set_enabled(server_id, enabled))
        return _copy(entry.status)

    async def ServerEnable(
        self, request: admin_pb2.ServerEnableRequest, context: CallContext
    ) -> admin_pb2.ServerEnableReply:
        return admin_pb2.ServerEnableReply(status=await self._set_enabled(request.server_id, True))

    async def ServerDisable(
        self, request: admin_pb2.ServerDisableRequest, context: CallContext
    ) -> admin_pb2.ServerDisableReply:
        return admin_pb2.ServerDisableReply(
            status=await self._set_enabled(request.server_id, False)
        )

    async def ServerSignal(
        self, request: admin_pb2.ServerSignalRequest, context: CallContext
    ) -> admin_pb2.ServerSignalReply:
        entry = self._entry(request.server_id)
        check_signal(request.signal)
        await self._session(entry.description.node).link.signal_server(
            request.server_id, request.signal
        )
        return admin_pb2.ServerSignalReply()

    async def ServerProperties(
        self, request: admin_pb2.ServerPropertiesRequest, context: CallContext
    ) -> admin_pb2.ServerPropertiesReply:
        # The deployed properties; the node adds its own generated ones to the config file.
        description = self._entry(request.server_id).description
        pairs = description.properties
        if request.service:
            services = {s.name: s for s in description.services or ()}
            if request.service not in services:
                raise InvalidArgumentError(
                    f"server `{request.server_id}' has no service `{request.service}'",
                    "only IceBox servers have services; `server describe` lists them",
                )
            pairs = services[request.service].properties
        return admin_pb2.ServerPropertiesReply(
            properties=[common_pb2.Property(name=n, value=v) for n, v in pairs]
        )

    async def ServerOutput(
        self, request: admin_pb2.ServerOutputRequest, context: CallContext
    ) -> AsyncIterator[admin_pb2.ServerOutputReply]:
        entry = self._entry(request.server_id)
        link = self._session(entry.description.node).link
        node_request = internal_pb2.OutputRequest(
            server_id=request.server_id,
            stream=request.stream,
            tail_lines=request.tail_lines,
            follow=request.follow,
        )
        async for chunk in link.output(node_request):
            yield admin_pb2.ServerOutputReply(chunk=chunk)

    async def WatchServers(
        self, request: admin_pb2.WatchServersRequest, context: CallContext
    ) -> AsyncIterator[admin_pb2.WatchServersReply]:
        wanted = WatchFilter.from_request(request)
        watcher = self.hub.subscribe(wanted)
        try:
            # Same loop turn as the subscription: no change falls between the two.
            snapshot = admin_pb2.ServerSnapshot(servers=self._statuses(wanted))
            yield admin_pb2.WatchServersReply(snapshot=snapshot)
            async for event in watcher.events():
                yield event
        finally:
            self.hub.unsubscribe(watcher)

    # ------------------------------------------------------------------ nodes

    async def NodeList(
        self, request: admin_pb2.NodeListRequest, context: CallContext
    ) -> admin_pb2.NodeListReply:
        return admin_pb2.NodeListReply(nodes=await self._all_nodes())

    async def NodeDescribe(
        self, request: admin_pb2.NodeDescribeRequest, context: CallContext
    ) -> admin_pb2.NodeDescribeReply:
        return admin_pb2.NodeDescribeReply(status=await self._node_status(request.node))

    async def NodePing(
        self, request: admin_pb2.NodePingRequest, context: CallContext
    ) -> admin_pb2.NodePingReply:
        await self._node_status(request.node)  # NOT_FOUND_NODE before NODE_UNREACHABLE
        session = self._session(request.node)
        began = time.monotonic()
        await session.link.ping()
        return admin_pb2.NodePingReply(round_trip_seconds=time.monotonic() - began)

    async def NodeLoad(
        self, request: admin_pb2.NodeLoadRequest, context: CallContext
    ) -> admin_pb2.NodeLoadReply:
        await self._node_status(request.node)
        load = await self._session(request.node).link.get_load()
        return admin_pb2.NodeLoadReply(load=load)

    async def NodeShutdown(
        self, request: admin_pb2.NodeShutdownRequest, context: CallContext
    ) -> admin_pb2.NodeShutdownReply:
        await self._node_status(request.node)
        session = self._session(request.node)
        await session.link.shutdown(stop_servers=True, deadline=self._shutdown_wait(session.name))
        return admin_pb2.NodeShutdownReply()

    def _shutdown_wait(self, node: str) -> float:
        # The node stops its servers (in parallel, each up to its deactivation timeout).
        timeouts = [
            e.description.deactivation_timeout or DEFAULT_WAIT for e in self.state.servers_on(node)
        ]
        return max(timeouts, default=0) + 2 * _MARGIN

    # ------------------------------------------------------------------ adapters

    async def AdapterList(
        self, request: admin_pb2.AdapterListRequest, context: CallContext
    ) -> admin_pb2.AdapterListReply:
        dynamic = self.settings.dynamic_registration
        return admin_pb2.AdapterListReply(
            adapters=adapter_infos(self.state, dynamic_registration=dynamic)
        )

    async def AdapterEndpoints(
        self, request: admin_pb2.AdapterEndpointsRequest, context: CallContext
    ) -> admin_pb2.AdapterEndpointsReply:
        dynamic = self.settings.dynamic_registration
        info = find_adapter(self.state, request.adapter_id, dynamic_registration=dynamic)
        return admin_pb2.AdapterEndpointsReply(adapter=info)

    async def AdapterRemove(
        self, request: admin_pb2.AdapterRemoveRequest, context: CallContext
    ) -> admin_pb2.AdapterRemoveReply:
        adapter_id = request.adapter_id
        dynamic = self.state.dynamic
        if adapter_id in dynamic.adapters:
            dynamic.set_adapter(adapter_id, "", "")
            return admin_pb2.AdapterRemoveReply()
        info = find_adapter(self.state, adapter_id, dynamic_registration=True)
        where = f" in application `{self.state.servers[info.server_id].description.application}'"
        raise InvalidArgumentError(
            f"adapter `{adapter_id}' is deployed (server `{info.server_id}'{where}):"
            " only adapters registered dynamically can be removed",
            "remove it from its descriptor and update the application",
        )

    # ------------------------------------------------------------------ objects

    async def ObjectAdd(
        self, request: admin_pb2.ObjectAddRequest, context: CallContext
    ) -> admin_pb2.ObjectAddReply:
        proxy = parse_added_proxy(request.proxy)
        identity = str(proxy.identity)
        declared = [o for o in object_infos(self.state) if o.identity == identity]
        if declared:
            raise AlreadyExistsError(
                f"object `{identity}' is already registered",
                f"`object describe {identity}' shows it",
                kind="object",
                name=identity,
            )
        self.state.dynamic.add_object(proxy, request.type)
        added = [o for o in object_infos(self.state) if o.identity == identity]
        return admin_pb2.ObjectAddReply(object=added[0])

    async def ObjectRemove(
        self, request: admin_pb2.ObjectRemoveRequest, context: CallContext
    ) -> admin_pb2.ObjectRemoveReply:
        found = [o for o in object_infos(self.state) if o.identity == request.identity]
        if found and found[0].application:
            raise InvalidArgumentError(
                f"removing object `{request.identity}' is not allowed: the object was added"
                f" with the application descriptor `{found[0].application}'",
                "remove it from the descriptor and update the application",
            )
        self.state.dynamic.remove_object(request.identity)
        return admin_pb2.ObjectRemoveReply()

    async def ObjectList(
        self, request: admin_pb2.ObjectListRequest, context: CallContext
    ) -> admin_pb2.ObjectListReply:
        return admin_pb2.ObjectListReply(
            objects=[
                info
                for info in object_infos(self.state)
                if matches(request.expression, info.identity)
                and (not request.type or info.type == request.type)
            ]
        )

    # ------------------------------------------------------------------ registry

    async def RegistryList(
        self, request: admin_pb2.RegistryListRequest, context: CallContext
    ) -> admin_pb2.RegistryListReply:
        return admin_pb2.RegistryListReply(registries=[self.facts.to_pb()])

    @staticmethod
    def _check_registry_name(name: str) -> None:
        if name not in ("", REPLICA_NAME):
            raise InvalidArgumentError(
                f"no registry named `{name}': Shoal has one registry, `{REPLICA_NAME}'",
                f"leave the name out, or use {REPLICA_NAME}",
            )

    async def RegistryPing(
        self, request: admin_pb2.RegistryPingRequest, context: CallContext
    ) -> admin_pb2.RegistryPingReply:
        self._check_registry_name(request.name)
        return admin_pb2.RegistryPingReply(registry=self.facts.to_pb())

    async def RegistryShutdown(
        self, request: admin_pb2.RegistryShutdownRequest, context: CallContext
    ) -> admin_pb2.RegistryShutdownReply:
        self._check_registry_name(request.name)
        log.info("registry shutdown requested by %s", context.peer())
        self.request_shutdown("registry")
        return admin_pb2.RegistryShutdownReply()

    # ------------------------------------------------------------------ grid

    async def Diagnostics(
        self, request: admin_pb2.DiagnosticsRequest, context: CallContext
    ) -> admin_pb2.DiagnosticsReply:
        nodes = await self._all_nodes()
        servers = self._statuses(WatchFilter())
        return admin_pb2.DiagnosticsReply(
            registry=self.facts.to_pb(),
            applications=[self._summary(name) for name in sorted(self.state.applications)],
            nodes=nodes,
            servers=servers,
            warnings=self._warnings(nodes, servers),
            database_path=self.facts.database_path,
            adapters=adapter_infos(
                self.state, dynamic_registration=self.settings.dynamic_registration
            ),
            objects=object_infos(self.state),
        )

    def _warnings(
        self, nodes: list[common_pb2.NodeStatus], servers: list[common_pb2.ServerStatus]
    ) -> list[str]:
        warnings = list(self.recovery_problems)
        for node in nodes:
            if not node.up and node.server_count:
                warnings.append(
                    f"node {node.info.name} is down: its {node.server_count} server(s) are"
                    f" not managed until it registers (`shoal node {node.info.name} start`)"
                )
        for status in servers:
            if status.disabled_by == common_pb2.ServerStatus.FAILURE:
                entry = self.state.servers[status.server_id]
                reason = entry.stored.disabled_reason or "after repeated failures"
                warnings.append(f"server {status.server_id} is disabled by failure: {reason}")
        if not all(_is_loopback(e.host) for e in self.settings.client_endpoints):
            warnings.append(
                "the admin endpoints are not on loopback and every caller is accepted (null"
                " permissions verifier): restrict IceGrid.Registry.Client.Endpoints"
            )
        return warnings

    async def ShutdownGrid(
        self, request: admin_pb2.ShutdownGridRequest, context: CallContext
    ) -> admin_pb2.ShutdownGridReply:
        log.info("grid shutdown requested by %s", context.peer())
        # The collocated node is this process: it stops its servers itself once told below,
        # after this reply, so that the reply still goes out.
        others = [s for s in self.sessions.all() if s.name != self.settings.collocated_node]
        outcomes = await asyncio.gather(
            *(
                s.link.shutdown(stop_servers=True, deadline=self._shutdown_wait(s.name))
                for s in others
            ),
            return_exceptions=True,
        )
        reply = admin_pb2.ShutdownGridReply(registry_pid=os.getpid())
        stopped_nodes = set()
        for session, outcome in zip(others, outcomes, strict=True):
            if isinstance(outcome, ShoalError):
                log.warning("node %s did not shut down: %s", session.name, outcome)
                reply.nodes_unreachable.append(session.name)
            elif isinstance(outcome, BaseException):
                raise outcome
            else:
                reply.nodes_stopped.append(session.name)
                stopped_nodes.add(session.name)
        if self.settings.collocated_node is not None:
            reply.nodes_stopped.append(self.settings.collocated_node)
            stopped_nodes.add(self.settings.collocated_node)
        reply.servers_stopped = sum(
            1
            for entry in self.state.servers.values()
            if entry.description.node in stopped_nodes and has_process(entry.status)
        )
        reply.nodes_stopped.sort()
        reply.nodes_unreachable.sort()
        self.request_shutdown("grid")
        return reply


def _is_loopback(host: str | None) -> bool:
    if host is None or host in _LOOPBACK_NAMES:
        return host is not None
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _no_application(name: str) -> ShoalError:
    return ApplicationNotFoundError(
        f"application `{name}' is not deployed",
        "`shoal admin ice application list` shows the deployed applications",
        name=name,
    )
