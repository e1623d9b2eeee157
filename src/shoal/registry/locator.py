"""The Locator service (locator.proto) on the registry's client endpoints: where nodes find the
registry's internal endpoints before they open a session, and where clients find adapters,
replica groups and well-known objects. The lookups are pure functions of the registry's state
(`adapter_infos`, `find_adapter`, `find_object`), shared with the Admin service's
`adapter list|endpoints`; the servicer adds what needs I/O: starting an `on-demand` server a
lookup needs (IceGrid's LocatorI / ServerAdapterI::activate), one start per server however many
lookups wait for it, and the replica-group policies of `replicas.py`.

    lookup ─ adapter registered? ── yes ──────────────────────────────▶ endpoints
                 │ no
                 ├─ disabled / manual / always / session ─────────────▶ NOT_FOUND_ADAPTER (why)
                 ├─ node without a session ───────────────────────────▶ NODE_UNREACHABLE
                 └─ on-demand ─▶ Node.StartServer (shared, ≤ activation timeout)
                                     ├─ Active ──────────────────────▶ fresh endpoints
                                     └─ activation timed out ────────▶ TIMED_OUT
"""

from __future__ import annotations

import asyncio
import functools
import os
import random
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from shoal.config.endpoints import Identity, Proxy, ProxyParseError, parse_identity
from shoal.descriptor.model import Activation, Adapter, ReplicaGroup
from shoal.errors import (
    AdapterNotFoundError,
    AlreadyExistsError,
    InvalidArgumentError,
    NodeUnreachableError,
    ObjectNotFoundError,
    ShoalError,
    TimedOutError,
)
from shoal.registry import replicas
from shoal.registry.nodes import NodeSession
from shoal.registry.objects import DynamicAdapter
from shoal.registry.settings import REPLICA_NAME
from shoal.registry.state import RegistryState, ServerEntry
from shoal.rpc import admin_pb2, common_pb2, locator_pb2
from shoal.rpc.wire import CallContext

__all__ = [
    "ACTIVATION_WAIT",
    "LocatorServicer",
    "adapter_infos",
    "check_settable",
    "find_adapter",
    "find_object",
    "find_replica_group",
    "object_infos",
]

#: IceGrid.Node.WaitTime's default: the activation timeout of a server that sets none (0).
ACTIVATION_WAIT = 60
#: Slack on top of a server's activation timeout before the registry gives up on its node
#: (the node itself reports the timeout when it passes).
_MARGIN = 10.0

# States in which a server's registered adapters are reachable (its process runs).
_LIVE = frozenset({common_pb2.ACTIVATING, common_pb2.ACTIVE, common_pb2.ACTIVATION_TIMED_OUT})


def adapter_infos(
    state: RegistryState, *, dynamic_registration: bool
) -> list[admin_pb2.AdapterInfo]:
    """Every adapter: deployed ones (endpoints once their server registered them), then ids
    servers registered without declaring them, kept only with dynamic registration. Sorted."""
    found = _collect(state, dynamic_registration=dynamic_registration)
    return [found[key] for key in sorted(found)]


def _collect(
    state: RegistryState, *, dynamic_registration: bool, only: str | None = None
) -> dict[str, admin_pb2.AdapterInfo]:
    """The adapters by id, as `adapter_infos` lists them; with `only`, that one id alone (a
    lookup: the same rules, one AdapterInfo made instead of one per adapter of the grid)."""
    found: dict[str, admin_pb2.AdapterInfo] = {}
    for server_id, entry in state.servers.items():
        description = entry.description
        for adapter in _adapters(entry):
            if only is None or adapter.id == only:
                found[adapter.id] = admin_pb2.AdapterInfo(
                    adapter_id=adapter.id,
                    server_id=server_id,
                    node=description.node,
                    replica_group=adapter.replica_group,
                )
    holders: Iterable[tuple[str, ServerEntry]] = state.servers.items()
    if only is not None and only in found:  # declared: only its server's status can say
        holders = [(found[only].server_id, state.servers[found[only].server_id])]
    for server_id, entry in holders:
        if entry.status.state not in _LIVE:
            continue
        for registered in entry.status.adapters:
            if only is not None and registered.adapter_id != only:
                continue
            info = found.get(registered.adapter_id)
            if info is None:
                if not dynamic_registration:
                    continue  # the node refuses these; an older node's are ignored
                info = found[registered.adapter_id] = admin_pb2.AdapterInfo(
                    adapter_id=registered.adapter_id,
                    server_id=server_id,
                    node=entry.description.node,
                    replica_group=registered.replica_group,
                )
            elif info.server_id != server_id:
                continue  # another server's adapter: only its own server registers it
            info.endpoints = registered.endpoints
    # Programs that are no server registered these (LocatorRegistry): a declared adapter's
    # only while its server does not run (check_settable), then an undeclared id.
    dynamic_adapters: Iterable[DynamicAdapter] = state.dynamic.adapters.values()
    if only is not None:
        dynamic_adapters = [state.dynamic.adapters[only]] if only in state.dynamic.adapters else []
    for dynamic in dynamic_adapters:
        info = found.get(dynamic.adapter_id)
        if info is None:
            info = found[dynamic.adapter_id] = admin_pb2.AdapterInfo(
                adapter_id=dynamic.adapter_id, replica_group=dynamic.replica_group
            )
        if not info.endpoints:
            info.endpoints = dynamic.endpoints
    return found


