"""What the registry knows in memory: the deployed applications, expanded, and every server's
description and last known status. Pure data and rules, no I/O: the asyncio shell feeds it."""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp

from shoal.descriptor.model import Application, ApplicationDescriptor, ServerDescription
from shoal.registry.database import DisabledBy, ServerExit, StoredApplication, StoredServer
from shoal.registry.objects import DynamicTable
from shoal.rpc import common_pb2

__all__ = [
    "DeployedApplication",
    "RegistryState",
    "ServerEntry",
    "exit_from_pb",
    "has_process",
    "node_down_reason",
    "timestamp",
]

_DISABLED_BY_TO_PB = {
    None: common_pb2.ServerStatus.NONE,
    DisabledBy.USER: common_pb2.ServerStatus.USER,
    DisabledBy.FAILURE: common_pb2.ServerStatus.FAILURE,
}
_DISABLED_BY_FROM_PB = {value: key for key, value in _DISABLED_BY_TO_PB.items()}
#: Entries of a server's history the registry keeps when it adds one itself (as the node does).
HISTORY_SIZE = 20
_WITH_PROCESS = frozenset(
    {
        common_pb2.ACTIVATING,
        common_pb2.ACTIVATION_TIMED_OUT,
        common_pb2.ACTIVE,
        common_pb2.DEACTIVATING,
    }
)


def timestamp(seconds: float) -> Timestamp:
    """A protobuf Timestamp for seconds since the epoch."""
    stamp = Timestamp()
    stamp.FromNanoseconds(round(seconds * 1e9))
    return stamp


def has_process(status: common_pb2.ServerStatus) -> bool:
    """True when the server has (or had, moments ago) a process: a deploy change restarts it."""
    return status.pid != 0 or status.state in _WITH_PROCESS


def node_down_reason(node: str) -> str:
    """The reason a server of a node without a session shows (IceGrid: the server is unknown)."""
    return f"node {node} is down"


def _signal_name(number: int | None) -> str:
    if number is None:
        return ""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _signal_number(name: str) -> int | None:
    if not name:
        return None
    try:
        return int(signal.Signals[name])
    except KeyError:
        digits = name.removeprefix("signal ").strip()
        return int(digits) if digits.isdigit() else None


def exit_to_pb(last_exit: ServerExit) -> common_pb2.ExitInfo:
    info = common_pb2.ExitInfo(
        signal=_signal_name(last_exit.signal),
        description=last_exit.description,
        at=timestamp(last_exit.at),
    )
    if last_exit.code is not None:
        info.code = last_exit.code
    return info


def exit_from_pb(info: common_pb2.ExitInfo) -> ServerExit:
    """The database's record of an exit a node reported."""
    return ServerExit(
        code=info.code if info.HasField("code") else None,
        signal=_signal_number(info.signal),
        description=info.description,
        at=info.at.ToNanoseconds() / 1e9,
    )


@dataclass(frozen=True)
class DeployedApplication:
    """One application as deployed: its stored record, written model and expansion."""

    stored: StoredApplication
    written: ApplicationDescriptor
    expanded: Application


@dataclass
class ServerEntry:
    """One deployed server: its description, the revision that set it, the database's facts
    about it (cached, to write only what changes) and its last known status."""

    description: ServerDescription
    revision: int
    stored: StoredServer
    status: common_pb2.ServerStatus
    #: Statuses taken from the node's own reports (RegisterNode, ReportState): a reply to a
    #: call made before the last of them is older than it.
    reports: int = 0


