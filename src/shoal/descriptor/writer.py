"""Print a written-model `ApplicationDescriptor` as canonical IceGrid XML for the parser.

Canonical means deterministic: equal models give identical text. Keyed collections (variables,
property sets, templates, nodes, parameter values) are written sorted by key, as IceGrid's own
`application describe` does; sequences (servers, adapters, parameters...) keep their order;
attributes equal to IceGrid's default are left out, and so are optional elements with nothing in
them (empty description, empty unnamed `<properties>`, the implicit `<load-balancing>`).
Text is written exactly as stored (never trimmed); lxml escapes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from os import PathLike
from pathlib import Path

from lxml import etree

from shoal.descriptor.model import (
    AdapterDescriptor,
    ApplicationDescriptor,
    DbEnvDescriptor,
    DistributionDescriptor,
    LoadBalancing,
    LoadBalancingType,
    LogDescriptor,
    NodeDescriptor,
    ObjectDescriptor,
    Property,
    PropertySet,
    ReplicaGroupDescriptor,
    ServerDescriptor,
    ServerInstanceDescriptor,
    ServiceDescriptor,
    ServiceInstanceDescriptor,
    TemplateDescriptor,
)

__all__ = ["write_descriptor", "write_file"]

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

# IceGrid's defaults for optional attributes (reference/icegrid.md, section 1).
DEFAULT_ACTIVATION = "manual"
DEFAULT_ENDPOINTS = "default"
DEFAULT_ICEPATCH = DistributionDescriptor().icepatch
DEFAULT_N_REPLICAS = "1"  # when <load-balancing> is written; absent means LoadBalancing()
DEFAULT_LOAD_SAMPLE = "1"

_Element = etree._Element


def write_descriptor(descriptor: ApplicationDescriptor) -> str:
    """The descriptor as an XML document: declaration, `<icegrid>`, two-space indentation.

    Raises ValueError for what XML cannot say: a character XML 1.0 forbids (from lxml), or a
    server/service-instance parameter named `template`.
    """
    root = etree.Element("icegrid")
    _application(root, descriptor)
    body = etree.tostring(root, encoding="unicode", pretty_print=True)
    return XML_DECLARATION + body


def write_file(descriptor: ApplicationDescriptor, path: str | PathLike[str]) -> None:
    """Write `write_descriptor(descriptor)` to `path`, UTF-8 encoded."""
    Path(path).write_text(write_descriptor(descriptor), encoding="utf-8")


# --------------------------------------------------------------------------- helpers


def _child(parent: _Element, tag: str, attributes: Iterable[tuple[str, str]] = ()) -> _Element:
    """Append `<tag>` with the given attributes, in order."""
    element = etree.SubElement(parent, tag)
    for name, value in attributes:
        element.set(name, value)
    return element


def _present(*pairs: tuple[str, str, str]) -> list[tuple[str, str]]:
    """The (name, value) pairs whose value differs from the default given with it."""
    return [(name, value) for name, value, default in pairs if value != default]


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _text(parent: _Element, tag: str, text: str) -> None:
    """`<tag>text</tag>`; an empty text writes `<tag/>`."""
    element = _child(parent, tag)
    if text:
        element.text = text


def _description(parent: _Element, description: str) -> None:
    if description:
        _text(parent, "description", description)


def _variables(parent: _Element, variables: Mapping[str, str]) -> None:
    for name in sorted(variables):
        _child(parent, "variable", [("name", name), *_present(("value", variables[name], ""))])


def _property(parent: _Element, tag: str, prop: Property) -> None:
    _child(parent, tag, [("name", prop.name), *_present(("value", prop.value, ""))])


def _property_set_body(element: _Element, property_set: PropertySet) -> None:
    """References (`<properties refid=...>`) first, then the properties, both in order."""
    for reference in property_set.references:
        _child(element, "properties", [("refid", reference)])
    for prop in property_set.properties:
        _property(element, "property", prop)


def _is_empty(property_set: PropertySet) -> bool:
    return not property_set.references and not property_set.properties


def _unnamed_properties(parent: _Element, property_set: PropertySet) -> None:
    """A server's, service's or instance's own `<properties>`, when it has any."""
    if not _is_empty(property_set):
        _property_set_body(_child(parent, "properties"), property_set)