def check_settable(state: RegistryState, adapter_id: str, *, dynamic_registration: bool) -> None:
    """May a program that is not a server register `adapter_id` (SetAdapterEndpoints)? A
    declared adapter while its server does not run; an undeclared id with dynamic registration
    on (IceGrid's LocatorRegistryI::setAdapterDirectProxy). Raises why not."""
    if not adapter_id:
        raise InvalidArgumentError("an adapter id is required")
    for server_id, entry in state.servers.items():
        if not any(adapter.id == adapter_id for adapter in _adapters(entry)):
            continue
        if entry.status.state in _LIVE or entry.status.pid:
            raise AlreadyExistsError(
                f"adapter `{adapter_id}' is deployed for server `{server_id}', which is"
                " running: only that server registers it",
                f"stop it first (`shoal admin ice server stop {server_id}`), or use another id",
                kind="object adapter",
                name=adapter_id,
            )
        return
    if not dynamic_registration and adapter_id not in state.dynamic.adapters:
        raise AdapterNotFoundError(
            f"adapter `{adapter_id}' is not deployed and dynamic registration is off"
            " (IceGrid.Registry.DynamicRegistration)",
            "declare it in a descriptor, or set IceGrid.Registry.DynamicRegistration=1 in the"
            " registry's config",
            name=adapter_id,
        )


def find_adapter(
    state: RegistryState, adapter_id: str, *, dynamic_registration: bool
) -> admin_pb2.AdapterInfo:
    """The adapter `adapter_id` (its endpoints empty while not registered); NOT_FOUND_ADAPTER
    when no server declares or registered it."""
    found = _collect(state, dynamic_registration=dynamic_registration, only=adapter_id)
    info = found.get(adapter_id)
    if info is not None:
        return info
    raise AdapterNotFoundError(
        f"adapter `{adapter_id}' does not exist",
        "`shoal admin ice adapter list` shows the adapters deployed",
        name=adapter_id,
    )


def find_replica_group(state: RegistryState, group_id: str) -> ReplicaGroup | None:
    """The deployed replica group `group_id`, if any."""
    for deployed in state.applications.values():
        for group in deployed.expanded.replica_groups:
            if group.id == group_id:
                return group
    return None


def object_infos(state: RegistryState) -> list[admin_pb2.ObjectInfo]:
    """Every well-known object: declared in a deployed adapter or replica group, or added with
    `object add`; sorted by identity (a declared one wins over an added one of the same id)."""
    found: dict[str, admin_pb2.ObjectInfo] = {}
    for added in state.dynamic.objects.values():
        key = str(added.identity)
        found[key] = admin_pb2.ObjectInfo(
            identity=key, proxy=str(added.proxy), type=added.type, adapter_id=added.adapter_id
        )
    for entry in state.servers.values():
        for adapter in _adapters(entry):
            for declared in adapter.objects:
                found[declared.identity] = _declared(
                    declared.identity, declared.type, adapter.id, entry.description.application
                )
    for name, deployed in state.applications.items():
        for group in deployed.expanded.replica_groups:
            for declared in group.objects:
                found[declared.identity] = _declared(
                    declared.identity, declared.type, group.id, name
                )
    return [found[key] for key in sorted(found)]


def _declared(
    identity: str, object_type: str, holder: str, application: str
) -> admin_pb2.ObjectInfo:
    proxy = Proxy(identity=parse_identity(identity), adapter_id=holder)
    return admin_pb2.ObjectInfo(
        identity=identity,
        proxy=str(proxy),
        type=object_type,
        adapter_id=holder,
        application=application,
    )