class RegistryState:
    """The deployed applications and their servers; the single in-memory truth of the registry."""

    def __init__(self) -> None:
        self.applications: dict[str, DeployedApplication] = {}
        self.servers: dict[str, ServerEntry] = {}
        #: Adapters programs registered and objects admins added at run time (memory only).
        self.dynamic = DynamicTable()

    # ------------------------------------------------------------------ applications

    def install(
        self, deployed: DeployedApplication, stored_servers: Mapping[str, StoredServer]
    ) -> tuple[list[ServerEntry], list[ServerEntry]]:
        """Make `deployed` current; return the entries added or updated, and those removed.

        A kept server keeps its status (its process runs on until the node reloads it);
        `stored_servers` are the database's rows for the application after the deploy.
        """
        name = deployed.stored.name
        revision = deployed.stored.revision
        wanted = deployed.expanded.servers()
        removed = [
            entry
            for server_id, entry in self.servers.items()
            if entry.description.application == name and server_id not in wanted
        ]
        for entry in removed:
            del self.servers[entry.description.id]
        touched: list[ServerEntry] = []
        for server_id, description in sorted(wanted.items()):
            stored = stored_servers.get(server_id) or StoredServer(
                server_id, name, description.node
            )
            kept = self.servers.get(server_id)
            if kept is None:
                entry = ServerEntry(description, revision, stored, common_pb2.ServerStatus())
                self.servers[server_id] = entry
            else:
                entry = kept
                entry.description, entry.revision, entry.stored = description, revision, stored
            _apply_registry_facts(entry)
            touched.append(entry)
        self.applications[name] = deployed
        return touched, removed

    def remove(self, name: str) -> list[ServerEntry]:
        """Forget application `name`; return its servers' entries."""
        self.applications.pop(name, None)
        removed = [e for e in self.servers.values() if e.description.application == name]
        for entry in removed:
            del self.servers[entry.description.id]
        return removed

    def deployed_nodes(self) -> set[str]:
        """Every node some deployed application names (with or without servers)."""
        return {node for app in self.applications.values() for node in app.expanded.nodes}

    def servers_on(self, node: str) -> list[ServerEntry]:
        """The servers deployed on `node`, sorted by id."""
        return sorted(
            (e for e in self.servers.values() if e.description.node == node),
            key=lambda e: e.description.id,
        )

    def owner_of(self, server_id: str) -> str | None:
        """The application deploying `server_id`, if any."""
        entry = self.servers.get(server_id)
        return entry.description.application if entry is not None else None

    # ------------------------------------------------------------------ statuses

    def apply_report(self, node: str, reported: common_pb2.ServerStatus) -> ServerEntry | None:
        """Take a status a node reported; None when the server is not deployed on that node
        (a leftover the next complete load destroys, or a report racing a deploy)."""
        entry = self.servers.get(reported.server_id)
        if entry is None or entry.description.node != node:
            return None
        status = common_pb2.ServerStatus()
        status.CopyFrom(reported)
        if not status.revision:
            status.revision = entry.revision
        entry.status = status
        # Registry-owned facts win: where it runs, which application, how it activates.
        status.node = entry.description.node
        status.application = entry.description.application
        status.activation = entry.description.activation.value
        # A node restarted since has no memory of the last exit; the database does.
        if entry.stored.last_exit is not None and not status.HasField("last_exit"):
            status.last_exit.CopyFrom(exit_to_pb(entry.stored.last_exit))
        return entry

    def mark_node_down(self, node: str, now: float) -> list[ServerEntry]:
        """The node's session ended: nothing is known of its servers' processes any more, so
        each shows INACTIVE, pid 0, no adapters, with "node NODE is down" in its history (until
        the node registers again and reports). Returns the entries that changed."""
        reason = node_down_reason(node)
        changed = []
        for entry in self.servers_on(node):
            status = entry.status
            if status.state == common_pb2.INACTIVE and status.pid == 0 and not status.adapters:
                last = status.history[-1].reason if status.history else ""
                if last == reason:
                    continue
            status.state = common_pb2.INACTIVE
            status.pid = 0
            del status.adapters[:]
            status.history.append(
                common_pb2.StateChange(at=timestamp(now), state=common_pb2.INACTIVE, reason=reason)
            )
            if len(status.history) > HISTORY_SIZE:
                del status.history[: len(status.history) - HISTORY_SIZE]
            changed.append(entry)
        return changed

    def set_enabled(self, entry: ServerEntry, enabled: bool, by: DisabledBy | None) -> None:
        """Record an enable/disable the registry made (the node's report confirms it later)."""
        entry.stored = dataclasses.replace(
            entry.stored, enabled=enabled, disabled_by=None if enabled else by
        )
        entry.status.enabled = enabled
        entry.status.disabled_by = _DISABLED_BY_TO_PB[None if enabled else by]

    def user_disabled(self, entries: Iterable[ServerEntry]) -> list[str]:
        """The ids of those servers an administrator disabled."""
        return [e.description.id for e in entries if e.stored.disabled_by is DisabledBy.USER]


def disabled_by_from_pb(value: int) -> DisabledBy | None:
    """The database's DisabledBy for a ServerStatus.DisabledBy value."""
    return _DISABLED_BY_FROM_PB.get(value)  # type: ignore[call-overload, no-any-return]


def _apply_registry_facts(entry: ServerEntry) -> None:
    """Fill the status fields the registry owns: placement, revision, and the stored flags."""
    status, stored = entry.status, entry.stored
    status.server_id = entry.description.id
    status.node = entry.description.node
    status.application = entry.description.application
    status.activation = entry.description.activation.value
    status.revision = entry.revision
    status.enabled = stored.enabled
    status.disabled_by = _DISABLED_BY_TO_PB[stored.disabled_by]
    if stored.last_exit is not None and not status.HasField("last_exit"):
        status.last_exit.CopyFrom(exit_to_pb(stored.last_exit))
    if not status.restart_count:
        status.restart_count = stored.restart_count
