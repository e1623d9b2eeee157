"""Small builders of written-model descriptors for the expansion and diff tests.

Every element gets a `Location("app.xml", line)` when given `line=`, so tests can assert the
`file:line` of each problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from shoal.descriptor.model import (
    ApplicationDescriptor,
    Location,
    NodeDescriptor,
    Property,
    PropertySet,
    ReplicaGroupDescriptor,
    ServerDescriptor,
    ServerInstanceDescriptor,
    ServiceDescriptor,
    TemplateDescriptor,
)

FILE = "app.xml"


def at(line: int | None) -> Location | None:
    return None if line is None else Location(FILE, line)


def frozen(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


def props(
    *pairs: tuple[str, str], refs: Iterable[str] = (), line: int | None = None
) -> PropertySet:
    """A `<properties>` with references then `(name, value)` properties, all at `line`."""
    return PropertySet(
        references=tuple(refs),
        properties=tuple(Property(n, v, at(line)) for n, v in pairs),
        source=at(line),
    )


def server(
    server_id: str = "S", exe: str = "/bin/s", *, line: int | None = None, **kw: Any
) -> ServerDescriptor:
    return ServerDescriptor(id=server_id, exe=exe, source=at(line), **kw)


def service(
    name: str, entry: str = "svc:create", *, line: int | None = None, **kw: Any
) -> ServiceDescriptor:
    return ServiceDescriptor(name=name, entry=entry, source=at(line), **kw)


def template(
    template_id: str,
    body: ServerDescriptor | ServiceDescriptor,
    *parameters: str,
    defaults: Mapping[str, str] | None = None,
    line: int | None = None,
) -> TemplateDescriptor:
    return TemplateDescriptor(
        id=template_id,
        parameters=tuple(parameters),
        parameter_defaults=frozen(defaults),
        descriptor=body,
        source=at(line),
    )


def instance(
    template_id: str,
    *,
    line: int | None = None,
    property_set: PropertySet | None = None,
    service_property_sets: Mapping[str, PropertySet] | None = None,
    **values: str,
) -> ServerInstanceDescriptor:
    return ServerInstanceDescriptor(
        template=template_id,
        parameter_values=frozen(values),
        property_set=property_set or PropertySet(),
        service_property_sets=frozen(service_property_sets),
        source=at(line),
    )


def node(
    name: str,
    *elements: ServerDescriptor | ServerInstanceDescriptor,
    variables: Mapping[str, str] | None = None,
    property_sets: Mapping[str, PropertySet] | None = None,
    line: int | None = None,
    **kw: Any,
) -> NodeDescriptor:
    return NodeDescriptor(
        name=name,
        variables=frozen(variables),
        property_sets=frozen(property_sets),
        server_instances=tuple(e for e in elements if isinstance(e, ServerInstanceDescriptor)),
        servers=tuple(e for e in elements if isinstance(e, ServerDescriptor)),
        source=at(line),
        **kw,
    )


def application(
    *nodes: NodeDescriptor,
    name: str = "App",
    templates: Iterable[TemplateDescriptor] = (),
    variables: Mapping[str, str] | None = None,
    property_sets: Mapping[str, PropertySet] | None = None,
    replica_groups: Iterable[ReplicaGroupDescriptor] = (),
    line: int | None = 1,
    **kw: Any,
) -> ApplicationDescriptor:
    server_templates = {t.id: t for t in templates if isinstance(t.descriptor, ServerDescriptor)}
    service_templates = {t.id: t for t in templates if isinstance(t.descriptor, ServiceDescriptor)}
    return ApplicationDescriptor(
        name=name,
        variables=frozen(variables),
        property_sets=frozen(property_sets),
        replica_groups=tuple(replica_groups),
        server_templates=frozen(server_templates),
        service_templates=frozen(service_templates),
        nodes=frozen({n.name: n for n in nodes}),
        source=at(line),
        **kw,
    )