def find_object(state: RegistryState, identity: str) -> tuple[str, str]:
    """A well-known object declared in a deployed adapter or replica group, or added with
    `object add` naming an adapter: (its type, the id of the adapter or replica group that
    holds it). An added object with a direct proxy: (its type, "")."""
    try:
        wanted = _identity(identity)
    except ProxyParseError as exc:
        raise InvalidArgumentError(f"bad identity `{identity}': {exc}") from exc
    for entry in state.servers.values():
        for adapter in _adapters(entry):
            for declared in adapter.objects:
                if _identity(declared.identity) == wanted:
                    return declared.type, adapter.id
    for deployed in state.applications.values():
        for group in deployed.expanded.replica_groups:
            for declared in group.objects:
                if _identity(declared.identity) == wanted:
                    return declared.type, group.id
    added = state.dynamic.objects.get(wanted)
    if added is not None:
        return added.type, added.adapter_id
    raise ObjectNotFoundError(
        f"object `{identity}' does not exist",
        "declare it with <object identity=...> in an adapter of the descriptor, or add it:"
        " `shoal admin ice object add PROXY [TYPE]`",
        name=identity,
    )


def not_registered(info: admin_pb2.AdapterInfo, entry: ServerEntry | None) -> ShoalError | None:
    """Why a lookup may not start the server of an unregistered adapter, as the error it
    returns; None when it may (an enabled `on-demand` server)."""
    server_id = info.server_id
    what = f"adapter `{info.adapter_id}' is not registered"
    if entry is None:
        return AdapterNotFoundError(f"{what}: its server is gone", name=info.adapter_id)
    if not entry.status.enabled or not entry.stored.enabled:
        return AdapterNotFoundError(
            f"{what}: server `{server_id}' is disabled",
            f"enable it: `shoal admin ice server enable {server_id}`",
            name=info.adapter_id,
        )
    activation = entry.description.activation
    if activation is Activation.ON_DEMAND:
        return None
    if activation is Activation.MANUAL:
        return AdapterNotFoundError(
            f"{what}: server `{server_id}' is manual and not running:"
            f" `shoal admin ice server start {server_id}`",
            'or make it on-demand (activation="on-demand") so that lookups start it',
            name=info.adapter_id,
        )
    return AdapterNotFoundError(
        f"{what}: server `{server_id}' ({activation.value}) is not active",
        f"see why: `shoal admin ice server describe {server_id}`",
        name=info.adapter_id,
    )


class _Sessions(Protocol):
    def get(self, name: str) -> NodeSession | None: ...


#: Makes a call to a server's node and records the status it answers (NodeSync.record_answer):
#: the registry's state, watchers, database.
Recorder = Callable[[ServerEntry, Awaitable[common_pb2.ServerStatus]], Awaitable[None]]


async def _call_only(entry: ServerEntry, call: Awaitable[common_pb2.ServerStatus]) -> None:
    await call


class _NoSessions:
    def get(self, name: str) -> NodeSession | None:
        return None


