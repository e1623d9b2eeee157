"""The application descriptor as IceGrid's XML states it: frozen dataclasses, one per element.

Two layers live here:

* the *written* model (`ApplicationDescriptor` and below) mirrors the XML after includes and
  targets are applied: templates, instances, `${variables}` and property-set references are kept
  as written. The parser produces it, the writer prints it, and the two round-trip.
* the *expanded* model (`Application`, `ServerDescription` and below) is what `expand` makes of
  it: concrete servers per node, every variable substituted and property sets flattened. The
  node and the deploy diff only ever see this layer.

Every value is immutable; sequences are tuples and keyed collections are `Mapping`s built once.
`source` fields record where an element was written (for error messages) and take no part in
equality, so a model that went through the writer compares equal to the one it came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Union


@dataclass(frozen=True, order=True)
class Location:
    """Where an element starts: the file as given to the parser, and a 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


# Field factories, called in class bodies (hence the RUF009 exemption for this module).
def _loc() -> Location | None:
    return field(default=None, compare=False, repr=False)


def _empty() -> Any:
    """A field defaulting to an empty read-only mapping."""
    return field(default_factory=lambda: MappingProxyType({}))


class Activation(StrEnum):
    """IceGrid's activation modes; the empty attribute means manual."""

    MANUAL = "manual"
    ON_DEMAND = "on-demand"
    ALWAYS = "always"
    SESSION = "session"


class LoadBalancingType(StrEnum):
    RANDOM = "random"
    ORDERED = "ordered"
    ROUND_ROBIN = "round-robin"
    ADAPTIVE = "adaptive"


# --------------------------------------------------------------------------- written model


@dataclass(frozen=True)
class Property:
    """`<property name=... value=...>`; a later one of the same name wins."""

    name: str
    value: str = ""
    source: Location | None = _loc()


@dataclass(frozen=True)
class PropertySet:
    """`<properties>`: references to named sets (`refid`, in order) then properties, in order."""

    references: tuple[str, ...] = ()
    properties: tuple[Property, ...] = ()
    source: Location | None = _loc()


@dataclass(frozen=True)
class ObjectDescriptor:
    """`<object>` or `<allocatable>` in an adapter, or `<object>` in a replica group."""

    identity: str
    type: str = ""
    proxy_options: str = ""
    property: str = ""  # adapter objects only: also sets property=identity
    source: Location | None = _loc()


@dataclass(frozen=True)
class AdapterDescriptor:
    """`<adapter>` of a server or service, with its objects and allocatables."""

    name: str
    id: str = ""  # empty: ${server}.NAME (or ${server}.${service}.NAME) at expansion
    replica_group: str = ""
    priority: str = ""
    endpoints: str = "default"
    proxy_options: str = ""
    register_process: bool = False
    server_lifetime: bool = True
    description: str = ""
    objects: tuple[ObjectDescriptor, ...] = ()
    allocatables: tuple[ObjectDescriptor, ...] = ()
    source: Location | None = _loc()


@dataclass(frozen=True)
class DbEnvDescriptor:
    """`<dbenv>`: a database environment directory and its `<dbproperty>` elements."""

    name: str
    home: str = ""
    description: str = ""
    properties: tuple[Property, ...] = ()  # <dbproperty>
    source: Location | None = _loc()


@dataclass(frozen=True)
class LogDescriptor:
    """`<log>`: a file the server writes; the property named `property`, if any, holds its path."""

    path: str
    property: str = ""
    source: Location | None = _loc()


@dataclass(frozen=True)
class DistributionDescriptor:
    """`<distrib>`: parsed and kept; Shoal does not patch (a warning says so)."""

    icepatch: str = "${application}.IcePatch2/server"
    directories: tuple[str, ...] = ()
    source: Location | None = _loc()


@dataclass(frozen=True)
class ServiceDescriptor:
    """An IceBox `<service>` (inside an icebox or a service-template)."""

    name: str
    entry: str
    description: str = ""
    property_set: PropertySet = PropertySet()
    adapters: tuple[AdapterDescriptor, ...] = ()
    dbenvs: tuple[DbEnvDescriptor, ...] = ()
    logs: tuple[LogDescriptor, ...] = ()
    source: Location | None = _loc()


@dataclass(frozen=True)
class ServiceInstanceDescriptor:
    """`<service-instance template=...>` with its parameter values, or an inline `<service>`."""

    template: str = ""
    parameter_values: Mapping[str, str] = _empty()
    descriptor: ServiceDescriptor | None = None  # set for an inline <service>
    property_set: PropertySet = PropertySet()
    source: Location | None = _loc()


@dataclass(frozen=True)
class ServerDescriptor:
    """`<server>`, or `<icebox>` when `services` is not None."""

    id: str
    exe: str
    activation: str = "manual"  # kept as written: may hold ${variables}
    activation_timeout: str = ""
    deactivation_timeout: str = ""
    pwd: str = ""
    user: str = ""
    ice_version: str = ""
    application_distrib: bool = True
    allocatable: bool = False
    description: str = ""
    options: tuple[str, ...] = ()
    envs: tuple[str, ...] = ()  # NAME=VALUE
    property_set: PropertySet = PropertySet()
    adapters: tuple[AdapterDescriptor, ...] = ()
    dbenvs: tuple[DbEnvDescriptor, ...] = ()
    logs: tuple[LogDescriptor, ...] = ()
    distrib: DistributionDescriptor | None = None
    services: tuple[ServiceInstanceDescriptor, ...] | None = None  # IceBox only
    source: Location | None = _loc()

    @property
    def is_icebox(self) -> bool:
        return self.services is not None


