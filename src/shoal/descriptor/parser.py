"""Parse an IceGrid application descriptor (XML) into the written model, strictly and safely.

The rules are IceGrid 3.7's (`DescriptorParser.cpp`, `DescriptorBuilder.cpp`); every problem found
is collected and raised at once as a `DescriptorError`, each located at `file:line`. The XML itself
is read by `safe_xml` (no entities, no DTD, no network), for the top file and every `<include>`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple, TypeVar

from lxml import etree

from shoal.descriptor import FIX_HINT
from shoal.descriptor.files import Unreadable, read_descriptor
from shoal.descriptor.model import (
    AdapterDescriptor,
    ApplicationDescriptor,
    DbEnvDescriptor,
    DistributionDescriptor,
    LoadBalancing,
    LoadBalancingType,
    Location,
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
from shoal.descriptor.safe_xml import XmlRefused, parse_xml
from shoal.errors import DescriptorError, Problem

__all__ = ["INCLUDE_HINT", "ParseResult", "parse_file", "parse_file_result", "parse_string"]

_Element = etree._Element
_V = TypeVar("_V")

# Where each element may appear (its parent once <target> and <include> are spliced away).
# <target> and <include> may appear anywhere and are handled before this table is consulted.
_PARENTS: Mapping[str, frozenset[str]] = {
    "application": frozenset({"icegrid"}),
    "node": frozenset({"application"}),
    "server-template": frozenset({"application"}),
    "service-template": frozenset({"application"}),
    "replica-group": frozenset({"application"}),
    "variable": frozenset({"application", "node"}),
    "server": frozenset({"node", "server-template"}),
    "icebox": frozenset({"node", "server-template"}),
    "server-instance": frozenset({"node"}),
    "service": frozenset({"icebox", "service-template"}),
    "service-instance": frozenset({"icebox"}),
    "parameter": frozenset({"server-template", "service-template"}),
    "properties": frozenset(
        {
            "application",
            "node",
            "server",
            "icebox",
            "service",
            "server-instance",
            "service-instance",
            "properties",
        }
    ),
    "property": frozenset({"properties", "server", "icebox", "service"}),
    "adapter": frozenset({"server", "service"}),
    "object": frozenset({"adapter", "replica-group"}),
    "allocatable": frozenset({"adapter"}),
    "load-balancing": frozenset({"replica-group"}),
    "dbenv": frozenset({"server", "service"}),
    "dbproperty": frozenset({"dbenv"}),
    "log": frozenset({"server", "icebox", "service"}),
    "distrib": frozenset({"application", "server", "icebox"}),
    "directory": frozenset({"distrib"}),
    "description": frozenset(
        {"application", "node", "server", "icebox", "service", "adapter", "replica-group", "dbenv"}
    ),
    "option": frozenset({"server", "icebox"}),
    "env": frozenset({"server", "icebox"}),
    "icegrid": frozenset(),
}

# Elements whose content is text (kept as written, like IceGrid: not trimmed).
_TEXT_ELEMENTS = frozenset({"description", "option", "env", "directory"})

# Misplacements IceGrid names specifically.
_SPECIAL_MISPLACED: Mapping[tuple[str, str], str] = {
    ("adapter", "icebox"): "<adapter> element can't be a child of an <icebox> element",
    ("dbenv", "icebox"): "<dbenv> element can't be a child of an <icebox> element",
}

# Includes read in one parse: no cycle, but ten files each including the next ten times would
# otherwise mean 10**depth reads.
_MAX_INCLUDES = 1000
# Includes nested in includes: each level is a few Python frames (the stack must not overflow).
_MAX_INCLUDE_DEPTH = 50
INCLUDE_HINT = (
    "an <include file> path is relative to the directory of the file that includes it; " + FIX_HINT
)
_ACTIVATIONS = ("manual", "on-demand", "always", "session")
_LOAD_SAMPLES = ("1", "5", "15")
_INTEGER = re.compile(r" *[+-]?[0-9]+ *")
_FLOAT = re.compile(r" *[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)? *")


@dataclass(frozen=True)
class ParseResult:
    """A parsed descriptor and what the parse learnt beside the model (kept out of its equality).

    `unmatched_targets` are the targets asked for that deployed no `<target>` section: most
    likely a typo, or a file name taken for a target.
    """

    application: ApplicationDescriptor
    unmatched_targets: tuple[str, ...] = ()


def parse_file(path: str | os.PathLike[str], targets: Sequence[str] = ()) -> ApplicationDescriptor:
    """Parse the descriptor file at `path`, keeping the `<target>` sections named in `targets`."""
    return parse_file_result(path, targets).application


def parse_file_result(path: str | os.PathLike[str], targets: Sequence[str] = ()) -> ParseResult:
    """`parse_file`, with what the parse saw of `targets`."""
    name = os.fspath(path)
    try:
        data = read_descriptor(name)
    except Unreadable as exc:
        problem = Problem(name, 0, f"the descriptor {exc.reason}")
        raise DescriptorError([problem], FIX_HINT) from None
    parser = _Parser()
    application = parser.parse(data, _Source.top(name, Path(name).parent, targets))
    return ParseResult(application, parser.unmatched(targets))


def parse_string(
    text: str | bytes,
    file: str = "<string>",
    targets: Sequence[str] = (),
    base_dir: Path | None = None,
) -> ApplicationDescriptor:
    """Parse descriptor text; `file` names it in messages, `base_dir` resolves `<include>`s."""
    if base_dir is None:
        base_dir = Path.cwd() if file == "<string>" else Path(file).parent
    return _Parser().parse(text, _Source.top(file, base_dir, targets))


# --------------------------------------------------------------------------- plumbing


@dataclass(frozen=True)
class _Source:
    """The file an element comes from, the targets in force there and the include chain."""

    name: str
    directory: Path
    targets: tuple[str, ...]
    chain: tuple[str, ...]  # real paths of the files being included, the top one first

    @classmethod
    def top(cls, name: str, directory: Path, targets: Sequence[str]) -> _Source:
        key = name if name == "<string>" else os.path.realpath(name)
        return cls(name, directory, tuple(targets), (key,))

    def at(self, elem: _Element) -> Location:
        return Location(self.name, _line(elem))


class _Names(NamedTuple):
    """The raw names around an element: what a qualified target (`app.node.T`) is matched to."""

    application: str = ""
    node: str = ""
    server: str = ""
    service: str = ""

    def deploys(self, target: str, targets: Sequence[str]) -> bool:
        """IceGrid's isTargetDeployable: `T`, or `P.T` with P a dot-prefix of the names."""
        fqn = ".".join(
            name for name in (self.application, self.node, self.server, self.service) if name
        )
        prefixes = [fqn[:i] for i, char in enumerate(fqn) if char == "."] + [fqn]
        return any(t == target or t in {f"{p}.{target}" for p in prefixes} for t in targets)


