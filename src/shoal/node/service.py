"""The `Node` service (internal.proto, in Shoal's wire protocol): what the registry asks of
this node's servers.

It owns the node's supervisors, one per loaded server, and turns each call into supervisor
requests. Errors are ShoalErrors; the WireServer sends each to the caller as its ErrorDetail.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

from shoal.config.endpoints import EndpointParseError, parse_endpoints
from shoal.errors import (
    AdapterNotFoundError,
    InvalidArgumentError,
    ServerNotFoundError,
    ShoalError,
)
from shoal.node.activator import Activator
from shoal.node.events import DisabledBy
from shoal.node.hooks import OutputCapture, Readiness, ServerHook
from shoal.node.readiness import (
    AdapterRegistrations,
    RegisteredAdapter,
    declared_adapters,
)
from shoal.node.supervisor import LoadResult, NodeSettings, Supervisor
from shoal.rpc import common_pb2, internal_pb2
from shoal.rpc.convert import server_from_pb
from shoal.rpc.detail import error_detail
from shoal.rpc.wire import CallContext

__all__ = ["NodeService"]

_log = logging.getLogger(__name__)

_OUTCOME = {
    LoadResult.UNCHANGED: internal_pb2.LoadOutcome.UNCHANGED,
    LoadResult.ADDED: internal_pb2.LoadOutcome.ADDED,
    LoadResult.UPDATED: internal_pb2.LoadOutcome.UPDATED,
    LoadResult.RESTARTED: internal_pb2.LoadOutcome.RESTARTED,
    LoadResult.LIVE: internal_pb2.LoadOutcome.UPDATED,
}
# Output is sent in pieces well under any sane Ice.MessageSizeMax (a tail may be a whole file).
_OUTPUT_PIECE = 256 * 1024


class NodeService:
    """This node's servers, as the registry drives them."""

    def __init__(
        self,
        settings: NodeSettings,
        activator: Activator,
        *,
        output: OutputCapture,
        hooks: Sequence[ServerHook] = (),
        readiness: Readiness,
        on_publish: Callable[[common_pb2.ServerStatus], None] = lambda status: None,
        on_shutdown: Callable[[], None] = lambda: None,
        registrations: AdapterRegistrations | None = None,
    ) -> None:
        self.settings = settings
        #: What servers registered through shoal.server (readiness reads it too).
        self.registrations = registrations or AdapterRegistrations()
        self._activator = activator
        self._output = output
        self._hooks = (*hooks, output)
        self._readiness = readiness
        self._on_publish = on_publish
        self._on_shutdown = on_shutdown
        self._servers: dict[str, Supervisor] = {}
        #: Set by the first LoadServers(complete=true): the node has all its servers.
        self.loaded = asyncio.Event()
        #: The registry's IceGrid.Registry.DynamicRegistration, as its last load said.
        self.dynamic_registration = False

    # ----------------------------------------------------------------- for the daemon

    @property
    def servers(self) -> dict[str, Supervisor]:
        return self._servers

    def supervisor(self, server_id: str) -> Supervisor:
        found = self._servers.get(server_id)
        if found is None:
            raise ServerNotFoundError(
                f"server `{server_id}' is not loaded on node {self.settings.node_name}",
                "is it deployed here? `shoal admin ice server list` shows where servers run",
                name=server_id,
            )
        return found

    def statuses(self, *, running_only: bool = False) -> list[common_pb2.ServerStatus]:
        return [
            supervisor.status()
            for supervisor in self._servers.values()
            if supervisor.running or not running_only
        ]

    async def stop_all(self) -> None:
        """Stop every server at once, keeping `always` servers down (the node is leaving)."""
        running = [s for s in self._servers.values() if s.running]
        if running:
            _log.info(
                "stopping %d server(s): %s", len(running), ", ".join(s.server_id for s in running)
            )
        # Every server, not only the running ones: one waiting to restart after a crash has
        # its restart timer cancelled, or it would spawn again while the node exits.
        await _all_asked_then_awaited(
            list(self._servers.values()), lambda s: s.stopping(keep_down=True)
        )

    async def destroy(self, server_ids: Sequence[str]) -> list[str]:
        """Stop and forget these servers (unknown ids ignored); those destroyed."""
        found = [self._servers[sid] for sid in server_ids if sid in self._servers]
        await _all_asked_then_awaited(found, Supervisor.destroying)
        for supervisor in found:
            self._servers.pop(supervisor.server_id, None)
            self.registrations.forget(supervisor.server_id)
            _log.info("server %s: destroyed", supervisor.server_id)
        return [s.server_id for s in found]

    def _new_supervisor(self, server_id: str) -> Supervisor:
        return Supervisor(
            server_id,
            self.settings,
            self._activator,
            hooks=self._hooks,
            readiness=self._readiness,
            on_publish=self._on_publish,
            adapters=self._registered_adapters,
        )

    def _registered_adapters(self, server_id: str, pid: int) -> list[common_pb2.AdapterStatus]:
        return [a.to_pb() for a in self.registrations.current(server_id, pid)]

    # ----------------------------------------------------------------- RPCs

    async def LoadServers(
        self, request: internal_pb2.LoadServersRequest, context: CallContext
    ) -> internal_pb2.LoadServersReply:
        reply = internal_pb2.LoadServersReply()
        listed: set[str] = set()
        disabled = set(request.disabled_server_ids)
        self.dynamic_registration = request.dynamic_registration
        live: list[Supervisor] = []  # no_restart: properties to push to running processes
        loaded: dict[LoadResult, list[str]] = {}  # what changed, for one log line each
        for message in request.servers:
            listed.add(message.id)
            reply.outcomes.append(
                self._load_one(
                    message, request.revision, disabled, request.no_restart, live, loaded
                )
            )
        for result, server_ids in loaded.items():
            if len(server_ids) == 1:
                _log.info(
                    "server %s: %s (revision %d)", *server_ids, result.value, request.revision
                )
            else:  # one line, not one per server (a deploy of 50 servers)
                _log.info(
                    "%d servers %s (revision %d): %s",
                    len(server_ids),
                    result.value,
                    request.revision,
                    ", ".join(server_ids),
                )
        # Done before replying: when the deploy returns, the config files are the new ones.
        await asyncio.gather(*(s.reconfigure() for s in live))
        if request.complete:
            others = [sid for sid in self._servers if sid not in listed]
            reply.destroyed.extend(await self.destroy(others))
            self.loaded.set()
        return reply

    def _load_one(
        self,
        message: Any,
        revision: int,
        disabled: set[str],
        no_restart: bool,
        live: list[Supervisor],
        loaded: dict[LoadResult, list[str]],
    ) -> internal_pb2.LoadOutcome:
        server_id = message.id
        created = server_id not in self._servers
        try:
            description = server_from_pb(message)
            if description.node and description.node != self.settings.node_name:
                raise InvalidArgumentError(
                    f"server `{server_id}' is for node {description.node}, not"
                    f" {self.settings.node_name}"
                )
            supervisor = self._servers.get(server_id) or self._new_supervisor(server_id)
            # The registry keeps an administrator's disable across restarts: applied before the
            # load so that an `always` server never starts; lifted when no longer listed.
            by_user = supervisor.machine.disabled is not None and (
                supervisor.machine.disabled.by is DisabledBy.USER
            )
            if server_id in disabled and not by_user:
                supervisor.disable()
            elif server_id not in disabled and by_user:
                supervisor.enable()
            result = supervisor.load(description, revision, live=no_restart)
        except (ShoalError, ValueError, KeyError) as exc:
            error = exc if isinstance(exc, ShoalError) else InvalidArgumentError(str(exc))
            _log.warning("server %s: cannot load: %s", server_id, error.message)
            status = (
                self._servers[server_id].status()
                if server_id in self._servers
                else common_pb2.ServerStatus(server_id=server_id, node=self.settings.node_name)
            )
            return internal_pb2.LoadOutcome(
                server_id=server_id,
                result=internal_pb2.LoadOutcome.FAILED,
                error=error_detail(error),
                status=status,
            )
        if created:
            self._servers[server_id] = supervisor
        if result is LoadResult.LIVE:
            live.append(supervisor)
        if result is not LoadResult.UNCHANGED:
            loaded.setdefault(result, []).append(server_id)
        return internal_pb2.LoadOutcome(
            server_id=server_id, result=_OUTCOME[result], status=supervisor.status()
        )

    async def DestroyServers(
        self, request: internal_pb2.DestroyServersRequest, context: CallContext
    ) -> internal_pb2.DestroyServersReply:
        await self.destroy(list(request.server_ids))
        return internal_pb2.DestroyServersReply()

    async def StartServer(
        self, request: internal_pb2.StartServerRequest, context: CallContext
    ) -> internal_pb2.StartServerReply:
        status = await self.supervisor(request.server_id).start()
        return internal_pb2.StartServerReply(status=status)

    async def StopServer(
        self, request: internal_pb2.StopServerRequest, context: CallContext
    ) -> internal_pb2.StopServerReply:
        status = await self.supervisor(request.server_id).stop()
        return internal_pb2.StopServerReply(status=status)

    async def EnableServer(
        self, request: internal_pb2.EnableServerRequest, context: CallContext
    ) -> internal_pb2.EnableServerReply:
        return internal_pb2.EnableServerReply(status=self.supervisor(request.server_id).enable())

    async def DisableServer(
        self, request: internal_pb2.DisableServerRequest, context: CallContext
    ) -> internal_pb2.DisableServerReply:
        return internal_pb2.DisableServerReply(status=self.supervisor(request.server_id).disable())

    async def SignalServer(
        self, request: internal_pb2.SignalServerRequest, context: CallContext
    ) -> internal_pb2.SignalServerReply:
        number = self.supervisor(request.server_id).send_signal(request.signal)
        _log.info("server %s: signal %d sent", request.server_id, number)
        return internal_pb2.SignalServerReply()

    async def Output(
        self, request: internal_pb2.OutputRequest, context: CallContext
    ) -> AsyncIterator[internal_pb2.OutputReply]:
        self.supervisor(request.server_id)
        out_log, err_log = self._output.logs(request.server_id)
        log = err_log if request.stream == common_pb2.STDERR else out_log
        async for chunk in log.read(request.tail_lines, request.follow):
            rotated = chunk.rotated
            for start in range(0, len(chunk.data), _OUTPUT_PIECE):
                piece = chunk.data[start : start + _OUTPUT_PIECE]
                yield internal_pb2.OutputReply(
                    chunk=common_pb2.OutputChunk(data=piece, rotated=rotated)
                )
                rotated = False

    async def RegisterAdapters(
        self, request: internal_pb2.RegisterAdaptersRequest, context: CallContext
    ) -> internal_pb2.RegisterAdaptersReply:
        supervisor = self.supervisor(request.server_id)
        pid = supervisor.machine.pid
        if not pid or not supervisor.running:
            raise ServerNotFoundError(
                f"server `{request.server_id}' has no running process on node"
                f" {self.settings.node_name}: it cannot register adapters",
                "only a process the node started registers its server's adapters",
                name=request.server_id,
            )
        description = supervisor.description
        declared = declared_adapters(description) if description else ()
        groups = {a.id: a.replica_group for a in declared}
        adapters = [_registered(message, groups) for message in request.adapters]
        undeclared = [a.adapter_id for a in adapters if a.adapter_id not in groups]
        if undeclared and not self.dynamic_registration:
            raise AdapterNotFoundError(
                f"server `{request.server_id}': adapter `{undeclared[0]}' is not deployed and"
                " dynamic registration is off",
                f'declare it in the descriptor (<adapter name=... id="{undeclared[0]}">), or set'
                " IceGrid.Registry.DynamicRegistration=1 on the registry",
                name=undeclared[0],
            )
        self.registrations.register(request.server_id, pid, adapters)
        _log.info(
            "server %s: adapters registered: %s",
            request.server_id,
            ", ".join(f"{a.adapter_id} ({a.endpoints})" for a in adapters) or "none",
        )
        supervisor.republish()
        return internal_pb2.RegisterAdaptersReply(state=supervisor.status().state)

    async def UnregisterAdapters(
        self, request: internal_pb2.UnregisterAdaptersRequest, context: CallContext
    ) -> internal_pb2.UnregisterAdaptersReply:
        supervisor = self.supervisor(request.server_id)
        self.registrations.unregister(request.server_id)
        _log.info("server %s: adapters withdrawn", request.server_id)
        supervisor.republish()
        return internal_pb2.UnregisterAdaptersReply()

    async def Ping(self, request: internal_pb2.PingRequest, context: CallContext) -> Any:
        return internal_pb2.PingReply(node=self.settings.node_name, pid=os.getpid())

    async def GetLoad(self, request: internal_pb2.GetLoadRequest, context: CallContext) -> Any:
        return internal_pb2.GetLoadReply(load=current_load())

    async def Shutdown(self, request: internal_pb2.ShutdownRequest, context: CallContext) -> Any:
        if not request.stop_servers:
            # The watchdog kills servers with their node anyway: an orderly stop is kinder.
            _log.warning("shutdown without stopping servers asked: they cannot outlive the node")
        _log.info("shutdown requested by the registry")
        await self.stop_all()
        self._on_shutdown()
        return internal_pb2.ShutdownReply()


