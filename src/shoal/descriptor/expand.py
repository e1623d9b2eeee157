"""Expand a written descriptor into concrete servers per node, as IceGrid's `DescriptorHelper.cpp`
does: templates instantiated, `${variables}` substituted, property sets flattened, then validated.

Scopes nest as in IceGrid: application, node, server, service. Node variables hide application
variables; command-line `variables` hide both. Shoal's site defaults (the `reserved` argument, e.g.
`SHOAL_HOME`, `PYTHON`) are, unlike IceGrid's reserved names, the lowest layer of variables: OMERO's
descriptors define `PYTHON` themselves, so an application or node `<variable>` may override them.
Host-dependent values stay verbatim for `resolve_node_variables` (see `resolver`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from shoal.config.endpoints import ProxyParseError, parse_identity
from shoal.descriptor.model import (
    Activation,
    Adapter,
    AdapterDescriptor,
    Application,
    ApplicationDescriptor,
    DbEnvDescriptor,
    DistributionDescriptor,
    LoadBalancingType,
    Location,
    LogDescriptor,
    Node,
    NodeDescriptor,
    ObjectDescriptor,
    Property,
    PropertySet,
    ReplicaGroup,
    ReplicaGroupDescriptor,
    ServerDescription,
    ServerDescriptor,
    ServerInstanceDescriptor,
    Service,
    ServiceDescriptor,
    ServiceInstanceDescriptor,
    TemplateDescriptor,
)
from shoal.descriptor.resolver import (
    NODE_VARIABLES,
    RESERVED_NAMES,
    UNSET,
    Problems,
    Resolver,
    resolve_node_variables,
)

__all__ = [
    "MAX_PROPERTY_SET_DEPTH",
    "MAX_PROPERTY_SET_READS",
    "NODE_VARIABLES",
    "RESERVED_NAMES",
    "Expansion",
    "expand",
    "expand_report",
    "resolve_node_variables",
]

_LOAD_SAMPLES = (1, 5, 15)
# `<properties refid>` chains: each level is a Python frame, so a chain is refused past this depth
# (before the stack overflows), and one that fans out (each set referring to the next twice)
# past this many references and properties read.
MAX_PROPERTY_SET_DEPTH = 100
MAX_PROPERTY_SET_READS = 100_000


class _TooLarge(Exception):
    """A property set chain past one of the limits; the message says which."""


# --------------------------------------------------------------------------- expansion


@dataclass(frozen=True)
class _NamedSet:
    """A named property set, substituted in the scope that defines it (as IceGrid does)."""

    references: tuple[str, ...]
    properties: tuple[tuple[str, str], ...]
    source: Location | None


@dataclass(frozen=True)
class _Communicator:
    """What servers and services share: adapters, dbenvs, logs and the flattened properties."""

    properties: tuple[tuple[str, str], ...]
    adapters: tuple[Adapter, ...]
    dbenvs: tuple[DbEnvDescriptor, ...]
    logs: tuple[LogDescriptor, ...]


_Sets = Mapping[str, _NamedSet]


@dataclass(frozen=True)
class Expansion:
    """An expanded application and what expansion learnt beside it.

    `unused_variables` are the command-line NAME=VALUE overrides no `${NAME}` ever looked up
    (a typo, or a variable of a target not deployed); `used_variables` every variable that was.
    """

    application: Application
    unused_variables: tuple[str, ...] = ()
    used_variables: frozenset[str] = frozenset()


def expand(
    descriptor: ApplicationDescriptor,
    *,
    targets: Sequence[str] = (),
    variables: Mapping[str, str] = MappingProxyType({}),
    reserved: Mapping[str, str] = MappingProxyType({}),
) -> Application:
    """The concrete application, or `DescriptorError` listing every problem with its file:line.

    `variables` are command-line NAME=VALUE overrides; `reserved` are site defaults such as
    SHOAL_HOME and PYTHON, which descriptor variables may override. `targets` were applied by the
    parser and are recorded in the result.
    """
    return expand_report(
        descriptor, targets=targets, variables=variables, reserved=reserved
    ).application


def expand_report(
    descriptor: ApplicationDescriptor,
    *,
    targets: Sequence[str] = (),
    variables: Mapping[str, str] = MappingProxyType({}),
    reserved: Mapping[str, str] = MappingProxyType({}),
) -> Expansion:
    """`expand`, with the overrides in `variables` that nothing used."""
    clash = sorted(set(reserved) & RESERVED_NAMES)
    if clash:
        raise ValueError(f"site defaults may not use IceGrid's reserved names: {clash}")
    expander = _Expander(descriptor, variables, reserved)
    application = expander.run(tuple(targets))
    used = frozenset(expander.root.used)
    unused = tuple(name for name in variables if name not in used)
    return Expansion(application, unused, used)


class _Expander:
    """One expansion: walks the written model once, collecting problems and id sites."""

    def __init__(
        self,
        app: ApplicationDescriptor,
        overrides: Mapping[str, str],
        defaults: Mapping[str, str],
    ) -> None:
        self.app = app
        self.overrides = dict(overrides)
        self.problems = Problems(app.source or Location("<descriptor>", 0))
        self.root = Resolver(
            self.problems,
            f"application `{app.name}'",
            reserved={**UNSET, "application": app.name},
            variables={**defaults, **app.variables, **overrides},
            fallback=app.source,
        )
        self.replica_group_ids: set[str] = set()
        self.too_large = False  # a property set chain went past a limit (reported once)
        self.reads_left = MAX_PROPERTY_SET_READS
        # Where each server id, adapter id and object identity was first defined.
        self.claimed: dict[tuple[str, str], Location | None] = {}

    def run(self, targets: tuple[str, ...]) -> Application:
        self._check_names(self.app.variables, self.app.source, "variable")
        self._check_names(self.overrides, Location("<command line>", 0), "variable")
        self._check_templates()
        app_sets = self._named_sets(self.root, self.app.property_sets, {})
        replica_groups = tuple(self._replica_groups())
        nodes = {name: self._node(nd, app_sets) for name, nd in self.app.nodes.items()}
        description = self.root(self.app.description, self.app.source, "description")
        self.problems.raise_if_any()
        return Application(
            name=self.app.name,
            description=description,
            nodes=MappingProxyType(nodes),
            replica_groups=replica_groups,
            targets=targets,
        )

    # ------------------------------------------------------------------ checks

    def _check_names(self, names: Iterable[str], where: Location | None, kind: str) -> None:
        for name in names:
            if name in RESERVED_NAMES:
                self.problems.add(
                    where, f"{kind} `{name}' is a reserved name and cannot be defined"
                )

    def _check_templates(self) -> None:
        for tmpl in (*self.app.server_templates.values(), *self.app.service_templates.values()):
            self._check_names(tmpl.parameters, tmpl.source, f"template `{tmpl.id}': parameter")
            for name in sorted({p for p in tmpl.parameters if tmpl.parameters.count(p) > 1}):
                self.problems.add(
                    tmpl.source, f"template `{tmpl.id}': duplicate parameter `{name}'"
                )

    def _claim(self, kind: str, ident: str, where: Location | None) -> bool:
        """Record where `ident` is defined; False (and a problem) when it already was."""
        key = ("adapter id" if kind == "replica group id" else kind, ident)
        if key not in self.claimed:
            self.claimed[key] = where
            return True
        also = self.claimed[key] or self.problems.fallback
        self.problems.add(where, f"duplicate {kind} `{ident}' (also at {also})")
        return False

    # ------------------------------------------------------------------ property sets

    def _named_sets(self, r: Resolver, sets: Mapping[str, PropertySet], outer: _Sets) -> _Sets:
        """`outer` with the sets defined at this scope (which hide outer ones of the same id)."""
        defined = {
            set_id: _NamedSet(
                tuple(
                    r(ref, ps.source, f"property set `{set_id}' reference") for ref in ps.references
                ),
                tuple(r.properties(ps.properties)),
                ps.source,
            )
            for set_id, ps in sets.items()
        }
        scope = {**outer, **defined}
        for set_id, named in defined.items():
            self._flatten(named.references, scope, named.source, (set_id,))
            if self.too_large:
                break  # one chain too deep would otherwise be reported once per set in it
        return scope

    def _flatten(
        self, references: Iterable[str], scope: _Sets, where: Location | None, path: tuple[str, ...]
    ) -> list[tuple[str, str]] | None:
        """The properties of the referenced sets, in order, their own references first; None
        (a problem recorded) when the chain is too deep or too large."""
        self.reads_left = MAX_PROPERTY_SET_READS
        try:
            return self._flatten_into([], references, scope, where, path)
        except _TooLarge as error:
            self.too_large = True
            self.problems.add(where, str(error))
            return None

    def _flatten_into(
        self,
        pairs: list[tuple[str, str]],
        references: Iterable[str],
        scope: _Sets,
        where: Location | None,
        path: tuple[str, ...],
    ) -> list[tuple[str, str]]:
        for ref in references:
            named = scope.get(ref)
            if ref in path:
                cycle = " -> ".join((*path[path.index(ref) :], ref))
                self.problems.add(where, f"property set `{ref}' refers to itself ({cycle})")
            elif named is None:
                self.problems.add(where, f"unknown property set `{ref}'")
            elif len(path) >= MAX_PROPERTY_SET_DEPTH:
                raise _TooLarge(
                    f"property set chain deeper than {MAX_PROPERTY_SET_DEPTH} "
                    f"starting at `{path[0] if path else ref}'"
                )
            else:
                self.reads_left -= 1 + len(named.properties)
                if self.reads_left < 0:
                    raise _TooLarge(
                        f"property sets referred to from here expand to more than "
                        f"{MAX_PROPERTY_SET_READS:,} references and properties"
                    )
                at = named.source or where
                self._flatten_into(pairs, named.references, scope, at, (*path, ref))
                pairs += named.properties
        return pairs

    def _property_set(
        self, r: Resolver, ps: PropertySet, sets: _Sets, where: Location | None
    ) -> list[tuple[str, str]]:
        """An unnamed `<properties>`: its references flattened, then its own properties."""
        return self._references(r, ps, sets, where) + r.properties(ps.properties)

    def _references(
        self, r: Resolver, ps: PropertySet, sets: _Sets, where: Location | None
    ) -> list[tuple[str, str]]:
        at = ps.source or where
        references = [r(ref, at, "property set reference") for ref in ps.references]
        return self._flatten(references, sets, at, ()) or []

    # ------------------------------------------------------------------ replica groups

    def _replica_groups(self) -> Iterable[ReplicaGroup]:
        for desc in self.app.replica_groups:
            r = self.root.scoped(context=f"replica group `{desc.id}'", fallback=desc.source)
            group_id = r.as_id(desc.id, desc.source, "replica group id")
            if group_id is None:
                continue
            self.replica_group_ids.add(group_id)
            self._claim("replica group id", group_id, desc.source)
            yield self._replica_group(r, desc, group_id)

    def _replica_group(
        self, r: Resolver, desc: ReplicaGroupDescriptor, group_id: str
    ) -> ReplicaGroup:
        lb = desc.load_balancing
        n_replicas = r.as_int(lb.n_replicas, desc.source, "n-replicas")
        if n_replicas is not None and n_replicas < 0:
            r.problem(desc.source, f"n-replicas `{lb.n_replicas}' must not be negative")
        load_sample = r.as_int(lb.load_sample, desc.source, "load-sample") or 1
        if lb.type is LoadBalancingType.ADAPTIVE and load_sample not in _LOAD_SAMPLES:
            r.problem(desc.source, f"load-sample `{lb.load_sample}' must be 1, 5 or 15")
        proxy_options = r(desc.proxy_options, desc.source, "proxy-options")
        return ReplicaGroup(
            id=group_id,
            load_balancing=lb.type,
            n_replicas=max(n_replicas or 0, 0),
            load_sample=load_sample,
            proxy_options=proxy_options,
            filter=r(desc.filter, desc.source, "filter"),
            description=r(desc.description, desc.source, "description"),
            objects=self._objects(r, desc.objects, proxy_options, None),
        )

    def _objects(
        self,
        r: Resolver,
        objects: Iterable[ObjectDescriptor],
        proxy_options: str,
        site: Location | None,
        seen: set[str] | None = None,
    ) -> tuple[ObjectDescriptor, ...]:
        """Objects with identities resolved; each identity is recorded once per adapter."""
        resolved = []
        seen = set() if seen is None else seen
        for obj in objects:
            identity = r.as_id(obj.identity, obj.source, "object identity")
            if identity is None:
                continue
            try:
                parse_identity(identity)  # IceGrid's stringToIdentity: `a/b/c` is refused
            except ProxyParseError as exc:
                r.problem(obj.source, str(exc))
                continue
            if identity not in seen:
                seen.add(identity)
                self._claim("object identity", identity, site or obj.source or r.fallback)
            own_options = r(obj.proxy_options, obj.source, f"object `{identity}' proxy-options")
            resolved.append(
                ObjectDescriptor(
                    identity=identity,
                    type=r(obj.type, obj.source, f"object `{identity}' type"),
                    proxy_options=own_options or proxy_options,
                    property=r(obj.property, obj.source, f"object `{identity}' property"),
                    source=obj.source,
                )
            )
        return tuple(resolved)

    # ------------------------------------------------------------------ nodes

    def _node(self, nd: NodeDescriptor, app_sets: _Sets) -> Node:
        self._check_names(nd.variables, nd.source, "variable")
        r = self.root.scoped(
            context=f"node `{nd.name}'",
            reserved={**self.root.reserved, "node": nd.name},
            variables={**self.root.variables, **nd.variables, **self.overrides},
            fallback=nd.source,
        )
        sets = self._named_sets(r, nd.property_sets, app_sets)
        servers = [self._instance(r, inst, sets) for inst in self._in_order(nd)]
        return Node(
            name=nd.name,
            load_factor=r.as_float(nd.load_factor, nd.source, "load-factor"),
            description=r(nd.description, nd.source, "description"),
            servers=tuple(s for s in servers if s is not None),
        )

    @staticmethod
    def _in_order(nd: NodeDescriptor) -> list[ServerInstanceDescriptor | ServerDescriptor]:
        """Instances and servers in document order when every element knows its line."""
        elements: list[ServerInstanceDescriptor | ServerDescriptor] = [
            *nd.server_instances,
            *nd.servers,
        ]
        if all(e.source is not None for e in elements):
            elements.sort(key=lambda e: e.source or Location("", 0))
        return elements

    def _instance(
        self, r: Resolver, element: ServerInstanceDescriptor | ServerDescriptor, sets: _Sets
    ) -> ServerDescription | None:
        if isinstance(element, ServerDescriptor):
            return self._server(r, element, sets, None, {})
        tmpl = self.app.server_templates.get(element.template)
        if tmpl is None or not isinstance(tmpl.descriptor, ServerDescriptor):
            r.problem(element.source, f"unknown server template `{element.template}'")
            return None
        values = self._parameters(r, tmpl, element.parameter_values, element.source)
        if values is None:
            return None
        return self._server(r, tmpl.descriptor, sets, element, values)

    def _parameters(
        self,
        r: Resolver,
        tmpl: TemplateDescriptor,
        given: Mapping[str, str],
        where: Location | None,
    ) -> dict[str, str] | None:
        """Parameter values substituted in the instance's scope; defaults for the missing."""
        values, complete = {}, True
        for name in given:
            if name not in tmpl.parameters:
                r.problem(where, f"unknown parameter `{name}' for template `{tmpl.id}'")
                complete = False
        for name in tmpl.parameters:
            if name in given:
                values[name] = r(given[name], where, f"parameter `{name}'")
            elif name in tmpl.parameter_defaults:
                default = tmpl.parameter_defaults[name]
                values[name] = r(default, where, f"default of parameter `{name}'")
            else:
                r.problem(
                    where, f"missing parameter `{name}' for template `{tmpl.id}' (no default)"
                )
                complete = False
        return values if complete else None

    # ------------------------------------------------------------------ servers

    def _server(
        self,
        r: Resolver,
        desc: ServerDescriptor,
        sets: _Sets,
        instance: ServerInstanceDescriptor | None,
        parameters: Mapping[str, str],
    ) -> ServerDescription | None:
        # Ids made from a template are reported at the instance: that is what differs.
        site = instance.source if instance is not None else None
        r = r.scoped(parameters=parameters, fallback=desc.source or site)
        server_id = r.as_id(desc.id, desc.source, "server id")
        if server_id is None:
            return None
        if not self._claim("server id", server_id, site or desc.source):
            return None  # its adapters and objects would only repeat the news
        context = f"server `{server_id}'"
        if instance is not None:
            context += f" (instance of `{instance.template}' at {site or '?'})"
        r = r.with_reserved("server", server_id).scoped(context=context)
        activation_text = r(desc.activation, desc.source, "activation")
        if activation_text == Activation.SESSION:
            r = r.scoped(deferred=r.deferred | {"session.id"})
        extra = self._property_set(r, instance.property_set, sets, site) if instance else []
        comm = self._communicator(r, desc, sets, extra, site)
        services = self._services(r, desc, sets, instance, site) if desc.is_icebox else None
        return ServerDescription(
            id=server_id,
            node=r.reserved["node"],
            application=self.app.name,
            exe=r.required(desc.exe, desc.source, "exe"),
            activation=self._activation(r, activation_text, desc.source),
            activation_timeout=self._timeout(
                r, desc.activation_timeout, desc, "activation-timeout"
            ),
            deactivation_timeout=self._timeout(
                r, desc.deactivation_timeout, desc, "deactivation-timeout"
            ),
            pwd=r(desc.pwd, desc.source, "pwd"),
            user=r(desc.user, desc.source, "user"),
            ice_version=r(desc.ice_version, desc.source, "ice-version"),
            application_distrib=desc.application_distrib,
            allocatable=desc.allocatable,
            description=r(desc.description, desc.source, "description"),
            options=tuple(r(o, desc.source, "option") for o in desc.options),
            envs=tuple(r(e, desc.source, "env") for e in desc.envs),
            properties=comm.properties,
            adapters=comm.adapters,
            dbenvs=comm.dbenvs,
            logs=comm.logs,
            distrib=self._distrib(r, desc.distrib),
            services=services,
        )

    @staticmethod
    def _activation(r: Resolver, text: str, where: Location | None) -> Activation:
        if not text:
            return Activation.MANUAL
        try:
            return Activation(text)
        except ValueError:
            r.problem(where, f"unknown activation `{text}' (manual, on-demand, always or session)")
            return Activation.MANUAL

    @staticmethod
    def _timeout(r: Resolver, text: str, desc: ServerDescriptor, what: str) -> int:
        seconds = r.as_int(text, desc.source, what)
        if seconds is not None and seconds < 0:
            r.problem(desc.source, f"{what} `{text}' must not be negative")
        return max(seconds or 0, 0)

    @staticmethod
    def _distrib(
        r: Resolver, distrib: DistributionDescriptor | None
    ) -> DistributionDescriptor | None:
        if distrib is None:
            return None
        return DistributionDescriptor(
            icepatch=r(distrib.icepatch, distrib.source, "distrib icepatch"),
            directories=tuple(
                r(d, distrib.source, "distrib directory") for d in distrib.directories
            ),
            source=distrib.source,
        )

    # ------------------------------------------------------------------ IceBox services

    def _services(
        self,
        r: Resolver,
        desc: ServerDescriptor,
        sets: _Sets,
        instance: ServerInstanceDescriptor | None,
        site: Location | None,
    ) -> tuple[Service, ...]:
        """The IceBox's services; a server-instance's `<properties service=...>` go last."""
        per_service: dict[str, tuple[list[tuple[str, str]], Location | None]] = {}
        for key, ps in (instance.service_property_sets if instance else {}).items():
            name = r(key, ps.source or site, "service name")
            per_service[name] = (self._property_set(r, ps, sets, site), ps.source or site)
        services = [self._service(r, si, sets, per_service, site) for si in desc.services or ()]
        names = {s.name for s in services if s is not None}
        for name, (_, where) in per_service.items():
            if name not in names:
                r.problem(where, f"properties for unknown service `{name}'")
        return tuple(s for s in services if s is not None)

    def _service(
        self,
        r: Resolver,
        si: ServiceInstanceDescriptor,
        sets: _Sets,
        per_service: Mapping[str, tuple[list[tuple[str, str]], Location | None]],
        site: Location | None,
    ) -> Service | None:
        body = si.descriptor
        if body is None:
            tmpl = self.app.service_templates.get(si.template)
            if tmpl is None or not isinstance(tmpl.descriptor, ServiceDescriptor):
                r.problem(si.source, f"unknown service template `{si.template}'")
                return None
            values = self._parameters(r, tmpl, si.parameter_values, si.source)
            if values is None:
                return None
            body, r = tmpl.descriptor, r.scoped(parameters=values)
        name = r.as_id(body.name, body.source, "service name")
        if name is None:
            return None
        r = r.with_reserved("service", name).scoped(context=f"service `{name}' of {r.context}")
        extra = self._property_set(r, si.property_set, sets, si.source)
        extra += per_service.get(name, ([], None))[0]
        comm = self._communicator(r, body, sets, extra, site)
        return Service(
            name=name,
            entry=r.required(body.entry, body.source, "entry"),
            description=r(body.description, body.source, "description"),
            properties=comm.properties,
            adapters=comm.adapters,
            dbenvs=comm.dbenvs,
            logs=comm.logs,
        )

    # ------------------------------------------------------------------ communicators

    def _communicator(
        self,
        r: Resolver,
        desc: ServerDescriptor | ServiceDescriptor,
        sets: _Sets,
        extra: list[tuple[str, str]],
        site: Location | None,
    ) -> _Communicator:
        """Properties in IceGrid's order, later values winning: what the node generates
        (adapter ids, dbenv homes), referenced sets, what adapters/objects/logs add (endpoints,
        proxy options, `property` attributes), the element's own, then the instance's `extra`.
        """
        in_service = isinstance(desc, ServiceDescriptor)
        heads = [h for a in desc.adapters if (h := self._adapter_head(r, a, in_service, site))]
        dbenvs = tuple(self._dbenv(r, d) for d in desc.dbenvs)
        logs = tuple(
            LogDescriptor(
                path=r.required(log.path, log.source, "log path"),
                property=r(log.property, log.source, "log property"),
                source=log.source,
            )
            for log in desc.logs
        )
        ps = desc.property_set
        properties = [
            *self._generated(r, heads, dbenvs),
            *self._references(r, ps, sets, desc.source),
            *self._added(r, heads, logs),
            *r.properties(ps.properties),
            *extra,
        ]
        adapters = tuple(self._adapter_tail(r, a, h, properties, site) for a, h in heads)
        return _Communicator(tuple(properties), adapters, dbenvs, logs)

    def _adapter_head(
        self, r: Resolver, desc: AdapterDescriptor, in_service: bool, site: Location | None
    ) -> tuple[AdapterDescriptor, Adapter] | None:
        """An adapter's identity: name, id, replica group, priority (endpoints come later)."""
        where = desc.source
        name = r.as_id(desc.name, where, "adapter name")
        if name is None:
            return None
        default_id = "${server}.${service}." if in_service else "${server}."
        adapter_id = r.as_id(desc.id or default_id + desc.name, where, f"adapter `{name}' id")
        group = r.as_id(desc.replica_group, where, f"adapter `{name}' replica-group", empty=True)
        priority = r.as_int(desc.priority, where, f"adapter `{name}' priority")
        if adapter_id is None or group is None:
            return None
        self._claim("adapter id", adapter_id, site or where)
        if group and group not in self.replica_group_ids:
            r.problem(where, f"adapter `{name}' refers to unknown replica group `{group}'")
        adapter = Adapter(
            name=name,
            id=adapter_id,
            endpoints="",
            replica_group=group,
            priority="" if priority is None or not desc.priority.strip() else str(priority),
            register_process=desc.register_process,
            server_lifetime=desc.server_lifetime,
            description=r(desc.description, where, f"adapter `{name}' description"),
        )
        return desc, adapter

    def _adapter_tail(
        self,
        r: Resolver,
        desc: AdapterDescriptor,
        adapter: Adapter,
        properties: Sequence[tuple[str, str]],
        site: Location | None,
    ) -> Adapter:
        """Endpoints and proxy options as the flattened properties finally set them."""
        endpoints = _last(properties, f"{adapter.name}.Endpoints")
        if not endpoints.strip():
            r.problem(desc.source, f"adapter `{adapter.name}' has empty endpoints")
        proxy_options = _last(properties, f"{adapter.name}.ProxyOptions")
        seen: set[str] = set()
        return dataclasses.replace(
            adapter,
            endpoints=endpoints,
            proxy_options=proxy_options,
            objects=self._objects(r, desc.objects, proxy_options, site, seen),
            allocatables=self._objects(r, desc.allocatables, proxy_options, site, seen),
        )

    @staticmethod
    def _generated(
        r: Resolver,
        heads: Sequence[tuple[AdapterDescriptor, Adapter]],
        dbenvs: Sequence[DbEnvDescriptor],
    ) -> list[tuple[str, str]]:
        """What IceGrid's node writes before the descriptor's properties (NodeCache.cpp)."""
        pairs = []
        for _, adapter in heads:
            pairs.append((f"{adapter.name}.AdapterId", adapter.id))
            if adapter.replica_group:
                pairs.append((f"{adapter.name}.ReplicaGroupId", adapter.replica_group))
        server_id = r.reserved["server"]
        for dbenv in dbenvs:
            home = dbenv.home or f"${{node.data}}/servers/{server_id}/dbs/{dbenv.name}"
            pairs.append((f"Freeze.DbEnv.{dbenv.name}.DbHome", home))
        return pairs

    @staticmethod
    def _added(
        r: Resolver,
        heads: Sequence[tuple[AdapterDescriptor, Adapter]],
        logs: Iterable[LogDescriptor],
    ) -> list[tuple[str, str]]:
        """IceGrid's hidden properties: endpoints, proxy options, `property` attributes."""
        pairs = []
        for desc, adapter in heads:
            what = f"adapter `{adapter.name}'"
            pairs.append((f"{adapter.name}.Endpoints", r(desc.endpoints, desc.source, what)))
            if desc.proxy_options:
                options = r(desc.proxy_options, desc.source, what)
                pairs.append((f"{adapter.name}.ProxyOptions", options))
            objects = (*desc.objects, *desc.allocatables)
            pairs += r.properties(
                Property(o.property, o.identity, o.source) for o in objects if o.property
            )
        return pairs + [(log.property, log.path) for log in logs if log.property]

    @staticmethod
    def _dbenv(r: Resolver, desc: DbEnvDescriptor) -> DbEnvDescriptor:
        name = r.required(desc.name, desc.source, "dbenv name")
        return DbEnvDescriptor(
            name=name,
            home=r(desc.home, desc.source, f"dbenv `{name}' home"),
            description=r(desc.description, desc.source, f"dbenv `{name}' description"),
            properties=tuple(Property(n, v) for n, v in r.properties(desc.properties)),
            source=desc.source,
        )


def _last(properties: Sequence[tuple[str, str]], name: str) -> str:
    """The value a config file reading `properties` in order ends with for `name`."""
    return next((value for key, value in reversed(properties) if key == name), "")