class _Attributes:
    """IceGrid's XmlAttributesHelper: typed reads that record what was used and what is wrong."""

    def __init__(self, parser: _Parser, elem: _Element, where: Location) -> None:
        self._parser = parser
        self._tag = str(elem.tag)
        self._values = {str(k): str(v) for k, v in elem.attrib.items()}
        self._used: list[str] = []
        self._refused: list[str] = []
        self.where = where

    def _use(self, name: str) -> str | None:
        if name not in self._used:
            self._used.append(name)
        return self._values.get(name)

    def problem(self, message: str) -> None:
        self._parser.problem(self.where, message)

    def required(self, name: str) -> str:
        value = self._use(name)
        if value is None:
            self.problem(f"missing attribute '{name}' in <{self._tag}>")
        elif not value:
            self.problem(f"attribute '{name}' of <{self._tag}> is empty")
        return value or ""

    def optional(self, name: str, default: str = "") -> str:
        value = self._use(name)
        return default if value is None else value

    def present(self, name: str) -> bool:
        return self._use(name) is not None

    def reject(self, name: str, message: str) -> None:
        """An attribute IceGrid knows but refuses here: reported once, not listed as allowed."""
        if name in self._values:
            self._refused.append(name)
            self.problem(message)

    def not_empty_if_present(self, name: str) -> str:
        return self.required(name) if name in self._values else self.optional(name)

    def boolean(self, name: str, default: bool) -> bool:
        value = self._use(name)
        if value is None or value in ("true", "false"):
            return default if value is None else value == "true"
        self.problem(
            f"invalid attribute '{name}' of <{self._tag}>: '{value}' is not 'true' or 'false'"
        )
        return default

    def rest(self) -> dict[str, str]:
        """Every attribute not read yet (server-instance parameter values), in document order."""
        values = {k: v for k, v in self._values.items() if k not in self._used}
        self._used.extend(values)
        return values

    def done(self) -> None:
        allowed = ", ".join(self._used) or "none"
        for name in self._values:
            if name not in self._used and name not in self._refused:
                self.problem(f"unknown attribute '{name}' in <{self._tag}>; allowed: {allowed}")


def _line(node: _Element) -> int:
    """The 1-based line a node starts on (lxml-stubs mistypes `sourceline`)."""
    line: int | None = getattr(node, "sourceline", None)
    return line or 0


def _is_variable(value: str) -> bool:
    """A value holding `${...}` is checked after expansion, not here."""
    return "${" in value


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0]
    return line if len(line) <= 40 else line[:37] + "..."


def _frozen(mapping: dict[str, _V]) -> Mapping[str, _V]:
    return MappingProxyType(mapping)


# --------------------------------------------------------------------------- mutable builders


@dataclass
class _PropertySetBuilder:
    """An unnamed set that may be re-opened: later `<properties>` append (as IceGrid)."""

    references: list[str] = field(default_factory=list)
    properties: list[Property] = field(default_factory=list)
    source: Location | None = None

    def extend(self, other: PropertySet) -> None:
        self.references.extend(other.references)
        self.properties.extend(other.properties)
        self.source = self.source or other.source

    def freeze(self) -> PropertySet:
        return PropertySet(tuple(self.references), tuple(self.properties), source=self.source)


@dataclass
class _Communicator:
    """What a server, icebox and service share: properties, adapters, dbenvs, logs, description."""

    property_set: _PropertySetBuilder = field(default_factory=_PropertySetBuilder)
    description: str = ""
    adapters: list[AdapterDescriptor] = field(default_factory=list)
    dbenvs: list[DbEnvDescriptor] = field(default_factory=list)
    logs: list[LogDescriptor] = field(default_factory=list)


