"""Keeping nodes and the registry in step: pushing servers to nodes (LoadServers and
DestroyServers), recording the statuses nodes report, and dropping sessions that went away."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shoal.errors import NodeUnreachableError, RegistryDatabaseError, ShoalError, TimedOutError
from shoal.registry.database import DisabledBy, RegistryDatabase, StoredServer
from shoal.registry.nodes import NodeSession, SessionTable
from shoal.registry.state import (
    RegistryState,
    ServerEntry,
    disabled_by_from_pb,
    exit_from_pb,
    timestamp,
)
from shoal.registry.watch import StatusHub
from shoal.rpc import common_pb2, internal_pb2
from shoal.rpc.convert import server_to_pb

__all__ = ["LOAD_TIMEOUT", "NodeSync", "PushResult", "node_status"]

log = logging.getLogger("shoal.registry")

#: How long a node has to confirm a LoadServers; it may stop and start servers meanwhile.
LOAD_TIMEOUT = 60.0


@dataclass
class PushResult:
    """What happened when the registry pushed servers to one node."""

    node: str
    # False: no session, or unreachable: the node gets its servers when it registers.
    delivered: bool
    warnings: list[str] = field(default_factory=list)


def node_status(
    name: str,
    session: NodeSession | None,
    server_count: int,
    known: common_pb2.NodeInfo | None = None,
    last_seen: float | None = None,
) -> common_pb2.NodeStatus:
    """A node as the registry sees it: its session if up, else what it said last time."""
    status = common_pb2.NodeStatus(up=session is not None, server_count=server_count)
    if session is not None:
        status.info.CopyFrom(session.info)
        status.last_seen.CopyFrom(timestamp(session.last_seen))
        status.load.CopyFrom(session.load)
        status.session_started_at.CopyFrom(timestamp(session.started_at))
    else:
        if known is not None:
            status.info.CopyFrom(known)
        if last_seen is not None:
            status.last_seen.CopyFrom(timestamp(last_seen))
    status.info.name = name
    return status


class NodeSync:
    """The registry's side of every exchange with nodes that changes its state."""

    def __init__(
        self,
        state: RegistryState,
        hub: StatusHub,
        sessions: SessionTable,
        database: RegistryDatabase,
        *,
        load_timeout: float = LOAD_TIMEOUT,
        dynamic_registration: bool = False,
    ) -> None:
        self.state = state
        self.dynamic_registration = dynamic_registration  # told to nodes with every load
        self.hub = hub
        self.sessions = sessions
        self.database = database
        self.load_timeout = load_timeout
        self._tasks: set[asyncio.Task[Any]] = set()
        # Channels being closed: `aclose` lets these finish (a cancelled close leaks it).
        self._closing: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------ background work

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run `work` in the background, logging its failure; `aclose` cancels what is left."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._closing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            log.warning("%s failed: %s", task.get_name(), error, exc_info=error)

    async def aclose(self) -> None:
        """Cancel the pushes still running; let channel closes finish."""
        for task in self._tasks - self._closing:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ------------------------------------------------------------------ sessions

    def session_expired(self, session: NodeSession) -> None:
        """SessionTable's callback: the session is already out of the table."""
        self._gone(session, servers_down=True)

    async def drop(self, session: NodeSession, reason: str, *, servers_down: bool = True) -> None:
        """End a session (node unreachable, replaced, unregistered). `servers_down=False`
        when the same node registers again at once: its new reports replace the statuses."""
        if self.sessions.close(session):
            log.info("node %s: session closed (%s)", session.name, reason)
            self._gone(session, servers_down=servers_down)

    def watch(self, session: NodeSession) -> None:
        """Watch the link of a new session: a node whose connection drops and which then does
        not answer a ping loses its session at once, not after the session timeout."""
        session.watch = self.spawn(
            self._watch(session), f"watching the connection to node {session.name}"
        )

    async def _watch(self, session: NodeSession) -> None:
        reason = await session.link.wait_until_lost()
        if reason is not None:
            await self.drop(session, reason)

    def _gone(self, session: NodeSession, *, servers_down: bool) -> None:
        watch, session.watch = session.watch, None
        if watch is not None and watch is not asyncio.current_task():
            watch.cancel()
        self._closing.add(
            self.spawn(session.link.close(), f"closing the channel to node {session.name}")
        )
        if servers_down and self.sessions.get(session.name) is None:
            # IceGrid shows such servers as unknown: no process the registry can vouch for.
            for entry in self.state.mark_node_down(session.name, self.sessions.clock()):
                self.hub.server_changed(entry.status)
        self.hub.node_changed(
            node_status(
                session.name,
                None,
                len(self.state.servers_on(session.name)),
                known=session.info,
                last_seen=session.last_seen,
            )
        )

    # ------------------------------------------------------------------ statuses from nodes

    async def record(
        self,
        node: str,
        statuses: Iterable[common_pb2.ServerStatus],
        *,
        reports_before: Mapping[str, int] | None = None,
    ) -> None:
        """Take statuses `node` reported, in order: memory, watchers, then the database.

        `reports_before`: these statuses are a reply to a call (LoadServers) made when each
        server's entry had counted that many reports. Where a report has come since, the reply
        is the older news (the node queues every change it makes for ReportState too): only
        its revision is taken. Without it, they are the node's own reports.

        The database gets each changed server's latest status once, all in one trip to a
        thread (a node stopping 50 servers reports ~150 changes at once).
        """
        changed: dict[str, ServerEntry] = {}  # by server id, in order
        for reported in statuses:
            entry = self.state.servers.get(reported.server_id)
            if (
                reports_before is not None
                and entry is not None
                and entry.reports != reports_before.get(reported.server_id, 0)
            ):
                if entry.description.node == node and reported.revision > entry.status.revision:
                    entry.status.revision = reported.revision
                    self.hub.server_changed(entry.status)
                continue
            entry = self.state.apply_report(node, reported)
            if entry is None:
                log.debug("node %s reported %s, not deployed there", node, reported.server_id)
                continue
            if reports_before is None:
                entry.reports += 1
            self._keep_user_flag(entry)
            self.hub.server_changed(entry.status)
            changed[entry.description.id] = entry
        if changed:
            await self._persist(list(changed.values()))

    async def record_answer(
        self, entry: ServerEntry, call: Awaitable[common_pb2.ServerStatus]
    ) -> None:
        """Make `call` to the server's node (start, stop, enable...) and record the status it
        answers, unless the node reported a change of that server meanwhile: its reports are
        complete and newer than the answer, which was taken before them (the master's own node
        reports without the wire, well before its answer comes back)."""
        before = {entry.description.id: entry.reports}
        status = await call
        await self.record(entry.description.node, [status], reports_before=before)

    @staticmethod
    def _keep_user_flag(entry: ServerEntry) -> None:
        # An administrator's enable or disable is the registry's (it survives restarts; the
        # next load carries it to the node): a node's report never overrides it. Only a
        # disable by failure, and its end, come from the node.
        stored, status = entry.stored, entry.status
        if stored.disabled_by is DisabledBy.USER or (
            stored.enabled and disabled_by_from_pb(status.disabled_by) is DisabledBy.USER
        ):
            status.enabled = stored.enabled
            status.disabled_by = (
                common_pb2.ServerStatus.USER if not stored.enabled else common_pb2.ServerStatus.NONE
            )

    async def _persist(self, entries: list[ServerEntry]) -> None:
        """Write what changed in these servers' statuses (enabled flag, last exit) since the
        database last heard of them; an entry whose write fails keeps its old `stored`."""
        plans = [(entry, *self._writes(entry)) for entry in entries]
        plans = [plan for plan in plans if plan[1]]
        if not plans:
            return
        failures = await asyncio.to_thread(
            _run_writes, self.database, [writes for _, writes, _ in plans]
        )
        for (entry, _, stored), error in zip(plans, failures, strict=True):
            if error is None:
                entry.stored = stored
            else:
                # Removed by a deploy meanwhile, most likely: the report is moot.
                log.info("not recording the status of %s: %s", entry.description.id, error)

    def _writes(self, entry: ServerEntry) -> tuple[list[Callable[[], None]], StoredServer]:
        """The database calls that bring `entry.stored` up to its status, and the result."""
        status, stored = entry.status, entry.stored
        server_id = entry.description.id
        database = self.database
        writes: list[Callable[[], None]] = []
        if status.enabled != stored.enabled:
            enabled = status.enabled
            by = None if enabled else DisabledBy.FAILURE
            reason = "" if enabled else _failure_reason(status)
            writes.append(
                functools.partial(database.set_enabled, server_id, enabled, by=by, reason=reason)
            )
            stored = dataclasses.replace(
                stored, enabled=enabled, disabled_by=by, disabled_reason=reason
            )
        if status.HasField("last_exit") and status.last_exit.HasField("at"):
            last_exit = exit_from_pb(status.last_exit)
            known = stored.last_exit
            if (
                known is None
                or abs(known.at - last_exit.at) > 1e-6
                or stored.restart_count != status.restart_count
            ):
                writes.append(
                    functools.partial(
                        database.record_exit,
                        server_id,
                        code=last_exit.code,
                        signal=last_exit.signal,
                        description=last_exit.description,
                        at=last_exit.at,
                        restart_count=status.restart_count,
                    )
                )
                stored = dataclasses.replace(
                    stored, last_exit=last_exit, restart_count=status.restart_count
                )
        return writes, stored

    # ------------------------------------------------------------------ pushes to nodes

    def _load_request(
        self, entries: list[ServerEntry], *, complete: bool, no_restart: bool = False
    ) -> internal_pb2.LoadServersRequest:
        # One revision per request: with several applications on a node, the newest; each
        # server's own revision is in the registry's status of it.
        return internal_pb2.LoadServersRequest(
            revision=max((e.revision for e in entries), default=0),
            servers=[server_to_pb(e.description) for e in entries],
            complete=complete,
            disabled_server_ids=self.state.user_disabled(entries),
            dynamic_registration=self.dynamic_registration,
            no_restart=no_restart,
        )

    async def push_all(self, session: NodeSession) -> PushResult:
        """LoadServers(complete) with every server of the node: after it registers."""
        result = PushResult(session.name, delivered=True)
        try:
            async with session.link.push_lock:
                # Computed under the lock, so it is the latest state when it is sent.
                entries = self.state.servers_on(session.name)
                request = self._load_request(entries, complete=True)
                reports_before = _reports(entries)
                reply = await session.link.load_servers(request, self.load_timeout)
        except ShoalError as error:
            await self._push_failed(session, error, result)
            return result
        await self._outcomes(session.name, reply, result, reports_before)
        log.info(
            "node %s: loaded %d servers (%d destroyed)",
            session.name,
            len(request.servers),
            len(reply.destroyed),
        )
        return result

    async def push(
        self, node: str, load: list[str], destroy: list[str], *, no_restart: bool = False
    ) -> PushResult:
        """Load servers `load` (added or changed) and destroy `destroy` on `node`, if it has a
        session; else it gets them when it registers. `no_restart`: running servers whose
        properties alone changed keep their process (LoadServersRequest.no_restart)."""
        session = self.sessions.get(node)
        if session is None:
            return PushResult(node, delivered=False)
        result = PushResult(node, delivered=True)
        try:
            async with session.link.push_lock:
                if destroy:
                    await self._destroy(session, sorted(destroy), result)
                entries = [self.state.servers[i] for i in sorted(load) if i in self.state.servers]
                reply = None
                reports_before = _reports(entries)
                if entries:
                    request = self._load_request(entries, complete=False, no_restart=no_restart)
                    reply = await session.link.load_servers(request, self.load_timeout)
        except ShoalError as error:
            await self._push_failed(session, error, result)
            return result
        if reply is not None:
            await self._outcomes(node, reply, result, reports_before)
        return result

    async def _destroy(
        self, session: NodeSession, server_ids: list[str], result: PushResult
    ) -> None:
        """DestroyServers: the node stops each server first (up to its deactivation timeout),
        so it gets the load's deadline. A node slow to confirm is a warning, and the servers
        added or changed in the same push are still loaded."""
        try:
            await session.link.destroy_servers(server_ids, self.load_timeout)
        except TimedOutError:
            result.warnings.append(
                f"node {session.name} did not confirm within {self.load_timeout:g} s that it"
                f" destroyed {', '.join(server_ids)}; they are probably still stopping"
            )
            log.warning("node %s: %s", session.name, result.warnings[-1])

    async def _push_failed(
        self, session: NodeSession, error: ShoalError, result: PushResult
    ) -> None:
        if isinstance(error, NodeUnreachableError):
            # Forget the session: the node's next keepalive fails, it registers again and
            # then gets its complete set. Nothing is lost.
            result.delivered = False
            result.warnings.append(
                f"node {session.name} is unreachable ({error.message}); it gets its servers"
                " when it registers again"
            )
            await self.drop(session, "unreachable while loading servers")
        elif isinstance(error, TimedOutError):
            result.warnings.append(
                f"node {session.name} did not confirm the load within {self.load_timeout:g} s;"
                " its servers are probably still loading (see `shoal admin status`)"
            )
        else:
            result.warnings.append(f"node {session.name} failed to load its servers: {error}")
        log.warning("node %s: %s", session.name, result.warnings[-1])

    async def _outcomes(
        self,
        node: str,
        reply: internal_pb2.LoadServersReply,
        result: PushResult,
        reports_before: Mapping[str, int],
    ) -> None:
        statuses = []
        for outcome in reply.outcomes:
            if outcome.result == internal_pb2.LoadOutcome.FAILED:
                result.warnings.append(
                    f"server {outcome.server_id} failed to load on node {node}:"
                    f" {outcome.error.message or 'no reason given'}"
                )
            if outcome.HasField("status"):
                statuses.append(outcome.status)
        await self.record(node, statuses, reports_before=reports_before)


def _run_writes(
    database: RegistryDatabase, batches: list[list[Callable[[], None]]]
) -> list[RegistryDatabaseError | None]:
    """Run each server's writes in order (in a thread), all in one transaction; per server,
    the error that stopped them, or None. A failed transaction fails them all."""
    failures: list[RegistryDatabaseError | None] = []
    try:
        with database.batch():
            for writes in batches:
                try:
                    for write in writes:
                        write()
                except RegistryDatabaseError as error:
                    failures.append(error)
                else:
                    failures.append(None)
    except RegistryDatabaseError as error:  # rolled back: none of it was written
        return [error] * len(batches)
    return failures


def _reports(entries: Iterable[ServerEntry]) -> dict[str, int]:
    return {e.description.id: e.reports for e in entries}


def _failure_reason(status: common_pb2.ServerStatus) -> str:
    if status.HasField("last_exit") and status.last_exit.description:
        return f"disabled after failing: {status.last_exit.description}"
    return "disabled by the node after repeated failures"
