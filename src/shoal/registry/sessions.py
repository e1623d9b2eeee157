"""The Registry service nodes call (internal.proto): open a session under the duplicate-name
rule, keep it alive, report server states, close it (IceGrid.Registry.Internal.Endpoints)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from shoal.errors import (
    InvalidArgumentError,
    NodeActiveError,
    NodeNotFoundError,
    RegistryDatabaseError,
    ShoalError,
)
from shoal.registry.database import RegistryDatabase
from shoal.registry.nodes import NodeLink, SessionTable, node_endpoint, peer_host
from shoal.registry.settings import RegistrySettings
from shoal.registry.state import RegistryState
from shoal.registry.sync import NodeSync, node_status
from shoal.rpc import common_pb2, internal_pb2
from shoal.rpc.wire import CallContext

__all__ = ["RegistryServicer"]

log = logging.getLogger("shoal.registry")


class RegistryServicer:
    """Node sessions. A node name belongs to one live node: a second node asking for it is
    refused while the holder answers a ping, and takes over when it does not (IceGrid's rule)."""

    def __init__(
        self,
        settings: RegistrySettings,
        state: RegistryState,
        sessions: SessionTable,
        sync: NodeSync,
        database: RegistryDatabase,
    ) -> None:
        self.settings = settings
        self.state = state
        self.sessions = sessions
        self.sync = sync
        self.database = database
        # One registration per name at a time: the ping of a holder takes a while, and two
        # newcomers must not both pass it.
        self._registering: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def RegisterNode(
        self, request: internal_pb2.RegisterNodeRequest, context: CallContext
    ) -> internal_pb2.RegisterNodeReply:
        info = request.info
        name = info.name
        if not name:
            raise InvalidArgumentError(
                "RegisterNode without a node name", "set IceGrid.Node.Name in the node's config"
            )
        self._check_known(name)
        address = node_endpoint(info.endpoints, peer_host(context.peer()))
        async with self._registering[name]:
            await self._take_over(name, info, address)
            await asyncio.to_thread(
                self.database.record_node,
                name,
                hostname=info.hostname,
                os=info.os,
                endpoints=info.endpoints,
                version=info.version,
                now=self.sessions.clock(),
            )
            link = NodeLink(
                name,
                address,
                max_message_bytes=self.settings.max_message_bytes,
                tls=self.settings.tls,
            )
            session = self.sessions.open(info, link)
            if request.HasField("load"):  # adaptive balancing needs it before any keepalive
                session.load.CopyFrom(request.load)
            self.sync.watch(session)
        log.info("node %s registered from %s (%s)", name, info.hostname, address)
        await self.sync.record(name, request.servers)
        self.sync.hub.node_changed(node_status(name, session, len(self.state.servers_on(name))))
        # The node gets its servers right after this reply, not in it: one code path on the
        # node for "here are your servers", registration or deploy (internal.proto).
        self.sync.spawn(self.sync.push_all(session), f"loading the servers of node {name}")
        return internal_pb2.RegisterNodeReply(
            session_id=session.session_id,
            keepalive_seconds=self.settings.keepalive_seconds,
            session_timeout_seconds=self.settings.session_timeout,
        )

    def _check_known(self, name: str) -> None:
        if (
            self.settings.dynamic_registration
            or name == self.settings.collocated_node
            or name in self.state.deployed_nodes()
        ):
            return
        raise NodeNotFoundError(
            f"node `{name}' is not in any deployed application",
            'deploy a descriptor with <node name="'
            + name
            + "\">, or set IceGrid.Registry.DynamicRegistration=1 in the registry's config",
            name=name,
        )

    async def _take_over(self, name: str, info: common_pb2.NodeInfo, address: str) -> None:
        """Drop the session holding `name` unless a live, different node holds it."""
        holder = self.sessions.get(name)
        if holder is None:
            return
        try:
            reply = await holder.link.ping()
        except ShoalError as error:
            await self.sync.drop(holder, f"replaced: the holder did not answer a ping ({error})")
            return
        same_process = (
            reply.pid == info.pid
            and holder.info.hostname == info.hostname
            and holder.link.address == address
        )
        if same_process or reply.node != name:
            # The node itself registering again (an earlier reply was lost), or another node
            # now answers at the holder's address: the holder is gone either way.
            await self.sync.drop(holder, "the node registered again", servers_down=False)
            return
        host = holder.info.hostname or "an unknown host"
        raise NodeActiveError(
            f"a node named `{name}' is already active on host {host}"
            f" (pid {reply.pid}, at {holder.link.address})",
            f"stop that node first (`shoal node {name} stop` on {host}), or give this node"
            " another name (IceGrid.Node.Name)",
            node=name,
            holder_host=holder.info.hostname,
        )

    async def Keepalive(
        self, request: internal_pb2.KeepaliveRequest, context: CallContext
    ) -> internal_pb2.KeepaliveReply:
        session = self.sessions.find(request.session_id)
        self.sessions.touch(session)
        session.load.CopyFrom(request.load)
        try:
            await asyncio.to_thread(self.database.node_seen, session.name, session.last_seen)
        except RegistryDatabaseError as error:  # a sighting is not worth failing the node for
            log.warning("node %s: cannot record the keepalive: %s", session.name, error)
        return internal_pb2.KeepaliveReply(keepalive_seconds=self.settings.keepalive_seconds)

    async def ReportState(
        self, request: internal_pb2.ReportStateRequest, context: CallContext
    ) -> internal_pb2.ReportStateReply:
        await self.report_state(request)
        return internal_pb2.ReportStateReply()

    async def report_state(self, request: internal_pb2.ReportStateRequest) -> None:
        """ReportState's work, also called directly by the collocated master node."""
        session = self.sessions.find(request.session_id)
        self.sessions.touch(session)
        await self.sync.record(session.name, request.servers)

    async def UnregisterNode(
        self, request: internal_pb2.UnregisterNodeRequest, context: CallContext
    ) -> internal_pb2.UnregisterNodeReply:
        await self.unregister_node(request)
        return internal_pb2.UnregisterNodeReply()

    async def unregister_node(self, request: internal_pb2.UnregisterNodeRequest) -> None:
        """UnregisterNode's work, also called directly by the collocated master node."""
        try:
            session = self.sessions.find(request.session_id)
        except ShoalError:
            return  # unknown session: not an error
        await self.sync.drop(session, request.reason or "the node unregistered")