@dataclass
class _NodeBuilder:
    """A node; a second `<node>` with the same name re-opens it, as IceGrid does."""

    name: str
    source: Location
    load_factor: str = ""
    description: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    property_sets: dict[str, PropertySet] = field(default_factory=dict)
    server_instances: list[ServerInstanceDescriptor] = field(default_factory=list)
    servers: list[ServerDescriptor] = field(default_factory=list)

    def freeze(self) -> NodeDescriptor:
        return NodeDescriptor(
            name=self.name,
            load_factor=self.load_factor,
            description=self.description,
            variables=_frozen(self.variables),
            property_sets=_frozen(self.property_sets),
            server_instances=tuple(self.server_instances),
            servers=tuple(self.servers),
            source=self.source,
        )


class _Once:
    """Reports a second occurrence of an element that may appear once in its parent."""

    def __init__(self, parser: _Parser, parent: str) -> None:
        self._parser = parser
        self.parent = parent
        self._seen: set[str] = set()

    def first(self, tag: str, where: Location) -> bool:
        if tag in self._seen:
            self._parser.problem(where, f"only one <{tag}> element is allowed in <{self.parent}>")
            return False
        self._seen.add(tag)
        return True


# --------------------------------------------------------------------------- the parser


class _Parser:
    """One parse: the problems found so far and one handler per element."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self._file_order: dict[str, int] = {}
        self._includes_left = _MAX_INCLUDES
        self._hint = FIX_HINT
        self._matched_targets: set[str] = set()

    def unmatched(self, targets: Sequence[str]) -> tuple[str, ...]:
        """The targets asked for that deployed no `<target>` section seen by this parse."""
        return tuple(t for t in dict.fromkeys(targets) if t not in self._matched_targets)

    def problem(self, where: Location, message: str) -> None:
        """Record `message` at `where`; a newline in it (a quoted value) is shown as `\\n`."""
        self._file_order.setdefault(where.file, len(self._file_order))
        self.problems.append(Problem(where.file, where.line, message.replace("\n", "\\n")))

    def parse(self, data: str | bytes, source: _Source) -> ApplicationDescriptor:
        self._file_order[source.name] = 0
        root = self._load(data, source.name)
        application = None if root is None else self._document(root, source)
        if self.problems or application is None:
            order = self._file_order
            problems = sorted(self.problems, key=lambda p: (order.get(p.file, 0), p.line))
            raise DescriptorError(problems, self._hint)
        return application

    def _load(self, data: str | bytes, name: str) -> _Element | None:
        """The root element, or None (a problem recorded) for malformed or unsafe XML."""
        try:
            return parse_xml(data)
        except XmlRefused as exc:
            self.problem(Location(name, exc.line), exc.message)
            return None

    def _document(self, root: _Element, source: _Source) -> ApplicationDescriptor | None:
        """The `<icegrid>` root and its one `<application>`."""
        if not self._is_icegrid_root(root, source):
            return None
        if _is_fragment(root):
            self.problem(
                source.at(root),
                f"{source.name} holds no <application>: it looks like an include fragment; "
                "check the file that includes it",
            )
            return None
        applications: list[ApplicationDescriptor] = []
        for child, where in self._children(root, source, _Names(), "icegrid"):
            application = self._application(child, where)
            if applications:
                self.problem(where.at(child), "only one <application> element is allowed")
            applications.append(application)
        if not applications:
            self.problem(source.at(root), "no <application> element in this descriptor")
            return None
        return applications[0]

    def _is_icegrid_root(self, root: _Element, source: _Source) -> bool:
        if root.tag != "icegrid":
            self.problem(
                source.at(root),
                f"only the <icegrid> element is allowed at the top level, not <{root.tag}>",
            )
            return False
        _Attributes(self, root, source.at(root)).done()
        return True

    # ----------------------------------------------------------------- children, targets, includes

    def _children(
        self, elem: _Element, source: _Source, names: _Names, parent: str
    ) -> Iterator[tuple[_Element, _Source]]:
        """The children that apply to `parent`: deployed targets and includes spliced in.

        Each child is known and allowed under `parent`; the others are reported and skipped.
        """
        if parent not in _TEXT_ELEMENTS:
            self._check_no_text(elem, source, parent)
        for child in elem:
            if not isinstance(child.tag, str):
                continue  # a comment or a processing instruction
            tag = child.tag
            if tag == "target":
                attributes = _Attributes(self, child, source.at(child))
                target = attributes.required("name")
                attributes.done()
                matching = [t for t in source.targets if names.deploys(target, (t,))]
                self._matched_targets.update(matching)
                if matching:
                    yield from self._children(child, source, names, parent)
            elif tag == "include":
                yield from self._include(child, source, names, parent)
            elif tag not in _PARENTS:
                self.problem(source.at(child), _unknown(tag, parent))
            elif parent not in _PARENTS[tag]:
                self.problem(source.at(child), _misplaced(tag, parent))
            else:
                yield child, source

    def _include(
        self, elem: _Element, source: _Source, names: _Names, parent: str
    ) -> Iterator[tuple[_Element, _Source]]:
        """`<include file targets>`: the included `<icegrid>`'s children, spliced in here."""
        where = source.at(elem)
        attributes = _Attributes(self, elem, where)
        file = attributes.required("file")
        extra_targets = attributes.optional("targets").split()
        attributes.done()
        for child in elem:
            if isinstance(child.tag, str):
                self.problem(source.at(child), "the <include> element takes no children")
        if not file:
            return
        name = os.path.normpath(os.path.join(source.directory, file))
        key = os.path.realpath(name)
        if key in source.chain:
            self.problem(where, f"include cycle: '{name}' is already being included")
            return
        if len(source.chain) > _MAX_INCLUDE_DEPTH:
            self.problem(where, f"<include>s nested deeper than {_MAX_INCLUDE_DEPTH} files")
            return
        self._includes_left -= 1
        if self._includes_left < 0:
            if self._includes_left == -1:  # said once, not for every include past the limit
                self.problem(where, f"more than {_MAX_INCLUDES} <include>s in one descriptor")
            return
        try:
            data = read_descriptor(name)
        except Unreadable as exc:
            relative = ""
            if exc.missing and not os.path.isabs(file):
                relative = " (an include is relative to the including file)"
                self._hint = INCLUDE_HINT
            self.problem(where, f"included file `{name}' {exc.reason}{relative}")
            return
        root = self._load(data, name)
        if root is None:
            return
        included = _Source(
            name, Path(name).parent, (*extra_targets, *source.targets), (*source.chain, key)
        )
        if self._is_icegrid_root(root, included):
            yield from self._children(root, included, names, parent)

    def _check_no_text(self, elem: _Element, source: _Source, parent: str) -> None:
        """IceGrid's "invalid element value": only whitespace between the tags of `elem`."""
        nodes = list(elem)
        # Each run of text, with the node before it (None: elem's start tag) and after it.
        texts = [elem.text or "", *(node.tail or "" for node in nodes)]
        for text, before, after in zip(texts, [None, *nodes], [*nodes, None], strict=True):
            if not text.strip():
                continue
            start = text.index(text.strip()[0])
            if after is not None:  # exact: count back from the next tag
                line = _line(after) - text[start:].count("\n")
            elif before is None:
                line = _line(elem) + text[:start].count("\n")
            else:  # the end tag has no line in lxml: count on from where `before` ends
                inner = etree.tostring(before, with_tail=False, encoding="unicode").count("\n")
                line = _line(before) + inner + text[:start].count("\n")
            self.problem(
                Location(source.name, line),
                f"invalid element value for element <{parent}>: "
                f"unexpected text '{_first_line(text)}'",
            )

    def _text(self, elem: _Element, source: _Source, names: _Names) -> str:
        """The text of `<description>`, `<option>`, `<env>` or `<directory>`, as written."""
        _Attributes(self, elem, source.at(elem)).done()
        self._check_leaf(elem, source)  # no element may appear in a text element
        parts = [elem.text or ""]
        parts.extend(node.tail or "" for node in elem if not isinstance(node.tag, str))
        return "".join(parts)

    # ----------------------------------------------------------------- application level

    def _application(self, elem: _Element, source: _Source) -> ApplicationDescriptor:
        where = source.at(elem)
        attributes = _Attributes(self, elem, where)
        name = attributes.required("name")
        import_default_templates = attributes.boolean("import-default-templates", False)
        attributes.done()
        names = _Names(application=name)
        once = _Once(self, "application")
        description = ""
        variables: dict[str, str] = {}
        property_sets: dict[str, PropertySet] = {}
        replica_groups: dict[str, ReplicaGroupDescriptor] = {}
        server_templates: dict[str, TemplateDescriptor] = {}
        service_templates: dict[str, TemplateDescriptor] = {}
        nodes: dict[str, _NodeBuilder] = {}
        distrib: DistributionDescriptor | None = None
        for child, child_source in self._children(elem, source, names, "application"):
            at = child_source.at(child)
            match child.tag:
                case "description":
                    text = self._text(child, child_source, names)
                    description = text if once.first("description", at) else description
                case "variable":
                    self._variable(child, child_source, variables)
                case "properties":
                    self._named_property_set(child, child_source, names, property_sets)
                case "node":
                    self._node(child, child_source, names, nodes)
                case "server-template" | "service-template":
                    self._template(child, child_source, names, server_templates, service_templates)
                case "replica-group":
                    group = self._replica_group(child, child_source, names)
                    self._add_unique(replica_groups, group.id, group, at, "replica group")
                case _:  # "distrib", the last element _PARENTS allows here
                    parsed = self._distrib(child, child_source, names)
                    distrib = parsed if once.first("distrib", at) else distrib
        return ApplicationDescriptor(
            name=name,
            description=description,
            import_default_templates=import_default_templates,
            variables=_frozen(variables),
            property_sets=_frozen(property_sets),
            replica_groups=tuple(replica_groups.values()),
            server_templates=_frozen(server_templates),
            service_templates=_frozen(service_templates),
            nodes=_frozen({node_name: node.freeze() for node_name, node in nodes.items()}),
            distrib=distrib,
            source=where,
        )

    def _add_unique(
        self, scope: dict[str, _V], key: str, value: _V, where: Location, what: str
    ) -> None:
        if key in scope:
            self.problem(where, f"duplicate {what} '{key}'")
        else:
            scope[key] = value

    def _variable(self, elem: _Element, source: _Source, variables: dict[str, str]) -> None:
        where = source.at(elem)
        attributes = _Attributes(self, elem, where)
        name = attributes.required("name")
        value = attributes.optional("value")
        attributes.done()
        self._check_leaf(elem, source)
        if name:
            self._add_unique(variables, name, value, where, "variable")

    def _check_leaf(self, elem: _Element, source: _Source) -> None:
        """Reports any child element or text of an element that takes neither."""
        tag = str(elem.tag)
        for child, child_source in self._children(elem, source, _Names(), tag):
            # Only a nested <properties refid> gets here: its would-be children are allowed
            # in a <properties>, so _children let them through.
            self.problem(
                child_source.at(child),
                f'element <{child.tag}> is not allowed in a <properties refid="..."> element',
            )

    def _node(
        self, elem: _Element, source: _Source, names: _Names, nodes: dict[str, _NodeBuilder]
    ) -> None:
        where = source.at(elem)
        attributes = _Attributes(self, elem, where)
        name = attributes.required("name")
        load_factor = attributes.optional("load-factor")
        attributes.done()
        if load_factor and not _is_variable(load_factor) and not _FLOAT.fullmatch(load_factor):
            self.problem(where, f"invalid load-factor '{load_factor}' of <node>: not a float")
        node = nodes.setdefault(name, _NodeBuilder(name, where))
        if "load-factor" in elem.attrib:
            node.load_factor = load_factor
        names = names._replace(node=name)
        once = _Once(self, "node")
        for child, child_source in self._children(elem, source, names, "node"):
            at = child_source.at(child)
            match child.tag:
                case "description":
                    text = self._text(child, child_source, names)
                    node.description = text if once.first("description", at) else node.description
                case "variable":
                    self._variable(child, child_source, node.variables)
                case "properties":
                    self._named_property_set(child, child_source, names, node.property_sets)
                case "server-instance":
                    node.server_instances.append(self._server_instance(child, child_source, names))
                case _:  # "server" | "icebox"
                    node.servers.append(self._server(child, child_source, names))

    def _template(
        self,
        elem: _Element,
        source: _Source,
        names: _Names,
        server_templates: dict[str, TemplateDescriptor],
        service_templates: dict[str, TemplateDescriptor],
    ) -> None:
        """`<server-template>` (one server or icebox) or `<service-template>` (one service)."""
        where = source.at(elem)
        attributes = _Attributes(self, elem, where)
        template_id = attributes.required("id")
        attributes.done()
        kind, body = (
            ("service", "service")
            if elem.tag == "service-template"
            else ("server", "server or icebox")
        )
        parameters: list[str] = []
        defaults: dict[str, str] = {}
        bodies: list[ServerDescriptor | ServiceDescriptor] = []
        for child, child_source in self._children(elem, source, names, str(elem.tag)):
            if child.tag == "parameter":
                self._parameter(child, child_source, parameters, defaults)
            elif child.tag == "service":
                bodies.append(self._service(child, child_source, names))
            else:
                bodies.append(self._server(child, child_source, names))
        if not bodies:
            self.problem(
                where, f"invalid {kind} template '{template_id}': {kind} definition is missing"
            )
            return
        if len(bodies) > 1:
            self.problem(where, f"invalid {kind} template '{template_id}': more than one {body}")
        template = TemplateDescriptor(
            template_id, tuple(parameters), _frozen(defaults), bodies[0], source=where
        )
        scope = service_templates if kind == "service" else server_templates
        self._add_unique(scope, template_id, template, where, f"{kind} template")

    def _parameter(
        self, elem: _Element, source: _Source, parameters: list[str], defaults: dict[str, str]
    ) -> None:
        where = source.at(elem)
        attributes = _Attributes(self, elem, where)
        name = attributes.required("name")
        has_default = attributes.present("default")
        default = attributes.optional("default")
        attributes.done()
        self._check_leaf(elem, source)
        if name in parameters:
            self.problem(where, f"duplicate parameter '{name}'")
            return
        parameters.append(name)
        if has_default:
            defaults[name] = default

    # ----------------------------------------------------------------- property sets

    def _named_property_set(
        self,
        elem: _Element,
        source: _Source,
        names: _Names,
        property_sets: dict[str, PropertySet],
    ) -> None:
        """`<properties id=...>` in an application or a node."""
        where = source.at(elem)
        attributes = _Attributes(self, elem, where)
        set_id = attributes.required("id")
        attributes.done()
        property_set = self._property_set_body(elem, source, names)
        if set_id:
            self._add_unique(property_sets, set_id, property_set, where, "property set")

    def _unnamed_property_set(
        self,
        elem: _Element,
        source: _Source,
        names: _Names,
        into: _PropertySetBuilder,
        parent: str,
    ) -> None:
        """`<properties>` in a server, icebox, service or service-instance: no attributes."""
        refid = elem.get("refid")
        if refid is not None and "id" not in elem.attrib:
            self.problem(
                source.at(elem),
                f'<properties refid="{refid}"> cannot be used directly in <{parent}>: '
                f'wrap it in a <properties> element: <properties><properties refid="{refid}"/>'
                "</properties>",
            )
            return
        _Attributes(self, elem, source.at(elem)).done()
        into.extend(self._property_set_body(elem, source, names))

    def _property_set_body(self, elem: _Element, source: _Source, names: _Names) -> PropertySet:
        """References (`<properties refid>`, first) then `<property>` elements."""
        references: list[str] = []
        properties: list[Property] = []
        for child, child_source in self._children(elem, source, names, "properties"):
            where = child_source.at(child)
            attributes = _Attributes(self, child, where)
            if child.tag == "property":
                properties.append(self._property(attributes, where))
            elif "id" in child.attrib or "refid" not in child.attrib:
                attributes.rest()
                self.problem(
                    where, 'only <properties refid="..."> can be a child of a <properties> element'
                )
            else:
                refid = attributes.required("refid")
                attributes.done()
                if properties:
                    self.problem(
                        where, '<properties refid="..."> must come before any <property> element'
                    )
                references.append(refid)
            self._check_leaf(child, child_source)
        return PropertySet(tuple(references), tuple(properties), source=source.at(elem))

    def _property(self, attributes: _Attributes, where: Location) -> Property:
        name = attributes.required("name")
        value = attributes.optional("value")
        attributes.done()
        return Property(name, value, source=where)

    # ----------------------------------------------------------------- servers and services

    def _server(self, elem: _Element, source: _Source, names: _Names) -> ServerDescriptor:
        """`<server>` or `<icebox>` (then `services` is a tuple, possibly empty)."""
        where = source.at(elem)
        attributes = _Attributes(self, elem, where)
        server_id = attributes.required("id")
        exe = attributes.required("exe")
        activation = attributes.optional("activation", "manual")
        activation_timeout = attributes.optional("activation-timeout")
        deactivation_timeout = attributes.optional("deactivation-timeout")
        pwd = attributes.optional("pwd")
        user = attributes.optional("user")
        ice_version = attributes.optional("ice-version")
        application_distrib = attributes.boolean("application-distrib", True)
        allocatable = attributes.boolean("allocatable", False)
        attributes.done()
        self._check_server_values(where, activation, activation_timeout, deactivation_timeout)
        tag = str(elem.tag)
        names = names._replace(server=server_id)
        communicator = _Communicator()
        once = _Once(self, tag)
        options: list[str] = []
        envs: list[str] = []
        services: list[ServiceInstanceDescriptor] = []
        distrib: DistributionDescriptor | None = None
        for child, child_source in self._children(elem, source, names, tag):
            at = child_source.at(child)
            match child.tag:
                case "option":
                    options.append(self._text(child, child_source, names))
                case "env":
                    envs.append(self._text(child, child_source, names))
                case "distrib":
                    parsed = self._distrib(child, child_source, names)
                    distrib = parsed if once.first("distrib", at) else distrib
                case "service":
                    service = self._service(child, child_source, names)
                    services.append(ServiceInstanceDescriptor(descriptor=service, source=at))
                case "service-instance":
                    services.append(self._service_instance(child, child_source, names))
                case _:
                    self._communicator_child(child, child_source, names, communicator, once)
        return ServerDescriptor(
            id=server_id,
            exe=exe,
            activation=activation,
            activation_timeout=activation_timeout,
            deactivation_timeout=deactivation_timeout,
            pwd=pwd,
            user=user,
            ice_version=ice_version,
            application_distrib=application_distrib,
            allocatable=allocatable,
            description=communicator.description,
            options=tuple(options),
            envs=tuple(envs),
            property_set=communicator.property_set.freeze(),
            adapters=tuple(communicator.adapters),
            dbenvs=tuple(communicator.dbenvs),
            logs=tuple(communicator.logs),
            distrib=distrib,
            services=tuple(services) if tag == "icebox" else None,
            source=where,
        )

    def _check_server_values(
        self, where: Location, activation: str, activation_timeout: str, deactivation_timeout: str
    ) -> None:
        if activation and not _is_variable(activation) and activation not in _ACTIVATIONS:
            self.problem(
                where,
                f"invalid activation '{activation}'; allowed: {', '.join(_ACTIVATIONS)} (or empty)",
            )
        for attribute, value in (
            ("activation-timeout", activation_timeout),
            ("deactivation-timeout", deactivation_timeout),
        ):
            if value and not _is_variable(value) and not _INTEGER.fullmatch(value):
                self.problem(where, f"invalid {attribute} '{value}': not an integer")

    def _service(self, elem: _Element, source: _Source, names: _Names) -> ServiceDescriptor:
        where = source.at(elem)
        attributes = _Attributes(self, elem, where)
        name = attributes.required("name")
        entry = attributes.required("entry")
        attributes.done()
        names = names._replace(service=name)
        communicator = _Communicator()
        once = _Once(self, "service")
        for child, child_source in self._children(elem, source, names, "service"):
            self._communicator_child(child, child_source, names, communicator, once)
        return ServiceDescriptor(
            name=name,
            entry=entry,
            description=communicator.description,
            property_set=communicator.property_set.freeze(),
            adapters=tuple(communicator.adapters),
            dbenvs=tuple(communicator.dbenvs),
            logs=tuple(communicator.logs),
            source=where,
        )

    def _communicator_child(
        self,
        elem: _Element,
        source: _Source,
        names: _Names,
        communicator: _Communicator,
        once: _Once,
    ) -> None:
        """A child every server, icebox and service may hold (the parent table checked which)."""
        at = source.at(elem)
        match elem.tag:
            case "description":
                text = self._text(elem, source, names)
                if once.first("description", at):
                    communicator.description = text
            case "property":
                property_ = self._property(_Attributes(self, elem, at), at)
                self._check_leaf(elem, source)
                communicator.property_set.properties.append(property_)
            case "properties":
                self._unnamed_property_set(
                    elem, source, names, communicator.property_set, once.parent
                )
            case "adapter":
                communicator.adapters.append(self._adapter(elem, source, names))
            case "dbenv":
                self._dbenv(elem, source, names, communicator.dbenvs)
            case _:  # "log"
                communicator.logs.append(self._log(elem, source))

    def _server_instance(
        self, elem: _Element, source: _Source, names: _Names
    ) -> ServerInstanceDescriptor:
        """`<server-instance template=... NAME=VALUE...>`; `<properties service=X>` per service."""
        where = source.at(elem)
        attributes = _Attributes(self, elem, where)
        template = attributes.required("template")
        values = attributes.rest()
        property_set = _PropertySetBuilder()
        service_sets: dict[str, _PropertySetBuilder] = {}
        for child, child_source in self._children(elem, source, names, "server-instance"):
            child_attributes = _Attributes(self, child, child_source.at(child))
            service = child_attributes.not_empty_if_present("service")
            child_attributes.done()
            into = (
                service_sets.setdefault(service, _PropertySetBuilder()) if service else property_set
            )
            into.extend(self._property_set_body(child, child_source, names))
        return ServerInstanceDescriptor(
            template=template,
            parameter_values=_frozen(values),
            property_set=property_set.freeze(),
            service_property_sets=_frozen({k: v.freeze() for k, v in service_sets.items()}),
            source=where,
        )

    def _service_instance(
        self, elem: _Element, source: _Source, names: _Names
    ) -> ServiceInstanceDescriptor:
        where = source.at(elem)
        attributes = _Attributes(self, elem, where)
        template = attributes.required("template")
        values = attributes.rest()
        property_set = _PropertySetBuilder()
        for child, child_source in self._children(elem, source, names, "service-instance"):
            self._unnamed_property_set(child, child_source, names, property_set, "service-instance")
        return ServiceInstanceDescriptor(
            template=template,
            parameter_values=_frozen(values),
            property_set=property_set.freeze(),
            source=where,
        )

    # ----------------------------------------------------------------- adapters and objects

    def _adapter(self, elem: _Element, source: _Source, names: _Names) -> AdapterDescriptor:
        where = source.at(elem)
        attributes = _Attributes(self, elem, where)
        name = attributes.required("name")
        adapter_id = attributes.not_empty_if_present("id")
        replica_group = attributes.optional("replica-group")
        priority = attributes.optional("priority")
        register_process = attributes.boolean("register-process", False)
        server_lifetime = attributes.boolean("server-lifetime", True)
        endpoints = attributes.optional("endpoints", "default")
        proxy_options = attributes.optional("proxy-options")
        attributes.done()
        description = ""
        once = _Once(self, "adapter")
        objects: list[ObjectDescriptor] = []
        allocatables: list[ObjectDescriptor] = []
        for child, child_source in self._children(elem, source, names, "adapter"):
            if child.tag == "description":
                text = self._text(child, child_source, names)
                description = (
                    text if once.first("description", child_source.at(child)) else description
                )
            elif child.tag == "object":
                objects.append(self._object(child, child_source, in_replica_group=False))
            else:
                allocatables.append(self._object(child, child_source, in_replica_group=False))
        return AdapterDescriptor(
            name=name,
            id=adapter_id,
            replica_group=replica_group,
            priority=priority,
            endpoints=endpoints,
            proxy_options=proxy_options,
            register_process=register_process,
            server_lifetime=server_lifetime,
            description=description,
            objects=tuple(objects),
            allocatables=tuple(allocatables),
            source=where,
        )

    def _object(
        self, elem: _Element, source: _Source, *, in_replica_group: bool
    ) -> ObjectDescriptor:
        """`<object>` or `<allocatable>`; a replica group's objects take no `property`."""
        where = source.at(elem)
        attributes = _Attributes(self, elem, where)
        identity = attributes.required("identity")
        type_ = attributes.optional("type")
        proxy_options = attributes.optional("proxy-options")
        property_ = ""
        if in_replica_group:
            attributes.reject(
                "property", "the 'property' attribute is not allowed on a replica group's <object>"
            )
        else:
            property_ = attributes.not_empty_if_present("property")
        attributes.done()
        self._check_leaf(elem, source)
        return ObjectDescriptor(identity, type_, proxy_options, property_, source=where)

    def _replica_group(
        self, elem: _Element, source: _Source, names: _Names
    ) -> ReplicaGroupDescriptor:
        where = source.at(elem)
        attributes = _Attributes(self, elem, where)
        group_id = attributes.required("id")
        proxy_options = attributes.optional("proxy-options")
        filter_ = attributes.optional("filter")
        attributes.done()
        once = _Once(self, "replica-group")
        description = ""
        load_balancing = LoadBalancing()
        objects: list[ObjectDescriptor] = []
        for child, child_source in self._children(elem, source, names, "replica-group"):
            at = child_source.at(child)
            if child.tag == "description":
                text = self._text(child, child_source, names)
                description = text if once.first("description", at) else description
            elif child.tag == "object":
                objects.append(self._object(child, child_source, in_replica_group=True))
            else:
                parsed = self._load_balancing(child, child_source)
                load_balancing = parsed if once.first("load-balancing", at) else load_balancing
        return ReplicaGroupDescriptor(
            id=group_id,
            load_balancing=load_balancing,
            proxy_options=proxy_options,
            filter=filter_,
            description=description,
            objects=tuple(objects),
            source=where,
        )

    def _load_balancing(self, elem: _Element, source: _Source) -> LoadBalancing:
        """`type` in random, ordered, round-robin, adaptive; `load-sample` for adaptive only."""
        where = source.at(elem)
        attributes = _Attributes(self, elem, where)
        type_name = attributes.required("type")
        n_replicas = attributes.optional("n-replicas", "1")
        load_sample = "1"
        if type_name == LoadBalancingType.ADAPTIVE:
            load_sample = attributes.optional("load-sample", "1")
        else:
            attributes.reject(
                "load-sample",
                "attribute 'load-sample' of <load-balancing> is only allowed with type 'adaptive'",
            )
        attributes.done()
        self._check_leaf(elem, source)
        try:
            type_ = LoadBalancingType(type_name)
        except ValueError:
            type_ = LoadBalancingType.RANDOM
            if type_name:
                allowed = ", ".join(t.value for t in LoadBalancingType)
                self.problem(
                    where, f"invalid load balancing type '{type_name}'; allowed: {allowed}"
                )
        if not _is_variable(n_replicas) and not (
            _INTEGER.fullmatch(n_replicas) and int(n_replicas) >= 0
        ):
            self.problem(where, f"invalid n-replicas '{n_replicas}': not an integer >= 0")
        if load_sample and not _is_variable(load_sample) and load_sample not in _LOAD_SAMPLES:
            self.problem(where, f"invalid load-sample '{load_sample}'; allowed: 1, 5, 15")
        return LoadBalancing(type_, n_replicas, load_sample)

    # ----------------------------------------------------------------- dbenv, log, distrib

    def _dbenv(
        self, elem: _Element, source: _Source, names: _Names, dbenvs: list[DbEnvDescriptor]
    ) -> None:
        """`<dbenv>`; one with the name of an earlier one re-opens it (as IceGrid)."""
        where = source.at(elem)
        attributes = _Attributes(self, elem, where)
        name = attributes.required("name")
        home = attributes.optional("home")
        attributes.done()
        existing = next((d for d in dbenvs if d.name == name), None)
        dbenv = DbEnvDescriptor(name, home, source=where)
        if existing is not None:
            dbenvs.remove(existing)
            dbenv = existing if existing.home else replace(existing, home=home)
        once = _Once(self, "dbenv")
        properties = list(dbenv.properties)
        for child, child_source in self._children(elem, source, names, "dbenv"):
            at = child_source.at(child)
            if child.tag == "description":
                text = self._text(child, child_source, names)
                if once.first("description", at):
                    dbenv = replace(dbenv, description=text)
                continue
            property_ = self._property(_Attributes(self, child, at), at)
            self._check_leaf(child, child_source)
            if dbenv.home:
                self.problem(
                    at,
                    "<dbproperty> is only allowed in a <dbenv> with no home "
                    "(its home is then managed by the node)",
                )
            properties.append(property_)
        dbenvs.append(replace(dbenv, properties=tuple(properties)))

    def _log(self, elem: _Element, source: _Source) -> LogDescriptor:
        where = source.at(elem)
        attributes = _Attributes(self, elem, where)
        path = attributes.required("path")
        property_ = attributes.not_empty_if_present("property")
        attributes.done()
        self._check_leaf(elem, source)
        return LogDescriptor(path, property_, source=where)

    def _distrib(self, elem: _Element, source: _Source, names: _Names) -> DistributionDescriptor:
        """`<distrib icepatch>` with `<directory>` children: kept, never acted upon here."""
        where = source.at(elem)
        attributes = _Attributes(self, elem, where)
        icepatch = attributes.optional("icepatch", DistributionDescriptor.icepatch)
        attributes.done()
        directories = [
            self._text(child, child_source, names)
            for child, child_source in self._children(elem, source, names, "distrib")
        ]
        return DistributionDescriptor(icepatch, tuple(directories), source=where)


def _is_fragment(root: _Element) -> bool:
    """An `<icegrid>` holding elements but no `<application>`, not even behind an include or a
    target: a file of templates or property sets meant to be included."""
    tags = {child.tag for child in root if isinstance(child.tag, str)}
    return bool(tags) and not tags & {"application", "include", "target"}


def _unknown(tag: str, parent: str) -> str:
    """ "unknown element <X>", with the closest element allowed in `parent` when one is close."""
    import difflib  # only for a misspelt element: not on every deploy's path

    allowed = [t for t, parents in _PARENTS.items() if parent in parents] + ["include", "target"]
    close = difflib.get_close_matches(tag, allowed, n=1)
    return f"unknown element <{tag}>" + (f"; did you mean <{close[0]}>?" if close else "")


def _misplaced(tag: str, parent: str) -> str:
    special = _SPECIAL_MISPLACED.get((tag, parent))
    if special is not None:
        return special
    if tag == "icegrid":
        return "element <icegrid> is a top level element"
    allowed = " or ".join(f"<{p}>" for p in sorted(_PARENTS[tag]))
    return f"element <{tag}> is not allowed in <{parent}>; it can only be a child of {allowed}"