@dataclass(frozen=True)
class ServerInstanceDescriptor:
    """`<server-instance template=... name=value...>` and its optional property sets."""

    template: str
    parameter_values: Mapping[str, str] = _empty()
    property_set: PropertySet = PropertySet()
    service_property_sets: Mapping[str, PropertySet] = _empty()
    source: Location | None = _loc()


@dataclass(frozen=True)
class TemplateDescriptor:
    """`<server-template>` or `<service-template>`: parameters (with defaults) and one body."""

    id: str
    parameters: tuple[str, ...]
    parameter_defaults: Mapping[str, str]
    descriptor: Union[ServerDescriptor, ServiceDescriptor]  # noqa: UP007
    source: Location | None = _loc()


@dataclass(frozen=True)
class LoadBalancing:
    """`<load-balancing>`; absent means random over all replicas (n_replicas 0)."""

    type: LoadBalancingType = LoadBalancingType.RANDOM
    n_replicas: str = "0"
    load_sample: str = "1"


@dataclass(frozen=True)
class ReplicaGroupDescriptor:
    """`<replica-group>`: adapters sharing one id, and its load balancing as written."""

    id: str
    load_balancing: LoadBalancing = LoadBalancing()
    proxy_options: str = ""
    filter: str = ""
    description: str = ""
    objects: tuple[ObjectDescriptor, ...] = ()
    source: Location | None = _loc()


@dataclass(frozen=True)
class NodeDescriptor:
    """`<node>`: its variables, property sets, servers and server instances."""

    name: str
    load_factor: str = ""
    description: str = ""
    variables: Mapping[str, str] = _empty()
    property_sets: Mapping[str, PropertySet] = _empty()
    server_instances: tuple[ServerInstanceDescriptor, ...] = ()
    servers: tuple[ServerDescriptor, ...] = ()
    source: Location | None = _loc()


@dataclass(frozen=True)
class ApplicationDescriptor:
    """`<application>` after includes and targets: the deployable unit, stored by the registry."""

    name: str
    description: str = ""
    import_default_templates: bool = False
    variables: Mapping[str, str] = _empty()
    property_sets: Mapping[str, PropertySet] = _empty()
    replica_groups: tuple[ReplicaGroupDescriptor, ...] = ()
    server_templates: Mapping[str, TemplateDescriptor] = _empty()
    service_templates: Mapping[str, TemplateDescriptor] = _empty()
    nodes: Mapping[str, NodeDescriptor] = _empty()
    distrib: DistributionDescriptor | None = None
    source: Location | None = _loc()


# --------------------------------------------------------------------------- expanded model


@dataclass(frozen=True)
class Adapter:
    """A concrete adapter: id resolved, endpoints as an Ice endpoint string."""

    name: str
    id: str
    endpoints: str
    replica_group: str = ""
    priority: str = ""
    proxy_options: str = ""
    register_process: bool = False
    server_lifetime: bool = True
    description: str = ""
    objects: tuple[ObjectDescriptor, ...] = ()
    allocatables: tuple[ObjectDescriptor, ...] = ()


@dataclass(frozen=True)
class Service:
    """A concrete IceBox service."""

    name: str
    entry: str
    description: str = ""
    properties: tuple[tuple[str, str], ...] = ()
    adapters: tuple[Adapter, ...] = ()
    dbenvs: tuple[DbEnvDescriptor, ...] = ()
    logs: tuple[LogDescriptor, ...] = ()


@dataclass(frozen=True)
class ServerDescription:
    """One concrete server, fully expanded: everything a node needs and nothing about XML.

    `properties` is the flattened, ordered list the server's config file gets (property sets
    resolved, later values win when read); it includes what adapters and objects add
    (`NAME.Endpoints`, `NAME.AdapterId`, object `property` attributes...).
    Equality is IceGrid's `descriptorEqual`: any difference means the server must reload.
    """

    id: str
    node: str
    application: str
    exe: str
    activation: Activation = Activation.MANUAL
    activation_timeout: int = 0  # seconds; 0: the node's default wait time
    deactivation_timeout: int = 0
    pwd: str = ""
    user: str = ""
    ice_version: str = ""
    application_distrib: bool = True
    allocatable: bool = False
    description: str = ""
    options: tuple[str, ...] = ()
    envs: tuple[str, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()
    adapters: tuple[Adapter, ...] = ()
    dbenvs: tuple[DbEnvDescriptor, ...] = ()
    logs: tuple[LogDescriptor, ...] = ()
    distrib: DistributionDescriptor | None = None
    services: tuple[Service, ...] | None = None  # IceBox only

    @property
    def is_icebox(self) -> bool:
        return self.services is not None


@dataclass(frozen=True)
class ReplicaGroup:
    """A concrete replica group: load-balancing numbers parsed, variables substituted."""

    id: str
    load_balancing: LoadBalancingType = LoadBalancingType.RANDOM
    n_replicas: int = 0
    load_sample: int = 1
    proxy_options: str = ""
    filter: str = ""
    description: str = ""
    objects: tuple[ObjectDescriptor, ...] = ()


@dataclass(frozen=True)
class Node:
    """A node of an expanded application and its concrete servers."""

    name: str
    load_factor: float | None = None
    description: str = ""
    servers: tuple[ServerDescription, ...] = ()


@dataclass(frozen=True)
class Application:
    """An expanded application: what a deploy stores, diffs and hands to nodes."""

    name: str
    description: str = ""
    nodes: Mapping[str, Node] = _empty()
    replica_groups: tuple[ReplicaGroup, ...] = ()
    targets: tuple[str, ...] = ()

    def servers(self) -> dict[str, ServerDescription]:
        """Every server of the application by id."""
        return {s.id: s for node in self.nodes.values() for s in node.servers}