class LocatorServicer:
    """Answers FindRegistry with the internal endpoints as bound (real ports), and the lookups,
    starting on-demand servers through their node's session (`sessions`) and recording the
    status the node returns (`record_answer`)."""

    def __init__(
        self,
        *,
        instance_name: str,
        internal_endpoints: str,
        state: RegistryState | None = None,
        dynamic_registration: bool = False,
        sessions: _Sessions | None = None,
        record_answer: Recorder = _call_only,
        rng: random.Random | None = None,
    ) -> None:
        self.instance_name = instance_name
        self.internal_endpoints = internal_endpoints
        self.state = state if state is not None else RegistryState()
        self.dynamic_registration = dynamic_registration
        self.sessions: _Sessions = sessions if sessions is not None else _NoSessions()
        self.record_answer = record_answer
        self.rng = rng if rng is not None else random.Random()
        self.rotation = replicas.RoundRobin()
        #: The start in flight for each server: every lookup that needs it awaits this one.
        self._starting: dict[str, asyncio.Task[None]] = {}

    async def aclose(self) -> None:
        """Cancel the on-demand starts still waiting on their node."""
        tasks = list(self._starting.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------ RPCs

    async def FindRegistry(
        self,
        request: locator_pb2.FindRegistryRequest,
        context: CallContext,
    ) -> locator_pb2.FindRegistryReply:
        return locator_pb2.FindRegistryReply(
            instance_name=self.instance_name,
            replica_name=REPLICA_NAME,
            internal_endpoints=self.internal_endpoints,
            pid=os.getpid(),
        )

    async def FindAdapterById(
        self,
        request: locator_pb2.FindAdapterByIdRequest,
        context: CallContext,
    ) -> locator_pb2.FindAdapterByIdReply:
        chosen = await self.resolve(request.adapter_id)
        return locator_pb2.FindAdapterByIdReply(endpoints=chosen[0].endpoints, replicas=chosen)

    async def FindObjectById(
        self,
        request: locator_pb2.FindObjectByIdRequest,
        context: CallContext,
    ) -> locator_pb2.FindObjectByIdReply:
        object_type, holder = find_object(self.state, request.identity)
        if not holder:  # added with a direct proxy: its endpoints are the answer
            added = self.state.dynamic.find_object(request.identity)
            assert added is not None
            return locator_pb2.FindObjectByIdReply(endpoints=added.endpoints, type=object_type)
        chosen = await self.resolve(holder)
        return locator_pb2.FindObjectByIdReply(
            endpoints=chosen[0].endpoints, adapter_id=holder, type=object_type, replicas=chosen
        )

    async def SetAdapterEndpoints(
        self,
        request: locator_pb2.SetAdapterEndpointsRequest,
        context: CallContext,
    ) -> locator_pb2.SetAdapterEndpointsReply:
        adapter_id = request.adapter_id
        check_settable(self.state, adapter_id, dynamic_registration=self.dynamic_registration)
        group = request.replica_group_id
        if group and request.endpoints and find_replica_group(self.state, group) is None:
            raise AdapterNotFoundError(
                f"couldn't find replica group `{group}'",
                "declare it with <replica-group id=...> in a deployed descriptor",
                name=group,
            )
        self.state.dynamic.set_adapter(adapter_id, group, request.endpoints)
        return locator_pb2.SetAdapterEndpointsReply()

    # ------------------------------------------------------------------ resolution

    async def resolve(self, adapter_id: str) -> list[locator_pb2.ReplicaEndpoints]:
        """The endpoints to try for an adapter or replica group id, best first (never empty)."""
        dynamic = self.dynamic_registration
        try:
            info = find_adapter(self.state, adapter_id, dynamic_registration=dynamic)
        except AdapterNotFoundError:
            group = find_replica_group(self.state, adapter_id)
            if group is None:
                raise
            return await self._resolve_group(group)
        if not info.endpoints:
            await self._activate(info)
            info = find_adapter(self.state, adapter_id, dynamic_registration=dynamic)
            if not info.endpoints:
                raise AdapterNotFoundError(
                    f"adapter `{adapter_id}' is not registered: server `{info.server_id}'"
                    " started but did not register it",
                    f"see its output: `shoal admin ice server stderr {info.server_id}`",
                    name=adapter_id,
                )
        return [locator_pb2.ReplicaEndpoints(adapter_id=adapter_id, endpoints=info.endpoints)]

    async def _resolve_group(self, group: ReplicaGroup) -> list[locator_pb2.ReplicaEndpoints]:
        members = self._members(group)
        if not members:
            raise AdapterNotFoundError(
                f"replica group `{group.id}' has no member adapters",
                f'add adapters with replica-group="{group.id}" to the descriptor',
                name=group.id,
            )
        ordered = replicas.order(group, members, rng=self.rng, rotation=self.rotation)
        live = [m for m in ordered if m.live]
        if not live:
            await self._activate_members(group, ordered)
            fresh = {m.adapter_id: m for m in self._members(group)}
            live = [fresh[m.adapter_id] for m in ordered if fresh.get(m.adapter_id, m).live]
        return [
            locator_pb2.ReplicaEndpoints(adapter_id=m.adapter_id, endpoints=m.endpoints)
            for m in replicas.limit(group, live)
        ]

    async def _activate_members(self, group: ReplicaGroup, ordered: list[replicas.Member]) -> None:
        """No member is live: start the on-demand ones (the first n-replicas in policy order;
        0: all), together. When none starts, the error says why for each member."""
        infos = {i.adapter_id: i for i in self._infos()}
        refusals = {
            m.adapter_id: not_registered(infos[m.adapter_id], self.state.servers.get(m.server_id))
            for m in ordered
        }
        startable = [m for m in ordered if refusals[m.adapter_id] is None]
        if group.n_replicas:
            startable = startable[: group.n_replicas]
        results = await asyncio.gather(
            *(self._activate(infos[m.adapter_id]) for m in startable), return_exceptions=True
        )
        if startable and any(not isinstance(r, BaseException) for r in results):
            return
        errors = [r for r in results if isinstance(r, BaseException)]
        for error in errors:
            if not isinstance(error, ShoalError):
                raise error
        if errors:  # a timeout or an unreachable node says more than "not registered"
            raise errors[0]
        reasons = "; ".join(str(e) for e in refusals.values() if e is not None)
        raise AdapterNotFoundError(
            f"replica group `{group.id}' has no registered member: {reasons}",
            "`shoal admin ice adapter list` shows its members and their servers",
            name=group.id,
        )

    def _infos(self) -> list[admin_pb2.AdapterInfo]:
        return adapter_infos(self.state, dynamic_registration=self.dynamic_registration)

    def _members(self, group: ReplicaGroup) -> list[replicas.Member]:
        priorities = {
            adapter.id: replicas.priority_of(adapter.priority)
            for entry in self.state.servers.values()
            for adapter in _adapters(entry)
        }
        members = []
        for info in self._infos():
            if info.replica_group != group.id:
                continue
            members.append(
                replicas.Member(
                    adapter_id=info.adapter_id,
                    server_id=info.server_id,
                    node=info.node,
                    endpoints=info.endpoints,
                    priority=priorities.get(info.adapter_id, 0),
                    load=self._node_load(info.node, info.server_id, group.load_sample),
                )
            )
        return members

    def _node_load(self, node: str, server_id: str, load_sample: int) -> float:
        session = self.sessions.get(node)
        if session is None:
            return replicas.UNREACHABLE_LOAD
        load_factor = None
        entry = self.state.servers.get(server_id)
        deployed = self.state.applications.get(entry.description.application) if entry else None
        if deployed is not None and node in deployed.expanded.nodes:
            load_factor = deployed.expanded.nodes[node].load_factor
        return replicas.node_load(
            session.load, load_sample=load_sample, load_factor=load_factor, cpus=session.info.cpus
        )

    # ------------------------------------------------------------------ on-demand activation

    async def _activate(self, info: admin_pb2.AdapterInfo) -> None:
        """Start the server of an unregistered adapter if it is on-demand; else raise why not.
        Concurrent lookups of the same server share one start."""
        entry = self.state.servers.get(info.server_id)
        refusal = not_registered(info, entry)
        if refusal is not None:
            raise refusal
        assert entry is not None
        server_id = entry.description.id
        task = self._starting.get(server_id)
        if task is None:
            task = asyncio.get_running_loop().create_task(
                self._start(entry), name=f"on-demand start of server {server_id}"
            )
            self._starting[server_id] = task
            task.add_done_callback(lambda done: self._started(server_id, done))
        # Shielded: one caller giving up (its deadline) does not cancel the others' start.
        await asyncio.shield(task)

    def _started(self, server_id: str, task: asyncio.Task[None]) -> None:
        if self._starting.get(server_id) is task:
            del self._starting[server_id]
        if not task.cancelled():
            task.exception()  # retrieved: the waiters, if any are left, raise it

    async def _start(self, entry: ServerEntry) -> None:
        description = entry.description
        server_id, node = description.id, description.node
        session = self.sessions.get(node)
        if session is None:
            raise NodeUnreachableError(
                f"node {node} is down: cannot start on-demand server `{server_id}'",
                f"start it (`shoal node {node} start` on its host), then try again",
                node=node,
            )
        timeout = description.activation_timeout or ACTIVATION_WAIT
        try:
            await self.record_answer(entry, session.link.start_server(server_id, timeout + _MARGIN))
        except TimedOutError as error:
            raise TimedOutError(
                f"on-demand server `{server_id}' did not become active within its activation"
                f" timeout ({timeout} s)",
                f"look at its output: `shoal admin ice server stderr {server_id}`",
            ) from error


@functools.lru_cache(maxsize=4096)
def _identity(text: str) -> Identity:
    """parse_identity, once per distinct text: a lookup compares the identity asked with every
    declared one, and those are few and asked again and again (Identity values are frozen)."""
    return parse_identity(text)


def _adapters(entry: ServerEntry) -> Iterable[Adapter]:
    """The adapters a server declares: its own, then its IceBox services' (cheap when none)."""
    description = entry.description
    if not description.services:
        return description.adapters
    return (*description.adapters, *(a for s in description.services for a in s.adapters))