async def _all_asked_then_awaited(
    servers: Sequence[Supervisor], ask: Callable[[Supervisor], Coroutine[None, None, None]]
) -> None:
    """Make every request first (each `stopping`/`destroying` call sends its SIGTERM as it is
    made, its reports come later: see shoal.node.supervisor), so that all the servers are
    signalled in one go, then wait for them all. A request or wait that fails (a signal
    refused, a hook's error) does not spare the servers after it: the first failure is raised
    once all the others are done.

    The waits are awaited one after the other, not gathered: they only wait (the servers
    stop meanwhile all the same), and by the time the first is done most others are, so one
    coroutine does it without a task per server. Each server's reports are published when
    this returns."""
    waits: list[Coroutine[None, None, None]] = []
    failure: Exception | None = None
    for server in servers:
        try:
            waits.append(ask(server))
        except Exception as error:
            failure = failure or error
    pending = iter(waits)
    try:
        for wait in pending:
            try:
                await wait
            except Exception as error:
                failure = failure or error
    finally:
        for wait in pending:  # cancelled: these were never started
            wait.close()
    # A wait ends as its server's change is made; the reports of the changes made in that
    # same turn are published at its end (call_soon): let them out before the caller looks,
    # as the node's session sends only what it has been given when it closes.
    await asyncio.sleep(0)
    if failure is not None:
        raise failure


def _registered(message: common_pb2.AdapterStatus, groups: dict[str, str]) -> RegisteredAdapter:
    """A registration as sent, checked: an id, endpoints that parse, with real ports."""
    if not message.adapter_id.strip():
        raise InvalidArgumentError("an adapter registration has no adapter id")
    try:
        endpoints = parse_endpoints(message.endpoints)
    except EndpointParseError as exc:
        raise InvalidArgumentError(f"adapter `{message.adapter_id}': bad endpoints: {exc}") from exc
    if not endpoints or any(not e.port for e in endpoints):
        raise InvalidArgumentError(
            f"adapter `{message.adapter_id}': endpoints `{message.endpoints}' must name the"
            " bound ports",
            "register the endpoints as bound (real ports), not as configured",
        )
    return RegisteredAdapter(
        adapter_id=message.adapter_id,
        endpoints=message.endpoints,
        replica_group=groups.get(message.adapter_id, ""),
    )


def current_load() -> common_pb2.LoadInfo:
    avg1, avg5, avg15 = os.getloadavg()
    return common_pb2.LoadInfo(avg1=avg1, avg5=avg5, avg15=avg15)