def _named_property_sets(parent: _Element, property_sets: Mapping[str, PropertySet]) -> None:
    for set_id in sorted(property_sets):
        _property_set_body(_child(parent, "properties", [("id", set_id)]), property_sets[set_id])


def _parameter_values(template: str, values: Mapping[str, str]) -> list[tuple[str, str]]:
    """`template=` then the parameter values, sorted by name, as attributes of an instance."""
    if "template" in values:
        raise ValueError("a parameter named 'template' cannot be written as an instance attribute")
    return [("template", template), *((name, values[name]) for name in sorted(values))]


# --------------------------------------------------------------------------- elements


def _application(parent: _Element, app: ApplicationDescriptor) -> None:
    element = _child(parent, "application", [("name", app.name)])
    if app.import_default_templates:
        element.set("import-default-templates", "true")
    _description(element, app.description)
    _variables(element, app.variables)
    _named_property_sets(element, app.property_sets)
    for group in app.replica_groups:
        _replica_group(element, group)
    for template_id in sorted(app.server_templates):
        _template(element, "server-template", app.server_templates[template_id])
    for template_id in sorted(app.service_templates):
        _template(element, "service-template", app.service_templates[template_id])
    if app.distrib is not None:
        _distrib(element, app.distrib)
    for node_name in sorted(app.nodes):
        _node(element, app.nodes[node_name])


def _replica_group(parent: _Element, group: ReplicaGroupDescriptor) -> None:
    element = _child(
        parent,
        "replica-group",
        [
            ("id", group.id),
            *_present(("proxy-options", group.proxy_options, ""), ("filter", group.filter, "")),
        ],
    )
    _description(element, group.description)
    _load_balancing(element, group.load_balancing)
    for obj in group.objects:
        _object(element, "object", obj)


def _load_balancing(parent: _Element, policy: LoadBalancing) -> None:
    """Absent when it is the implicit policy (random over all replicas)."""
    if policy == LoadBalancing():
        return
    attributes = [("type", str(policy.type))]
    attributes += _present(("n-replicas", policy.n_replicas, DEFAULT_N_REPLICAS))
    if policy.type == LoadBalancingType.ADAPTIVE:
        attributes += _present(("load-sample", policy.load_sample, DEFAULT_LOAD_SAMPLE))
    _child(parent, "load-balancing", attributes)


def _template(parent: _Element, tag: str, template: TemplateDescriptor) -> None:
    element = _child(parent, tag, [("id", template.id)])
    for name in template.parameters:
        attributes = [("name", name)]
        if name in template.parameter_defaults:
            attributes.append(("default", template.parameter_defaults[name]))
        _child(element, "parameter", attributes)
    body = template.descriptor
    if isinstance(body, ServerDescriptor):
        _server(element, body)
    else:
        _service(element, body)


def _distrib(parent: _Element, distrib: DistributionDescriptor) -> None:
    element = _child(parent, "distrib", _present(("icepatch", distrib.icepatch, DEFAULT_ICEPATCH)))
    for directory in distrib.directories:
        _text(element, "directory", directory)


def _node(parent: _Element, node: NodeDescriptor) -> None:
    element = _child(
        parent, "node", [("name", node.name), *_present(("load-factor", node.load_factor, ""))]
    )
    _description(element, node.description)
    _variables(element, node.variables)
    _named_property_sets(element, node.property_sets)
    for instance in node.server_instances:
        _server_instance(element, instance)
    for server in node.servers:
        _server(element, server)


