"""What programs and admins add at run time, beside the descriptors: adapters registered through
the LocatorRegistry (SetAdapterEndpoints) and well-known objects added with `object add`. Kept
in memory only (IceGrid persists them; a Shoal registry forgets them when it restarts). Pure
data and rules, no I/O; the lookups that merge them with the deployed ones live in locator.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from shoal.config.endpoints import (
    EndpointParseError,
    Identity,
    Proxy,
    ProxyParseError,
    format_endpoints,
    parse_endpoints,
    parse_identity,
    parse_proxy,
)
from shoal.errors import AlreadyExistsError, InvalidArgumentError, ObjectNotFoundError

__all__ = [
    "AddedObject",
    "DynamicAdapter",
    "DynamicTable",
    "matches",
    "parse_added_proxy",
]


@dataclass(frozen=True)
class DynamicAdapter:
    """An adapter a program registered itself (not a server of any node)."""

    adapter_id: str
    replica_group: str
    endpoints: str


@dataclass(frozen=True)
class AddedObject:
    """A well-known object added with `object add`: its proxy is direct or names an adapter."""

    identity: Identity
    proxy: Proxy
    type: str

    @property
    def adapter_id(self) -> str:
        return self.proxy.adapter_id or ""

    @property
    def endpoints(self) -> str:
        return format_endpoints(self.proxy.endpoints)


def matches(expression: str, identity: str) -> bool:
    """icegridadmin's `object list|describe EXPR`: empty matches all, a trailing `*` a prefix,
    anything else the identity exactly."""
    if not expression:
        return True
    if expression.endswith("*"):
        return identity.startswith(expression[:-1])
    return identity == expression


def parse_added_proxy(text: str) -> Proxy:
    """The proxy of `object add`: direct (`id:tcp -h H -p P`) or indirect (`id@adapter`)."""
    try:
        proxy = parse_proxy(text)
    except (ProxyParseError, EndpointParseError) as exc:
        raise InvalidArgumentError(f"bad proxy `{text}': {exc}") from exc
    if proxy.is_well_known:
        raise InvalidArgumentError(
            f"proxy `{text}' names no endpoints and no adapter",
            "give `ID:tcp -h HOST -p PORT' or `ID@ADAPTER'",
        )
    return proxy


def check_endpoints(adapter_id: str, endpoints: str) -> str:
    """`endpoints` normalized (Ice's string form); INVALID_ARGUMENT when unparsable."""
    try:
        return format_endpoints(parse_endpoints(endpoints))
    except (EndpointParseError, ProxyParseError) as exc:
        raise InvalidArgumentError(
            f"bad endpoints for adapter `{adapter_id}': {exc}",
            "use Ice's form: `tcp -h HOST -p PORT'",
        ) from exc


class DynamicTable:
    """The registry's run-time adapters and objects (one per registry, on RegistryState)."""

    def __init__(self) -> None:
        self.adapters: dict[str, DynamicAdapter] = {}
        self.objects: dict[Identity, AddedObject] = {}

    # ------------------------------------------------------------------ adapters

    def set_adapter(self, adapter_id: str, replica_group: str, endpoints: str) -> None:
        """Register (or, with empty endpoints, forget) an adapter. Callers check first that
        the id may be set (declared or not, dynamic registration on or off)."""
        if not endpoints:
            self.adapters.pop(adapter_id, None)
            return
        self.adapters[adapter_id] = DynamicAdapter(
            adapter_id, replica_group, check_endpoints(adapter_id, endpoints)
        )

    # ------------------------------------------------------------------ objects

    def add_object(self, proxy: Proxy, object_type: str) -> AddedObject:
        if proxy.identity in self.objects:
            raise AlreadyExistsError(
                f"object `{proxy.identity}' is already registered",
                f"remove it first: `object remove {proxy.identity}'",
                kind="object",
                name=str(proxy.identity),
            )
        added = AddedObject(proxy.identity, proxy, object_type)
        self.objects[proxy.identity] = added
        return added

    def find_object(self, identity: str) -> AddedObject | None:
        try:
            return self.objects.get(parse_identity(identity))
        except ProxyParseError as exc:
            raise InvalidArgumentError(f"bad identity `{identity}': {exc}") from exc

    def remove_object(self, identity: str) -> None:
        found = self.find_object(identity)
        if found is None:
            raise ObjectNotFoundError(
                f"object `{identity}' is not registered",
                "`object list' shows the objects",
                name=identity,
            )
        del self.objects[found.identity]
