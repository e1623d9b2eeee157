"""Hypothesis strategies for valid written-model `ApplicationDescriptor`s of moderate size.

`applications()` touches every element and attribute of the written model, with names from a safe
alphabet mixed with XML-hostile text (`<`, `&`, quotes, non-ASCII, tabs, newlines, carriage
returns; never the control characters XML 1.0 forbids). The models stay valid for the parser:
booleans are booleans, activation modes and load samples come from IceGrid's sets, timeouts are
digit strings, ids are unique, every reference (template, property set, replica group) names
something defined, templates have exactly one body, and a dbenv with a home has no dbproperty.

`${...}` appears only where it names something defined (template parameters, application
variables); other text never holds `$`, `{` or `}`.

Whitespace rule: the parser keeps element text (description, option, env, directory) and attribute
values exactly as written, never trimmed. So text here may start or end with spaces, tabs,
newlines or carriage returns, or be blank. Required attributes are non-empty (the parser refuses an
empty one) and, for readable failures, not blank either.

Leaf strategies are built once (`@cache`); the tree is built by plain functions that take `draw`,
which keeps generation fast enough for a few hundred examples per test.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType
from typing import TypeVar

from hypothesis import strategies as st

from shoal.descriptor.model import (
    Activation,
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

__all__ = ["applications", "identifiers", "names", "text", "values"]

SAFE_ALPHABET = string.ascii_letters + string.digits + "_-."
IDENTIFIER_ALPHABET = string.ascii_lowercase + string.digits + "_"
HOSTILE_CHARACTERS = "<>&\"' \t\n\ré中🐟ß\u00a0"
ACTIVATIONS = ("", *(mode.value for mode in Activation))  # "" is allowed and kept as written
DEFAULT_ICEPATCH = DistributionDescriptor().icepatch

_T = TypeVar("_T")


# --------------------------------------------------------------------------- leaf strategies


@cache
def _characters() -> st.SearchStrategy[str]:
    """Any character XML 1.0 allows, weighted towards the ones an escaper must handle."""
    return st.one_of(
        st.sampled_from(HOSTILE_CHARACTERS),
        st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="${}\ufffe\uffff"),
    )


@cache
def text(min_size: int = 0, max_size: int = 16) -> st.SearchStrategy[str]:
    """Element text or an attribute value: empty, safe or hostile, whitespace anywhere."""
    safe = st.text(SAFE_ALPHABET, min_size=max(min_size, 1), max_size=max_size)
    hostile = st.text(_characters(), min_size=min_size, max_size=max_size)
    if min_size == 0:
        return st.one_of(st.just(""), safe, hostile)
    return st.one_of(safe, hostile.filter(lambda value: value.strip() != ""))


@cache
def values() -> st.SearchStrategy[str]:
    """An optional attribute value (empty means absent)."""
    return text(0, 12)


@cache
def names() -> st.SearchStrategy[str]:
    """A required, non-blank attribute value (name, id, exe...)."""
    return text(1, 10)


@cache
def identifiers() -> st.SearchStrategy[str]:
    """A variable or parameter name: an XML attribute name, never reserved nor `template`."""
    return st.text(IDENTIFIER_ALPHABET, min_size=1, max_size=6).map(lambda s: "v" + s)


@cache
def _optional_digits() -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), st.integers(0, 600).map(str))


@cache
def _counts(maximum: int) -> st.SearchStrategy[int]:
    return st.integers(0, maximum)


@cache
def _properties() -> st.SearchStrategy[tuple[Property, ...]]:
    prop = st.builds(Property, name=names(), value=values())
    return st.lists(prop, max_size=3).map(tuple)


@cache
def _logs() -> st.SearchStrategy[tuple[LogDescriptor, ...]]:
    log = st.builds(LogDescriptor, path=names(), property=values())
    return st.lists(log, max_size=2).map(tuple)


@cache
def _distribs() -> st.SearchStrategy[DistributionDescriptor | None]:
    distrib = st.builds(
        DistributionDescriptor,
        icepatch=st.one_of(st.just(DEFAULT_ICEPATCH), names()),
        directories=st.lists(text(), max_size=2).map(tuple),
    )
    return st.one_of(st.none(), distrib)


@cache
def _load_balancings() -> st.SearchStrategy[LoadBalancing]:
    """The implicit policy, or an explicit one; `load-sample` only for adaptive."""
    n_replicas = st.integers(0, 9).map(str)
    adaptive = st.builds(
        LoadBalancing,
        type=st.just(LoadBalancingType.ADAPTIVE),
        n_replicas=n_replicas,
        load_sample=st.sampled_from(("1", "5", "15")),
    )
    other = st.builds(
        LoadBalancing,
        type=st.sampled_from(
            (LoadBalancingType.RANDOM, LoadBalancingType.ORDERED, LoadBalancingType.ROUND_ROBIN)
        ),
        n_replicas=n_replicas,
    )
    return st.one_of(st.just(LoadBalancing()), adaptive, other)


@cache
def _endpoints() -> st.SearchStrategy[str]:
    return st.one_of(st.just("default"), names())


@cache
def _identifier_lists() -> st.SearchStrategy[list[str]]:
    return st.lists(identifiers(), max_size=3, unique=True)


@cache
def _sampled(choices: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.sampled_from(choices)


@cache
def _subsets(choices: tuple[str, ...], max_size: int) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(choices), max_size=max_size, unique=True)


# --------------------------------------------------------------------------- the tree


@dataclass
class _Builder:
    """Draws one application; remembers what is defined so later parts reference only that."""

    draw: st.DrawFn
    serial: int = 0
    app_variables: tuple[str, ...] = ()
    app_property_sets: tuple[str, ...] = ()
    replica_groups: tuple[str, ...] = ()
    service_templates: dict[str, TemplateDescriptor] = field(default_factory=dict)
    server_templates: dict[str, TemplateDescriptor] = field(default_factory=dict)

    # ----------------------------------------------------------------- small helpers

    def unique(self) -> str:
        """A drawn name made unique in the whole application (ids, identities, names)."""
        self.serial += 1
        return f"{self.draw(names())}-{self.serial}"

    def several(self, make: Callable[[], _T], maximum: int = 2) -> tuple[_T, ...]:
        return tuple(make() for _ in range(self.draw(_counts(maximum))))

    def flag(self) -> bool:
        return self.draw(st.booleans())

    def pick(self, choices: tuple[str, ...]) -> str:
        return self.draw(_sampled(choices))

    def property_set(self, refids: tuple[str, ...] = ()) -> PropertySet:
        """An unnamed set: some of `refids` (default: the application's sets), then properties."""
        refids = refids or self.app_property_sets
        references = tuple(self.draw(_subsets(refids, 2))) if refids else ()
        return PropertySet(references, self.draw(_properties()))

    def named_property_sets(self, visible: tuple[str, ...]) -> dict[str, PropertySet]:
        """Named sets referencing `visible` sets or sets defined before them (no cycles)."""
        sets: dict[str, PropertySet] = {}
        for _ in range(self.draw(_counts(3))):
            refids = (*visible, *sets)
            references = tuple(self.draw(_subsets(refids, 2))) if refids else ()
            sets[self.unique()] = PropertySet(references, self.draw(_properties()))
        return sets

    def variables(self) -> dict[str, str]:
        keys = self.draw(_identifier_lists())
        return {key: self.draw(values()) for key in keys}

    def parameter_values(self, template: TemplateDescriptor) -> Mapping[str, str]:
        """Every parameter without a default, and some of those with one."""
        chosen = {
            parameter: self.draw(values())
            for parameter in template.parameters
            if parameter not in template.parameter_defaults or self.flag()
        }
        return MappingProxyType(chosen)

    # ----------------------------------------------------------------- elements

    def object(self, *, with_property: bool) -> ObjectDescriptor:
        return ObjectDescriptor(
            identity=self.unique(),
            type=self.draw(values()),
            proxy_options=self.draw(values()),
            property=self.draw(values()) if with_property else "",
        )

    def adapter(self) -> AdapterDescriptor:
        return AdapterDescriptor(
            name=self.unique(),
            id=self.unique() if self.flag() else "",
            replica_group=self.pick(("", *self.replica_groups)),
            priority=self.draw(_optional_digits()),
            endpoints=self.draw(_endpoints()),
            proxy_options=self.draw(values()),
            register_process=self.flag(),
            server_lifetime=self.flag(),
            description=self.draw(text()),
            objects=self.several(lambda: self.object(with_property=True)),
            allocatables=self.several(lambda: self.object(with_property=True)),
        )

    def dbenv(self) -> DbEnvDescriptor:
        home = self.draw(values())
        return DbEnvDescriptor(
            name=self.unique(),
            home=home,
            description=self.draw(text()),
            properties=() if home else self.draw(_properties()),  # dbproperty only without home
        )

    def replica_group(self) -> ReplicaGroupDescriptor:
        return ReplicaGroupDescriptor(
            id=self.unique(),
            load_balancing=self.draw(_load_balancings()),
            proxy_options=self.draw(values()),
            filter=self.draw(values()),
            description=self.draw(text()),
            objects=self.several(lambda: self.object(with_property=False)),
        )

    def service(self, name: str | None = None) -> ServiceDescriptor:
        return ServiceDescriptor(
            name=name if name is not None else self.unique(),
            entry=self.draw(names()),
            description=self.draw(text()),
            property_set=self.property_set(),
            adapters=self.several(self.adapter),
            dbenvs=self.several(self.dbenv),
            logs=self.draw(_logs()),
        )

    def service_instance(self) -> ServiceInstanceDescriptor:
        """A `<service-instance>` of a defined template, or an inline `<service>`."""
        if self.service_templates and self.flag():
            template = self.pick(tuple(sorted(self.service_templates)))
            return ServiceInstanceDescriptor(
                template=template,
                parameter_values=self.parameter_values(self.service_templates[template]),
                property_set=self.property_set(),
            )
        return ServiceInstanceDescriptor(descriptor=self.service())

    def server(self, server_id: str | None = None) -> ServerDescriptor:
        """A `<server>`, or an `<icebox>` (which holds neither adapters nor dbenvs)."""
        icebox = self.flag()
        references = tuple(f"${{{name}}}" for name in self.app_variables)
        pwd = self.pick(references) if references and self.flag() else self.draw(values())
        return ServerDescriptor(
            id=server_id if server_id is not None else self.unique(),
            exe=self.draw(names()),
            activation=self.pick(ACTIVATIONS),
            activation_timeout=self.draw(_optional_digits()),
            deactivation_timeout=self.draw(_optional_digits()),
            pwd=pwd,
            user=self.draw(values()),
            ice_version=self.pick(("", "3.7")),
            application_distrib=self.flag(),
            allocatable=self.flag(),
            description=self.draw(text()),
            options=self.several(lambda: self.draw(text()), 3),
            envs=self.several(lambda: f"{self.draw(identifiers()).upper()}={self.draw(text())}"),
            property_set=self.property_set(),
            adapters=() if icebox else self.several(self.adapter),
            dbenvs=() if icebox else self.several(self.dbenv),
            logs=self.draw(_logs()),
            distrib=self.draw(_distribs()),
            services=self.several(self.service_instance) if icebox else None,
        )

    def template(self, kind: str) -> TemplateDescriptor:
        """A server or service template whose body's id/name uses its first parameter."""
        parameters = tuple(self.draw(_identifier_lists()))
        defaults = {p: self.draw(values()) for p in parameters if self.flag()}
        template_id = self.unique()
        body_name = self.unique() + (f"-${{{parameters[0]}}}" if parameters else "")
        body = self.server(body_name) if kind == "server" else self.service(body_name)
        return TemplateDescriptor(template_id, parameters, MappingProxyType(defaults), body)

    def server_instance(self) -> ServerInstanceDescriptor:
        template_id = self.pick(tuple(sorted(self.server_templates)))
        template = self.server_templates[template_id]
        service_sets: dict[str, PropertySet] = {}
        body = template.descriptor
        if isinstance(body, ServerDescriptor) and body.services:
            # <properties service="NAME">: an IceBox's own (inline) services only.
            service_names = tuple(s.descriptor.name for s in body.services if s.descriptor)
            if service_names:
                for service_name in self.draw(_subsets(service_names, 2)):
                    service_sets[service_name] = self.property_set()
        return ServerInstanceDescriptor(
            template=template_id,
            parameter_values=self.parameter_values(template),
            property_set=self.property_set(),
            service_property_sets=MappingProxyType(service_sets),
        )

    def node(self) -> NodeDescriptor:
        node_sets = self.named_property_sets(self.app_property_sets)
        instances = self.several(self.server_instance) if self.server_templates else ()
        return NodeDescriptor(
            name=self.unique(),
            load_factor=self.pick(("", "1", "0.5", "2.25")),
            description=self.draw(text()),
            variables=MappingProxyType(self.variables()),
            property_sets=MappingProxyType(node_sets),
            server_instances=instances,
            servers=self.several(self.server),
        )

    def application(self) -> ApplicationDescriptor:
        app_variables = self.variables()
        self.app_variables = tuple(app_variables)
        app_sets = self.named_property_sets(())
        self.app_property_sets = tuple(app_sets)
        groups = self.several(self.replica_group)
        self.replica_groups = tuple(group.id for group in groups)
        for template in self.several(lambda: self.template("service")):
            self.service_templates[template.id] = template
        for template in self.several(lambda: self.template("server")):
            self.server_templates[template.id] = template
        nodes = self.several(self.node, 3)
        return ApplicationDescriptor(
            name=self.draw(names()),
            description=self.draw(text()),
            import_default_templates=self.flag(),
            variables=MappingProxyType(app_variables),
            property_sets=MappingProxyType(app_sets),
            replica_groups=groups,
            server_templates=MappingProxyType(dict(self.server_templates)),
            service_templates=MappingProxyType(dict(self.service_templates)),
            nodes=MappingProxyType({node.name: node for node in nodes}),
            distrib=self.draw(_distribs()),
        )


@st.composite
def applications(draw: st.DrawFn) -> ApplicationDescriptor:
    """A valid application touching every element and attribute of the written model."""
    return _Builder(draw).application()
