"""IceGrid's variable substitution (`Resolver` in `DescriptorHelper.cpp`): registry and node.

`${name}` looks up reserved names, then template parameters (taken as given), then variables
(substituted recursively; a cycle is an error). `$` escapes `${`: the registry keeps escapes and
host-dependent names (`${node.data}`, `${node.os}`...) verbatim; the node applies
`resolve_node_variables` once, which substitutes those and removes the escapes: `$${x}` gives
`${x}`, `$$${x}` gives `$` and the value, `$$$${x}` gives `$${x}`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Any

from shoal.descriptor import FIX_HINT
from shoal.descriptor.model import Location, Property, ServerDescription, Service
from shoal.errors import DescriptorError, Problem

__all__ = [
    "MAX_VALUE_LENGTH",
    "MAX_VARIABLE_DEPTH",
    "NODE_VARIABLES",
    "RESERVED_NAMES",
    "UNSET",
    "Problems",
    "Resolver",
    "Unresolvable",
    "resolve_node_variables",
]

# The values the node knows about its host; the registry leaves them verbatim.
NODE_VARIABLES = frozenset(
    {
        "node.os",
        "node.hostname",
        "node.release",
        "node.version",
        "node.machine",
        "node.data",
        "node.datadir",  # deprecated alias of node.data
    }
)
# IceGrid's reserved data directories: templates over node.data (Resolver::getReserved).
_DATA_DIRECTORIES = MappingProxyType(
    {
        "application.distrib": "${node.data}/distrib/${application}",
        "server.distrib": "${node.data}/servers/${server}/distrib",
        "server.data": "${node.data}/servers/${server}/data",
        "service.data": "${node.data}/servers/${server}/data_${service}",
    }
)
RESERVED_NAMES = frozenset(
    {"application", "node", "server", "service", "session.id"}
    | NODE_VARIABLES
    | set(_DATA_DIRECTORIES)
)
# Every reserved name; the empty value means "not defined in this scope".
UNSET = MappingProxyType(dict.fromkeys(RESERVED_NAMES, "") | dict(_DATA_DIRECTORIES))
_INTEGER = re.compile(r"[+-]?[0-9]+")
# What C++'s `istream >> float` reads (IceGrid's asFloat): no nan, inf or `1_0` as Python allows.
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_INT32 = range(-(2**31), 2**31)
# `a=${b}`, `b=${c}`... each level is a few Python frames: a chain longer than this is refused
# before the stack overflows. No real descriptor comes near it.
MAX_VARIABLE_DEPTH = 100
# `v0=${v1}${v1}`, `v1=${v2}${v2}`... doubles at each level: a value is refused past this length
# (the work stays bounded because the length grows as fast as the work).
MAX_VALUE_LENGTH = 1_000_000


class Unresolvable(Exception):
    """A `${...}` that cannot be substituted; the message names the variable."""


class Problems:
    """Every problem found, located and deduplicated; raised sorted by file and line."""

    def __init__(self, fallback: Location) -> None:
        self.fallback = fallback
        self._found: dict[Problem, None] = {}

    def add(self, where: Location | None, message: str) -> None:
        """Record `message` at `where`; a newline in it (a quoted value) is shown as `\\n`."""
        at = where or self.fallback
        self._found[Problem(at.file, at.line, message.replace("\n", "\\n"))] = None

    def raise_if_any(self) -> None:
        if self._found:
            found = sorted(self._found, key=lambda p: (p.file, p.line))
            raise DescriptorError(found, FIX_HINT)


def _no_mapping(default: Mapping[str, str] = MappingProxyType({})) -> Any:
    return field(default_factory=lambda: default)


@dataclass(frozen=True)
class Resolver:
    """One scope of IceGrid's `Resolver`: reserved values, template parameters and variables.

    Calls record a located problem (prefixed by `context`) and fall back to the text as written,
    so that expansion goes on and reports every problem; `as_id`/`as_int` return None instead.
    """

    problems: Problems
    context: str
    reserved: Mapping[str, str] = _no_mapping(UNSET)
    variables: Mapping[str, str] = _no_mapping()
    parameters: Mapping[str, str] = _no_mapping()
    deferred: frozenset[str] = NODE_VARIABLES
    unescape: bool = False  # False at the registry (escapes kept), True on the node
    fallback: Location | None = None
    # Names of the variables looked up, in every scope derived from this one (shared).
    used: set[str] = field(default_factory=set, compare=False)
    # Variable values substituted in this scope (a new scope starts empty): `${v}` used twice
    # is substituted once, so `v0=${v1}${v1}`, `v1=${v2}${v2}`... costs its length, not 2**depth.
    _values: dict[tuple[str, bool], str] = field(default_factory=dict, init=False, compare=False)

    def scoped(self, **changes: Any) -> Resolver:
        return dataclasses.replace(self, **changes)

    def with_reserved(self, name: str, value: str) -> Resolver:
        return self.scoped(reserved={**self.reserved, name: value})

    def problem(self, where: Location | None, message: str) -> None:
        self.problems.add(where or self.fallback, f"{self.context}: {message}")

    def __call__(self, text: str, where: Location | None, what: str) -> str:
        value = self._try(text, where, what, allow_deferred=True)
        return text if value is None else value

    def required(self, text: str, where: Location | None, what: str) -> str:
        """Like a call, and the result must not be empty."""
        value = self(text, where, what)
        if not value:
            self._empty(text, where, what)
        return value

    def as_id(
        self, text: str, where: Location | None, what: str, *, empty: bool = False
    ) -> str | None:
        """An identifier: host-dependent variables are not allowed; empty only when `empty`."""
        value = self._try(text, where, what, allow_deferred=False)
        if value is None or value or empty:
            return value
        self._empty(text, where, what)
        return None

    def as_int(self, text: str, where: Location | None, what: str) -> int | None:
        """A 32-bit integer, as IceGrid's `int` (spaces around allowed); the empty string is 0."""
        value = self._try(text, where, what, allow_deferred=False)
        if value is None or not value.strip():
            return None if value is None else 0
        if not _INTEGER.fullmatch(value.strip()):
            self.problem(where, f"{what} `{value}' is not an integer")
            return None
        if int(value) not in _INT32:
            self.problem(where, f"{what} `{value}' is out of range (a 32-bit integer)")
            return None
        return int(value)

    def as_float(self, text: str, where: Location | None, what: str) -> float | None:
        """A decimal number as C++ reads one (no nan, inf or `_`); empty means None."""
        value = self._try(text, where, what, allow_deferred=False)
        if not value or not value.strip():
            return None
        if not _FLOAT.fullmatch(value.strip()):
            self.problem(where, f"{what} `{value}' is not a number")
            return None
        return float(value)

    def properties(self, properties: Iterable[Property]) -> list[tuple[str, str]]:
        pairs = []
        for prop in properties:
            name = self(prop.name, prop.source, "property name")
            pairs.append((name, self(prop.value, prop.source, f"property `{name}'")))
        return pairs

    # ------------------------------------------------------------------ substitution

    def _empty(self, text: str, where: Location | None, what: str) -> None:
        if text:
            self.problem(where, f"{what} `{text}' substitutes to an empty string")
        else:
            self.problem(where, f"{what} is empty")

    def _try(
        self, text: str, where: Location | None, what: str, *, allow_deferred: bool
    ) -> str | None:
        try:
            return self.substitute(text, allow_deferred=allow_deferred)
        except Unresolvable as error:
            self.problem(where, f"{error} in {what}")
            return None

    def substitute(
        self,
        text: str,
        *,
        allow_deferred: bool = True,
        use_parameters: bool = True,
        chain: tuple[str, ...] = (),
    ) -> str:
        """`text` with every `${name}` replaced (Resolver::substitute); raises `Unresolvable`."""
        out: list[str] = []
        done = 0
        while (start := text.find("${", done)) >= 0:
            run = start
            while run > done and text[run - 1] == "$":
                run -= 1
            dollars = start - run
            out.append(text[done:run])
            if dollars % 2:  # an escaped `${`: kept for the node, which removes one `$` in two
                out.append("$" * (dollars // 2 if self.unescape else dollars) + "${")
                done = start + 2
                continue
            end = text.find("}", start)
            if end < 0:
                line = text[text.rfind("\n", 0, start) + 1 :]
                raise Unresolvable(f"unterminated `${{' in `{_excerpt(line)}'")
            name = text[start + 2 : end]
            if name in self.deferred:
                if not allow_deferred:
                    raise Unresolvable(f"variable `{name}' is only known on the node, not allowed")
                out.append(text[run : end + 1])  # verbatim, escapes included, for the node
            else:
                value = self._lookup(name, use_parameters, allow_deferred, chain)
                out.append("$" * (dollars // 2) + value)
            done = end + 1
        out.append(text[done:])
        result = "".join(out)
        if len(result) > MAX_VALUE_LENGTH and len(result) > len(text):
            limit = f"{MAX_VALUE_LENGTH:,}"
            raise Unresolvable(f"value longer than {limit} characters once substituted")
        return result

    def _lookup(
        self, name: str, use_parameters: bool, allow_deferred: bool, chain: tuple[str, ...]
    ) -> str:
        """Reserved names first, then parameters (not re-substituted), then variables."""
        if name in self.reserved:
            value = self.reserved[name]
            if not value:
                raise Unresolvable(f"undefined variable `{name}'")
            if name in _DATA_DIRECTORIES:
                return self.substitute(value, allow_deferred=allow_deferred, use_parameters=False)
            return value
        if use_parameters and name in self.parameters:
            return self.parameters[name]
        if name not in self.variables:
            raise Unresolvable(f"undefined variable `{name}'")
        self.used.add(name)
        if name in chain:
            path = " -> ".join((*chain[chain.index(name) :], name))
            raise Unresolvable(f"variable `{name}' is defined in terms of itself ({path})")
        if len(chain) >= MAX_VARIABLE_DEPTH:
            raise Unresolvable(
                f"variable chain deeper than {MAX_VARIABLE_DEPTH} starting at `{chain[0]}'"
            )
        key = (name, allow_deferred)
        if key not in self._values:
            self._values[key] = self.substitute(
                self.variables[name],
                allow_deferred=allow_deferred,
                use_parameters=False,
                chain=(*chain, name),
            )
        return self._values[key]


def _excerpt(text: str) -> str:
    """The first line of `text`, at most 60 characters: a value quoted in a one-line message."""
    line = text.split("\n", 1)[0]
    return line if len(line) <= 60 else line[:57] + "..."


# --------------------------------------------------------------------------- on the node

_KEPT_AS_IS = frozenset({"id", "node", "application", "source"})


def resolve_node_variables(
    server: ServerDescription, node_values: Mapping[str, str]
) -> ServerDescription:
    """`server` with the host's values substituted and `$` escapes removed; apply it once.

    `node_values` holds `node.os`, `node.hostname`, `node.release`, `node.version`,
    `node.machine`, `node.data` and, for a session server once allocated, `session.id`.
    `server.data` and the other data directories derive from `node.data`.
    """
    unknown = sorted(set(node_values) - NODE_VARIABLES - {"session.id"})
    if unknown:
        raise ValueError(f"not node variables: {unknown}")
    values = {**node_values}
    values.setdefault("node.datadir", values.get("node.data", ""))
    problems = Problems(Location(f"<node {server.node}>", 0))
    resolver = Resolver(
        problems,
        f"server `{server.id}'",
        reserved={**UNSET, **values, "application": server.application, "node": server.node}
        | {"server": server.id},
        deferred=frozenset(),
        unescape=True,
    )
    resolved = _substitute_all(server, resolver, "server")
    problems.raise_if_any()
    assert isinstance(resolved, ServerDescription)
    return resolved


def _substitute_all(value: Any, r: Resolver, what: str) -> Any:
    """Every string inside `value` (dataclasses and tuples walked) substituted by `r`."""
    if isinstance(value, Enum) or value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return r(value, None, what)
    if isinstance(value, tuple):
        return tuple(_substitute_all(item, r, what) for item in value)
    if isinstance(value, Service):
        r = r.with_reserved("service", r(value.name, None, "service name"))
    changes = {
        f.name: _substitute_all(getattr(value, f.name), r, f.name)
        for f in dataclasses.fields(value)
        if f.name not in _KEPT_AS_IS
    }
    return dataclasses.replace(value, **changes)