def _server_instance(parent: _Element, instance: ServerInstanceDescriptor) -> None:
    element = _child(
        parent,
        "server-instance",
        _parameter_values(instance.template, instance.parameter_values),
    )
    _unnamed_properties(element, instance.property_set)
    for service in sorted(instance.service_property_sets):
        property_set = instance.service_property_sets[service]
        _property_set_body(_child(element, "properties", [("service", service)]), property_set)


def _server(parent: _Element, server: ServerDescriptor) -> None:
    tag = "icebox" if server.is_icebox else "server"
    element = _child(
        parent,
        tag,
        [
            ("id", server.id),
            ("exe", server.exe),
            *_present(
                ("activation", server.activation, DEFAULT_ACTIVATION),
                ("activation-timeout", server.activation_timeout, ""),
                ("deactivation-timeout", server.deactivation_timeout, ""),
                ("pwd", server.pwd, ""),
                ("user", server.user, ""),
                ("ice-version", server.ice_version, ""),
                ("application-distrib", _bool(server.application_distrib), "true"),
                ("allocatable", _bool(server.allocatable), "false"),
            ),
        ],
    )
    _description(element, server.description)
    for option in server.options:
        _text(element, "option", option)
    for env in server.envs:
        _text(element, "env", env)
    _unnamed_properties(element, server.property_set)
    if server.distrib is not None:
        _distrib(element, server.distrib)
    _communicator_parts(element, server.adapters, server.dbenvs, server.logs)
    for service in server.services or ():
        _service_instance(element, service)


def _communicator_parts(
    element: _Element,
    adapters: Iterable[AdapterDescriptor],
    dbenvs: Iterable[DbEnvDescriptor],
    logs: Iterable[LogDescriptor],
) -> None:
    """What servers and services share, in order: adapters, dbenvs, logs."""
    for adapter in adapters:
        _adapter(element, adapter)
    for dbenv in dbenvs:
        _dbenv(element, dbenv)
    for log in logs:
        _child(element, "log", [("path", log.path), *_present(("property", log.property, ""))])


def _service(parent: _Element, service: ServiceDescriptor) -> None:
    element = _child(parent, "service", [("name", service.name), ("entry", service.entry)])
    _description(element, service.description)
    _unnamed_properties(element, service.property_set)
    _communicator_parts(element, service.adapters, service.dbenvs, service.logs)


def _service_instance(parent: _Element, instance: ServiceInstanceDescriptor) -> None:
    if instance.descriptor is not None:
        _service(parent, instance.descriptor)
        return
    element = _child(
        parent,
        "service-instance",
        _parameter_values(instance.template, instance.parameter_values),
    )
    _unnamed_properties(element, instance.property_set)


def _adapter(parent: _Element, adapter: AdapterDescriptor) -> None:
    element = _child(
        parent,
        "adapter",
        [
            ("name", adapter.name),
            *_present(
                ("id", adapter.id, ""),
                ("replica-group", adapter.replica_group, ""),
                ("priority", adapter.priority, ""),
                ("endpoints", adapter.endpoints, DEFAULT_ENDPOINTS),
                ("proxy-options", adapter.proxy_options, ""),
                ("register-process", _bool(adapter.register_process), "false"),
                ("server-lifetime", _bool(adapter.server_lifetime), "true"),
            ),
        ],
    )
    _description(element, adapter.description)
    for obj in adapter.objects:
        _object(element, "object", obj)
    for obj in adapter.allocatables:
        _object(element, "allocatable", obj)


def _object(parent: _Element, tag: str, obj: ObjectDescriptor) -> None:
    _child(
        parent,
        tag,
        [
            ("identity", obj.identity),
            *_present(
                ("type", obj.type, ""),
                ("proxy-options", obj.proxy_options, ""),
                ("property", obj.property, ""),
            ),
        ],
    )


def _dbenv(parent: _Element, dbenv: DbEnvDescriptor) -> None:
    element = _child(parent, "dbenv", [("name", dbenv.name), *_present(("home", dbenv.home, ""))])
    _description(element, dbenv.description)
    for prop in dbenv.properties:
        _property(element, "dbproperty", prop)
