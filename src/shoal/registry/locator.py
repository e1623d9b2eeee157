"""The Locator service (locator.proto) on the registry's client endpoints: where nodes find the
registry's internal endpoints before they open a session, and where clients find adapters and
well-known objects. The lookups are pure functions of the registry's state (`adapter_infos`,
`find_adapter`, `find_object`), shared with the Admin service's `adapter list|endpoints`."""

from __future__ import annotations

import os
from typing import Any

import grpc.aio

from shoal.config.endpoints import ProxyParseError, parse_identity
from shoal.errors import AdapterNotFoundError, InvalidArgumentError, ObjectNotFoundError
from shoal.registry.settings import REPLICA_NAME
from shoal.registry.state import RegistryState
from shoal.rpc import admin_pb2, common_pb2, locator_pb2, locator_pb2_grpc

__all__ = ["LocatorServicer", "adapter_infos", "find_adapter", "find_object"]

# States in which a server's registered adapters are reachable (its process runs).
_LIVE = frozenset({common_pb2.ACTIVATING, common_pb2.ACTIVE, common_pb2.ACTIVATION_TIMED_OUT})


def adapter_infos(
    state: RegistryState, *, dynamic_registration: bool
) -> list[admin_pb2.AdapterInfo]:
    """Every adapter: deployed ones (endpoints once their server registered them), then ids
    servers registered without declaring them, kept only with dynamic registration. Sorted."""
    found: dict[str, admin_pb2.AdapterInfo] = {}
    for server_id, entry in state.servers.items():
        description = entry.description
        services = description.services or ()
        for adapter in (*description.adapters, *(a for s in services for a in s.adapters)):
            found[adapter.id] = admin_pb2.AdapterInfo(
                adapter_id=adapter.id,
                server_id=server_id,
                node=description.node,
                replica_group=adapter.replica_group,
            )
    for server_id, entry in state.servers.items():
        if entry.status.state not in _LIVE:
            continue
        for registered in entry.status.adapters:
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
    return [found[key] for key in sorted(found)]


def find_adapter(
    state: RegistryState, adapter_id: str, *, dynamic_registration: bool
) -> admin_pb2.AdapterInfo:
    """The adapter `adapter_id` (its endpoints empty while not registered); NOT_FOUND_ADAPTER
    when no server declares or registered it."""
    for info in adapter_infos(state, dynamic_registration=dynamic_registration):
        if info.adapter_id == adapter_id:
            return info
    raise AdapterNotFoundError(
        f"adapter `{adapter_id}' does not exist",
        "`shoal admin ice adapter list` shows the adapters deployed",
        name=adapter_id,
    )


def _registered(info: admin_pb2.AdapterInfo) -> str:
    if not info.endpoints:
        raise AdapterNotFoundError(
            f"adapter `{info.adapter_id}' is not registered: server `{info.server_id}' is not"
            " active",
            f"start it: `shoal admin ice server start {info.server_id}`",
            name=info.adapter_id,
        )
    return info.endpoints


def find_object(
    state: RegistryState, identity: str, *, dynamic_registration: bool
) -> tuple[str, admin_pb2.AdapterInfo]:
    """A well-known object declared in a deployed adapter: (its type, its adapter's info)."""
    try:
        wanted = parse_identity(identity)
    except ProxyParseError as exc:
        raise InvalidArgumentError(f"bad identity `{identity}': {exc}") from exc
    for entry in state.servers.values():
        description = entry.description
        services = description.services or ()
        for adapter in (*description.adapters, *(a for s in services for a in s.adapters)):
            for declared in adapter.objects:
                if parse_identity(declared.identity) == wanted:
                    info = find_adapter(
                        state, adapter.id, dynamic_registration=dynamic_registration
                    )
                    return declared.type, info
    raise ObjectNotFoundError(
        f"object `{identity}' does not exist",
        "declare it with <object identity=...> in an adapter of the descriptor",
        name=identity,
    )


class LocatorServicer(locator_pb2_grpc.LocatorServicer):
    """Answers FindRegistry with the internal endpoints as bound (real ports)."""

    def __init__(
        self,
        *,
        instance_name: str,
        internal_endpoints: str,
        state: RegistryState | None = None,
        dynamic_registration: bool = False,
    ) -> None:
        self.instance_name = instance_name
        self.internal_endpoints = internal_endpoints
        self.state = state if state is not None else RegistryState()
        self.dynamic_registration = dynamic_registration

    async def FindRegistry(
        self,
        request: locator_pb2.FindRegistryRequest,
        context: grpc.aio.ServicerContext[Any, Any],
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
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> locator_pb2.FindAdapterByIdReply:
        info = find_adapter(
            self.state, request.adapter_id, dynamic_registration=self.dynamic_registration
        )
        return locator_pb2.FindAdapterByIdReply(endpoints=_registered(info))

    async def FindObjectById(
        self,
        request: locator_pb2.FindObjectByIdRequest,
        context: grpc.aio.ServicerContext[Any, Any],
    ) -> locator_pb2.FindObjectByIdReply:
        object_type, info = find_object(
            self.state, request.identity, dynamic_registration=self.dynamic_registration
        )
        return locator_pb2.FindObjectByIdReply(
            endpoints=_registered(info), adapter_id=info.adapter_id, type=object_type
        )
