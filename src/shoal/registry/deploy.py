"""Deploying, diffing and removing applications: parse and expand, diff as a value, store in
one transaction, and only then tell the affected nodes. Also rebuilds the state at start."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from shoal.descriptor.diff import ApplicationDiff, diff_applications
from shoal.descriptor.expand import expand
from shoal.descriptor.model import (
    Application,
    ApplicationDescriptor,
    Location,
    ServerDescription,
    ServerDescriptor,
)
from shoal.errors import (
    AlreadyExistsError,
    ApplicationNotFoundError,
    DescriptorError,
    Problem,
    ShoalError,
)
from shoal.registry.database import RegistryDatabase, StoredApplication
from shoal.registry.settings import RegistrySettings
from shoal.registry.state import DeployedApplication, RegistryState, has_process
from shoal.registry.sync import NodeSync, PushResult
from shoal.rpc import admin_pb2

__all__ = ["DeployPlan", "Deployer", "build_application", "server_line"]

log = logging.getLogger("shoal.registry")
_PARAMETER = re.compile(r"\$\{([^}]*)\}")
#: What a no-restart deploy may change on a running server (IceGrid: properties only).
_LIVE_FIELDS = ("properties",)


def server_line(written: ApplicationDescriptor, server: ServerDescription) -> int:
    """The line of the element in `written` that deploys `server`: its `<server>`, or the
    `<server-instance>` whose template gives that id, else its `<node>`; 0 if none is known."""
    node = written.nodes.get(server.node)
    nodes = [node] if node is not None else list(written.nodes.values())
    for candidate in nodes:
        for descriptor in candidate.servers:
            if descriptor.id == server.id:
                return _line(descriptor.source)
        for instance in candidate.server_instances:
            template = written.server_templates.get(instance.template)
            if template is None or not isinstance(template.descriptor, ServerDescriptor):
                continue
            values = {**template.parameter_defaults, **instance.parameter_values}
            if _substitute(template.descriptor.id, values) == server.id:
                return _line(instance.source)
    return _line(node.source) if node is not None else 0


def _substitute(text: str, values: Mapping[str, str]) -> str:
    return _PARAMETER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _line(source: Location | None) -> int:
    return source.line if source is not None else 0


def build_application(
    descriptor_xml: str,
    *,
    source: str,
    targets: Sequence[str],
    variables: Mapping[str, str],
    reserved: Mapping[str, str],
    base_dir: Path,
) -> tuple[ApplicationDescriptor, Application, str]:
    """Parse and expand a descriptor: (written model, expanded application, canonical XML).

    Raises DescriptorError with every problem. CPU-bound: call it in a thread.
    """
    # The XML engine (lxml and the parser: ~5 MiB, ~30 ms to load) waits for the first deploy
    # or recovery: a registry with nothing deployed starts without it.
    from shoal.descriptor.parser import parse_string
    from shoal.descriptor.writer import write_descriptor

    written = parse_string(
        descriptor_xml, file=source or "<deploy>", targets=targets, base_dir=base_dir
    )
    expanded = expand(written, targets=targets, variables=variables, reserved=reserved)
    try:
        canonical = write_descriptor(written)
    except ValueError as error:
        raise DescriptorError([Problem(source or "<deploy>", 0, str(error))]) from error
    return written, expanded, canonical


@dataclass(frozen=True)
class DeployPlan:
    """A deploy worked out and not applied: the new application and how it differs."""

    written: ApplicationDescriptor
    expanded: Application
    descriptor_xml: str  # canonical, as stored
    source: str
    targets: tuple[str, ...]
    variables: Mapping[str, str]
    previous: DeployedApplication | None
    diff: ApplicationDiff

    @property
    def name(self) -> str:
        return self.expanded.name

    @property
    def is_noop(self) -> bool:
        """Deploying it again would store nothing new."""
        before = self.previous
        return (
            before is not None
            and before.stored.descriptor_xml == self.descriptor_xml
            and before.stored.targets == self.targets
            and dict(before.stored.variables) == dict(self.variables)
        )


class Deployer:
    """Application changes, one at a time (a lock), all or nothing up to the database commit."""

    def __init__(
        self,
        settings: RegistrySettings,
        state: RegistryState,
        database: RegistryDatabase,
        sync: NodeSync,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.state = state
        self.database = database
        self.sync = sync
        self.clock = clock
        self.lock = asyncio.Lock()

    # ------------------------------------------------------------------ planning

    async def plan(
        self,
        descriptor_xml: str,
        *,
        source: str,
        targets: Sequence[str],
        variables: Mapping[str, str],
    ) -> DeployPlan:
        """Parse, expand, validate against the other applications, and diff. Changes nothing."""
        written, expanded, canonical = await asyncio.to_thread(
            build_application,
            descriptor_xml,
            source=source,
            targets=tuple(targets),
            variables=dict(variables),
            reserved=self.settings.reserved_variables,
            base_dir=self.settings.prefix / "etc" / "grid",
        )
        self._check_server_owners(written, expanded, source)
        previous = self.state.applications.get(expanded.name)
        return DeployPlan(
            written=written,
            expanded=expanded,
            descriptor_xml=canonical,
            source=source,
            targets=tuple(targets),
            variables=MappingProxyType(dict(variables)),
            previous=previous,
            diff=diff_applications(previous.expanded if previous else None, expanded),
        )

    def _check_server_owners(
        self, written: ApplicationDescriptor, expanded: Application, source: str
    ) -> None:
        problems = [
            Problem(
                source or "<deploy>",
                server_line(written, server),
                f"server `{server_id}' is already deployed by application `{owner}'",
            )
            for server_id, server in sorted(expanded.servers().items())
            if (owner := self.state.owner_of(server_id)) not in (None, expanded.name)
        ]
        if problems:
            raise DescriptorError(
                problems,
                "server ids are unique across the grid: rename the servers, or remove the"
                " other application first",
            )

    # ------------------------------------------------------------------ deploy

    async def deploy(
        self, request: admin_pb2.DeployRequest, *, deployed_by: str = ""
    ) -> admin_pb2.DeployReply:
        """Admin.Deploy: store the new revision, then load what changed on the nodes."""
        async with self.lock:
            plan = await self.plan(
                request.descriptor_xml,
                source=request.source_name,
                targets=request.targets,
                variables=request.variables,
            )
            self._check_mode(plan, request.mode)
            if request.no_restart:
                self._check_no_restart(plan)
            reply = self.reply_for(plan, no_restart=request.no_restart)
            if plan.is_noop:
                assert plan.previous is not None
                reply.revision = plan.previous.stored.revision
                return reply
            deployed = await self._store(plan, deployed_by)
            reply.revision = deployed.stored.revision
            results = await self._apply(plan, deployed, no_restart=request.no_restart)
        reply.pending_nodes.extend(sorted(r.node for r in results if not r.delivered))
        reply.warnings.extend(w for r in results for w in r.warnings)
        log.info(
            "deployed %s revision %d: %s",
            plan.name,
            reply.revision,
            plan.diff.summary().replace("\n", "; "),
        )
        return reply

    @staticmethod
    def _check_mode(plan: DeployPlan, mode: int) -> None:
        if mode == admin_pb2.DeployRequest.ADD and plan.previous is not None:
            raise AlreadyExistsError(
                f"application `{plan.name}' is already deployed"
                f" (revision {plan.previous.stored.revision})",
                "update it instead (`shoal admin deploy` or `application update`)",
                kind="application",
                name=plan.name,
            )
        if mode == admin_pb2.DeployRequest.UPDATE and plan.previous is None:
            raise ApplicationNotFoundError(
                f"application `{plan.name}' is not deployed",
                "add it first (`shoal admin deploy` or `application add`)",
                name=plan.name,
            )

    def _check_no_restart(self, plan: DeployPlan) -> None:
        """IceGrid's `Database::checkUpdate`: every running server may only change its
        properties, and none may be removed; all refusals in one error, nothing applied."""
        reasons = []
        for server_id, fields in plan.diff.changed.items():
            if self._is_running(server_id) and tuple(fields) != _LIVE_FIELDS:
                reasons.append(
                    f"server `{server_id}' would need to be stopped (changed:"
                    f" {', '.join(f for f in fields if f not in _LIVE_FIELDS)})"
                )
        reasons.extend(
            f"server `{server_id}' is running"
            for server_id in plan.diff.removed
            if self._is_running(server_id)
        )
        if reasons:
            raise DescriptorError(
                [
                    Problem(
                        plan.source or "<deploy>",
                        0,
                        f"check for application `{plan.name}' update failed: " + "; ".join(reasons),
                    )
                ],
                "stop those servers first, or deploy without --no-restart; nothing was deployed",
            )

    def _is_running(self, server_id: str) -> bool:
        entry = self.state.servers.get(server_id)
        return entry is not None and has_process(entry.status)

    def reply_for(self, plan: DeployPlan, *, no_restart: bool = False) -> admin_pb2.DeployReply:
        """What deploying `plan` does (revision, pending nodes and warnings left unset);
        `no_restart`: running servers whose properties alone changed keep their process."""
        return admin_pb2.DeployReply(
            application=plan.name,
            added=list(plan.diff.added),
            removed=list(plan.diff.removed),
            restarted=self._changed(plan, no_restart=no_restart),
            unchanged=list(plan.diff.unchanged),
            created=plan.previous is None,
        )

    def _changed(
        self, plan: DeployPlan, *, no_restart: bool = False
    ) -> list[admin_pb2.ChangedServer]:
        new_servers = plan.expanded.servers()
        changed = []
        for server_id, fields in sorted(plan.diff.changed.items()):
            running = self._is_running(server_id)
            changed.append(
                admin_pb2.ChangedServer(
                    server_id=server_id,
                    node=new_servers[server_id].node,
                    changed_fields=list(fields),
                    running=running,
                    live=no_restart and running and tuple(fields) == _LIVE_FIELDS,
                )
            )
        return changed

    async def _store(self, plan: DeployPlan, deployed_by: str) -> DeployedApplication:
        now = self.clock()
        placement = {sid: s.node for sid, s in plan.expanded.servers().items()}
        revision = await asyncio.to_thread(
            self.database.deploy,
            plan.name,
            descriptor_xml=plan.descriptor_xml,
            source=plan.source,
            targets=plan.targets,
            variables=plan.variables,
            server_nodes=placement,
            deployed_by=deployed_by,
            now=now,
            # The lock makes this always true; the database checks it anyway.
            expected_revision=plan.previous.stored.revision if plan.previous else 0,
        )
        stored = StoredApplication(
            name=plan.name,
            descriptor_xml=plan.descriptor_xml,
            source=plan.source,
            targets=plan.targets,
            variables=plan.variables,
            revision=revision,
            deployed_by=deployed_by,
            deployed_at=now,
        )
        return DeployedApplication(stored, plan.written, plan.expanded)

    async def _apply(
        self, plan: DeployPlan, deployed: DeployedApplication, *, no_restart: bool = False
    ) -> list[PushResult]:
        """Install in memory, tell watchers, then push to every affected node in parallel
        (`no_restart`: the nodes keep running servers whose properties alone changed)."""
        old_nodes = {
            sid: e.description.node
            for sid, e in self.state.servers.items()
            if e.description.application == plan.name
        }
        stored_servers = await asyncio.to_thread(self.database.servers, plan.name)
        touched, removed = self.state.install(deployed, {s.server_id: s for s in stored_servers})
        hub = self.sync.hub
        for entry in removed:
            d = entry.description
            hub.server_removed(d.id, d.application, d.node)
        for entry in touched:
            hub.server_changed(entry.status)

        load: defaultdict[str, list[str]] = defaultdict(list)
        destroy: defaultdict[str, list[str]] = defaultdict(list)
        new_servers = plan.expanded.servers()
        for server_id in (*plan.diff.added, *plan.diff.changed):
            load[new_servers[server_id].node].append(server_id)
        for server_id in plan.diff.changed:
            if old_nodes.get(server_id, new_servers[server_id].node) != new_servers[server_id].node:
                destroy[old_nodes[server_id]].append(server_id)  # it moved to another node
        for entry in removed:
            destroy[entry.description.node].append(entry.description.id)
        nodes = sorted(load.keys() | destroy.keys())
        return list(
            await asyncio.gather(
                *(self.sync.push(n, load[n], destroy[n], no_restart=no_restart) for n in nodes)
            )
        )

    # ------------------------------------------------------------------ remove

    async def remove(self, name: str) -> list[str]:
        """Admin.ApplicationRemove: forget it, then destroy its servers on their nodes."""
        async with self.lock:
            if name not in self.state.applications:
                raise ApplicationNotFoundError(
                    f"application `{name}' is not deployed",
                    "`shoal admin ice application list` shows the deployed applications",
                    name=name,
                )
            await asyncio.to_thread(self.database.remove_application, name)
            removed = self.state.remove(name)
            by_node: defaultdict[str, list[str]] = defaultdict(list)
            for entry in removed:
                d = entry.description
                self.sync.hub.server_removed(d.id, d.application, d.node)
                by_node[d.node].append(d.id)
            await asyncio.gather(*(self.sync.push(n, [], ids) for n, ids in by_node.items()))
        log.info("removed application %s (%d servers)", name, len(removed))
        return sorted(e.description.id for e in removed)

    # ------------------------------------------------------------------ recovery

    async def recover(self) -> list[str]:
        """Rebuild the state from the database at start; return a line per application that
        could not be expanded again (it stays stored, and diagnostics show the line)."""
        stored_apps = await asyncio.to_thread(self.database.applications)
        stored_servers = await asyncio.to_thread(self.database.servers)
        problems = []
        for stored in stored_apps:
            try:
                written, expanded, _ = await asyncio.to_thread(
                    build_application,
                    stored.descriptor_xml,
                    source=f"<{stored.name} revision {stored.revision}>",
                    targets=stored.targets,
                    variables=stored.variables,
                    reserved=self.settings.reserved_variables,
                    base_dir=self.settings.prefix / "etc" / "grid",
                )
            except ShoalError as error:
                line = (
                    f"application {stored.name} (revision {stored.revision}) cannot be"
                    f" expanded again: {error.message.splitlines()[0]}"
                )
                log.error("%s", line)
                problems.append(line)
                continue
            self.state.install(
                DeployedApplication(stored, written, expanded),
                {s.server_id: s for s in stored_servers if s.application == stored.name},
            )
        log.info(
            "recovered %d applications, %d servers",
            len(self.state.applications),
            len(self.state.servers),
        )
        return problems
