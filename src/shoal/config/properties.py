"""Ice property files and `--Key=Value` overrides, read into an immutable `Properties`.

Every value remembers where it was set (file and line, or the command line), so every error a
getter raises names the file, the line and the key.

Syntax is Ice 3.7's (`PropertiesI::parseLine`, `PropertiesI::load`, `PropertiesI::PropertiesI`):

* `Key = Value`; `#` starts a comment anywhere; whitespace around key and value is trimmed.
* Backslash escapes `\\#`, `\\=` and `\\\\` give the character; `\\ ` keeps a space at the start
  or end of a value (leading escaped spaces of a key are dropped, as in Ice); a backslash before
  anything else is kept as is (so `C:\\dir` needs no doubling). No line continuations.
* An empty value *removes* the key (Ice's `setProperty` with ""), so a later file or
  `--Key=` on the command line can clear a setting.
* A UTF-8 byte order mark on the first line is skipped.

Shoal's additions and deviations (each a hard error where Ice would only log a warning):

* `${VAR}` in a value is replaced from the environment; `$$` is a literal `$` (the escape
  IceGrid descriptors use); a `$` not followed by `{` or `$` is kept (crypt hashes like `$6$...`).
  An undefined variable is a ConfigError naming file:line:key and the variable.
* A line with a key but no `=`, or an `=` with no key, is a ConfigError (Ice warns and skips).
* `Ice.Config=a.cfg,b.cfg` inside a file includes those files at that line (relative to the
  including file's directory); later lines override what they set. Ice only honours Ice.Config
  on the command line. Include cycles are an error naming the chain. The key itself is not stored.
* Malformed values (a non-integer for an integer, `true` for a boolean ...) are ConfigErrors
  raised by the getters (Ice warns and uses the default).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import overload

from shoal.config._icestrings import parse_int32, split_words
from shoal.config.endpoints import (
    Endpoint,
    EndpointParseError,
    Proxy,
    ProxyParseError,
    parse_endpoints,
    parse_proxy,
    resolve_endpoint,
    resolve_proxy,
)
from shoal.errors import ConfigError

__all__ = [
    "COMMAND_LINE",
    "DEFAULT_MESSAGE_SIZE_MAX_KB",
    "Origin",
    "Properties",
    "Property",
    "PropertySyntaxError",
    "VariableError",
    "expand_variables",
    "load_file",
    "load_files",
    "parse_command_line",
    "parse_line",
]

#: Ice.MessageSizeMax when unset, in KB (OMERO's value; Ice's own default is 1024).
DEFAULT_MESSAGE_SIZE_MAX_KB = 65536
# Ice caps the message size at 0x7fffffff bytes; gRPC's limits are int32 too.
_MAX_MESSAGE_BYTES = 0x7FFFFFFF
_VARIABLE_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONFIG_KEY = "Ice.Config"


@dataclass(frozen=True, order=True)
class Origin:
    """Where a value was set: a file and 1-based line, or the command line (no file)."""

    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.file is not None else "command line"

    def error(self, key: str, message: str, hint: str = "") -> ConfigError:
        """A ConfigError located here, about `key`."""
        return ConfigError(
            message, file=self.file or "command line", line=self.line, key=key, hint=hint
        )


#: The origin of `--Key=Value` arguments.
COMMAND_LINE = Origin()


@dataclass(frozen=True)
class Property:
    """One key, its (non-empty) value, and where it was set."""

    key: str
    value: str
    origin: Origin


class PropertySyntaxError(ValueError):
    """A line is not `Key=Value`, a comment or blank."""


class VariableError(ValueError):
    """A `${VAR}` reference is undefined or malformed; `variable` names it."""

    def __init__(self, message: str, variable: str) -> None:
        super().__init__(message)
        self.variable = variable


# --------------------------------------------------------------------------------- syntax


def parse_line(line: str) -> tuple[str, str] | None:
    """One line in Ice syntax: (key, value), or None for a blank or comment line.

    A port of `PropertiesI::parseLine` (Ice 3.7), state for state.
    """
    key = ""
    value = ""
    whitespace = ""  # pending unescaped whitespace, kept only if more text follows
    escaped_space = ""  # pending escaped spaces in a value, kept at its start or end
    in_value = False
    index = 0
    while index < len(line):
        char = line[index]
        if not in_value:
            if char == "\\":
                if index < len(line) - 1:
                    index += 1
                    char = line[index]
                    if char in "\\#=":
                        key += whitespace + char
                        whitespace = ""
                    elif char == " ":
                        if key:
                            whitespace += char
                    else:
                        key += whitespace + "\\" + char
                        whitespace = ""
                else:
                    key += whitespace + char
            elif char in " \t\r\n":
                if key:
                    whitespace += char
            elif char == "=":
                whitespace = ""
                in_value = True
            elif char == "#":
                break
            else:
                key += whitespace + char
                whitespace = ""
        else:
            if char == "\\":
                if index < len(line) - 1:
                    index += 1
                    char = line[index]
                    if char in "\\#=":
                        value += (whitespace if value else escaped_space) + char
                        whitespace = escaped_space = ""
                    elif char == " ":
                        whitespace += char
                        escaped_space += char
                    else:
                        value += (whitespace if value else escaped_space) + "\\" + char
                        whitespace = escaped_space = ""
                else:
                    # Ice appends without clearing the pending spaces (kept quirk).
                    value += (whitespace if value else escaped_space) + char
            elif char in " \t\r\n":
                if value:
                    whitespace += char
            elif char == "#":
                break
            else:
                value += (whitespace if value else escaped_space) + char
                whitespace = escaped_space = ""
        index += 1
    value += escaped_space

    # Ice's setProperty trims the key once more.
    key_text = key.strip(" \t\r\n")
    if not in_value:
        if key_text:
            raise PropertySyntaxError(f"expected Key=Value, found `{line.strip()}' (no '=')")
        return None
    if not key_text:
        raise PropertySyntaxError(f"no key before '=' in `{line.strip()}'")
    return key_text, value


def expand_variables(value: str, environ: Mapping[str, str]) -> str:
    """Replace `${VAR}` from `environ`; `$$` is `$`; any other `$` is kept."""
    out: list[str] = []
    index = 0
    while index < len(value):
        char = value[index]
        following = value[index + 1 : index + 2]
        if char != "$" or following not in ("$", "{"):
            out.append(char)
            index += 1
        elif following == "$":
            out.append("$")
            index += 2
        else:
            close = value.find("}", index + 2)
            if close < 0:
                raise VariableError(f"unterminated `${{' in `{value}'", value[index + 2 :])
            name = value[index + 2 : close]
            if not _VARIABLE_NAME_RE.fullmatch(name):
                raise VariableError(f"invalid variable name `${{{name}}}'", name)
            if name not in environ:
                raise VariableError(f"undefined variable ${{{name}}}", name)
            out.append(environ[name])
            index = close + 1
    return "".join(out)


def _split_config_list(value: str) -> list[str]:
    # Ice splits Ice.Config on ',' (quotes allowed) and trims each file name.
    names: list[str] = []
    for piece in split_words(value, ","):
        name = piece.strip(" \t\r\n")
        if name:
            names.append(name)
    return names


# --------------------------------------------------------------------------------- loading


class _Loader:
    """Accumulates properties in the order Ice applies them; include cycles are tracked here."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.entries: dict[str, Property] = {}

    def set(self, key: str, value: str, origin: Origin) -> None:
        if value:
            self.entries[key] = Property(key, value, origin)
        else:
            self.entries.pop(key, None)

    def load_file(self, path: Path, *, included_at: Origin | None, stack: tuple[Path, ...]) -> None:
        real_path = Path(os.path.realpath(path))
        if real_path in stack:
            assert included_at is not None  # a top-level file starts an empty stack
            chain = " -> ".join(str(p) for p in (*stack, real_path))
            raise included_at.error(
                _CONFIG_KEY,
                f"Ice.Config include cycle: {chain}",
                hint="remove one of the Ice.Config lines in the cycle",
            )
        try:
            content = path.read_bytes()
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if included_at is not None:
                raise included_at.error(
                    _CONFIG_KEY, f"cannot read included file {path}: {reason}"
                ) from exc
            raise ConfigError(f"cannot read property file: {reason}", file=str(path)) from exc
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            bad_line = content[: exc.start].count(b"\n") + 1
            raise ConfigError(
                f"not valid UTF-8 ({exc.reason})", file=str(path), line=bad_line
            ) from exc

        stack = (*stack, real_path)
        # Ice reads with getline: lines end at '\n' only; a '\r' left over is whitespace.
        for line_number, line in enumerate(text.split("\n"), start=1):
            origin = Origin(str(path), line_number)
            try:
                parsed = parse_line(line)
            except PropertySyntaxError as exc:
                raise ConfigError(
                    str(exc),
                    file=str(path),
                    line=line_number,
                    hint="write Key=Value; escape a literal '#' or '=' with a backslash",
                ) from exc
            if parsed is None:
                continue
            key, raw_value = parsed
            value = self.expand(key, raw_value, origin)
            if key == _CONFIG_KEY:
                self.include(value, origin, relative_to=path.parent, stack=stack)
            else:
                self.set(key, value, origin)

    def expand(self, key: str, value: str, origin: Origin) -> str:
        try:
            return expand_variables(value, self.environ)
        except VariableError as exc:
            raise origin.error(
                key,
                str(exc),
                hint=f"set {exc.variable} in the environment, or write $$ for a literal $",
            ) from exc

    def include(
        self, value: str, origin: Origin, *, relative_to: Path, stack: tuple[Path, ...]
    ) -> None:
        try:
            names = _split_config_list(value)
        except ValueError as exc:
            raise origin.error(_CONFIG_KEY, f"mismatched quotes in `{value}'") from exc
        for name in names:
            path = Path(name)
            if not path.is_absolute():
                path = relative_to / path
            self.load_file(path, included_at=origin, stack=stack)

    def properties(self) -> Properties:
        return Properties(self.entries.values())


def _environ(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def load_file(path: Path | str, *, environ: Mapping[str, str] | None = None) -> Properties:
    """Read one property file (and the files it includes with Ice.Config)."""
    loader = _Loader(_environ(environ))
    loader.load_file(Path(path), included_at=None, stack=())
    return loader.properties()


def load_files(
    paths: Sequence[Path],
    overrides: Sequence[str] = (),
    *,
    environ: Mapping[str, str] | None = None,
) -> Properties:
    """Files in order (later wins), then `--Key=Value` overrides: `--Ice.Config=a,b --Key=V`.

    Ice.Config is set to the file list, as the command line would. An override that is not a
    property (`--Key=Value` with a dotted key) is a ConfigError.
    """
    loader = _Loader(_environ(environ))
    for path in paths:
        loader.load_file(path, included_at=None, stack=())
    if paths:
        loader.set(_CONFIG_KEY, ",".join(str(path) for path in paths), COMMAND_LINE)
    for argument in overrides:
        parsed = _property_argument(argument)
        if parsed is None:
            raise ConfigError(
                f"`{argument}' is not a property override",
                file="command line",
                hint="write --Key=Value, e.g. --IceGrid.Node.Name=node1",
            )
        if parsed[0] == _CONFIG_KEY:
            raise COMMAND_LINE.error(
                _CONFIG_KEY, "cannot be overridden here; the file list is fixed"
            )
        loader.set(*parsed, COMMAND_LINE)
    return loader.properties()


def _property_argument(argument: str) -> tuple[str, str] | None:
    """`--Key=Value` (or `--Key`, meaning `=1` as in Ice) when Key is dotted; else None."""
    if not argument.startswith("--") or argument == "--":
        return None
    text = argument[2:]
    key_part = text.split("=", 1)[0]
    if "." not in key_part or not key_part[:1].isalpha():
        return None
    if "=" not in text:
        text += "=1"
    try:
        return parse_line(text)
    except PropertySyntaxError:  # `--A.b#c`, `--A.b\=c`: no key=value once parsed
        return None


def parse_command_line(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    config_variable: str | None = None,
) -> tuple[Properties, list[str]]:
    """Properties from `--Key=Value` arguments, and the arguments that are not properties.

    `args` excludes the program name. As in Ice: every `--Ice.Config=a.cfg,b.cfg` is loaded
    first (relative names against `cwd`), then the other `--Key=Value` arguments override the
    files, in order. `--Key` alone means `--Key=1`. Ice parses only its own prefixes; Shoal takes
    any dotted key (`--omero.data.dir=...`) and stops at `--`. Values follow the file syntax (a
    `#` starts a comment; write `\\#`), but `${VAR}` is not expanded (the shell did that).
    With no `--Ice.Config`, `config_variable` (e.g. "SHOAL_CONFIG", like Ice's ICE_CONFIG) names
    an environment variable holding the file list.
    """
    environment = _environ(environ)
    base = Path.cwd() if cwd is None else cwd
    loader = _Loader(environment)
    remaining: list[str] = []
    settings: list[tuple[str, str]] = []
    config_lists: list[str] = []
    for position, argument in enumerate(args):
        if argument == "--":
            remaining.extend(args[position:])
            break
        parsed = _property_argument(argument)
        if parsed is None:
            remaining.append(argument)
        elif parsed[0] == _CONFIG_KEY:
            config_lists.append(parsed[1])
        else:
            settings.append(parsed)

    if not config_lists and config_variable and environment.get(config_variable):
        config_lists.append(environment[config_variable])
    for config_list in config_lists:
        loader.include(config_list, COMMAND_LINE, relative_to=base, stack=())
        loader.set(_CONFIG_KEY, config_list, COMMAND_LINE)
    for key, value in settings:
        loader.set(key, value, COMMAND_LINE)
    return loader.properties(), remaining


# --------------------------------------------------------------------------------- Properties


class Properties:
    """An immutable set of properties; each value knows its origin. Built by the loaders."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Iterable[Property] = ()) -> None:
        ordered = sorted(entries, key=lambda entry: entry.key)
        self._entries: Mapping[str, Property] = MappingProxyType({e.key: e for e in ordered})

    @classmethod
    def from_mapping(cls, values: Mapping[str, str], origin: Origin = COMMAND_LINE) -> Properties:
        """Properties set in code (tests, defaults); empty values are dropped as Ice does."""
        return cls(Property(key, value, origin) for key, value in values.items() if value)

    # ------------------------------------------------------------------ mapping-like access

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Properties):
            return NotImplemented
        return dict(self._entries) == dict(other._entries)

    def __hash__(self) -> int:
        return hash(tuple(self._entries.values()))

    def __repr__(self) -> str:
        return f"Properties({self.as_dict()!r})"

    def entries(self) -> list[Property]:
        """Every property, in key order."""
        return list(self._entries.values())

    def entry(self, key: str) -> Property | None:
        return self._entries.get(key)

    def origin(self, key: str) -> Origin | None:
        entry = self._entries.get(key)
        return entry.origin if entry is not None else None

    def as_dict(self) -> dict[str, str]:
        return {key: entry.value for key, entry in self._entries.items()}

    def for_prefix(self, prefix: str) -> dict[str, str]:
        """Ice's getPropertiesForPrefix: every key starting with `prefix`."""
        return {k: e.value for k, e in self._entries.items() if k.startswith(prefix)}

    def command_line_options(self) -> list[str]:
        """Ice's getCommandLineOptions: `--Key=Value` for every property, in key order."""
        return [f"--{key}={entry.value}" for key, entry in self._entries.items()]

    def merged(self, overrides: Properties) -> Properties:
        """These properties with `overrides` applied on top (each keeps its own origin)."""
        return Properties([*self._entries.values(), *overrides.entries()])

    # ------------------------------------------------------------------ typed getters

    def _error(self, key: str, message: str, hint: str = "") -> ConfigError:
        entry = self._entries.get(key)
        if entry is None:  # the caller's default was malformed
            return ConfigError(f"{message} (default value)", key=key, hint=hint)
        return entry.origin.error(key, message, hint)

    def get(self, key: str, default: str = "") -> str:
        """The value, or `default` if unset (Ice's getPropertyWithDefault)."""
        entry = self._entries.get(key)
        return entry.value if entry is not None else default

    def require(self, key: str, hint: str = "") -> str:
        """The value; a ConfigError if the key is not set."""
        entry = self._entries.get(key)
        if entry is None:
            raise ConfigError("required property is not set", key=key, hint=hint)
        return entry.value

    def get_int(self, key: str, default: int = 0) -> int:
        """A 32-bit decimal integer (Ice's getPropertyAsIntWithDefault, but strict)."""
        entry = self._entries.get(key)
        if entry is None:
            return default
        value = parse_int32(entry.value)
        if value is None:
            raise self._error(key, f"expected an integer, got `{entry.value}'")
        return value

    def get_bool(self, key: str, default: bool = False) -> bool:
        """Ice reads flags as integers: 0 is false, any other integer true. Words are refused."""
        entry = self._entries.get(key)
        if entry is None:
            return default
        value = parse_int32(entry.value)
        if value is None:
            raise self._error(
                key,
                f"expected 0 or 1, got `{entry.value}'",
                hint="Ice reads this property as an integer: write 1 (on) or 0 (off)",
            )
        return value != 0

    def get_size_kb(self, key: str, default_kb: int = DEFAULT_MESSAGE_SIZE_MAX_KB) -> int:
        """A size written in KB (Ice.MessageSizeMax), returned in BYTES.

        Must be positive (Ice reads < 1 as "no limit"; Shoal always has one). Like Ice, a size
        above 2 GB is capped at 0x7fffffff bytes.
        """
        entry = self._entries.get(key)
        kilobytes = default_kb if entry is None else parse_int32(entry.value)
        if kilobytes is None or kilobytes < 1:
            shown = entry.value if entry is not None else str(default_kb)
            raise self._error(key, f"expected a positive size in KB, got `{shown}'")
        return min(kilobytes * 1024, _MAX_MESSAGE_BYTES)

    def get_list(self, key: str, default: Sequence[str] = ()) -> tuple[str, ...]:
        """Words split on whitespace and commas, quotes grouping (Ice's getPropertyAsList)."""
        entry = self._entries.get(key)
        if entry is None:
            return tuple(default)
        try:
            words = split_words(entry.value, ", \t\r\n")
        except ValueError as exc:
            raise self._error(key, f"mismatched quotes in `{entry.value}'") from exc
        return tuple(words) if words else tuple(default)

    def get_endpoints(
        self, key: str, default: str = "", *, for_server: bool | None = None
    ) -> tuple[Endpoint, ...]:
        """Endpoints (`tcp -h H -p P:ssl -p P`); () if unset and no default.

        With `for_server` True or False they are also resolved (see `resolve_endpoint`) with
        this set's Ice.Default.Host and Ice.Default.Protocol, so a client endpoint with no port
        fails here, naming the file and line.
        """
        entry = self._entries.get(key)
        text = entry.value if entry is not None else default
        try:
            endpoints = parse_endpoints(text)
            if for_server is not None:
                endpoints = tuple(
                    resolve_endpoint(
                        endpoint,
                        for_server=for_server,
                        default_host=self.get("Ice.Default.Host"),
                        default_protocol=self.get("Ice.Default.Protocol", "tcp"),
                    )
                    for endpoint in endpoints
                )
        except EndpointParseError as exc:
            raise self._error(key, f"bad endpoint: {exc}", hint=_ENDPOINT_HINT) from exc
        return endpoints

    @overload
    def get_proxy(self, key: str) -> Proxy | None: ...
    @overload
    def get_proxy(self, key: str, default: str, *, resolve: bool = True) -> Proxy: ...
    def get_proxy(
        self, key: str, default: str | None = None, *, resolve: bool = True
    ) -> Proxy | None:
        """A proxy (`Identity:endpoints`, `Identity@Adapter`, `Identity`); None if unset.

        With `resolve`, direct endpoints are resolved for connecting (Ice.Default.Host or
        loopback for a missing host; a missing port is an error naming the file and line).
        """
        entry = self._entries.get(key)
        text = entry.value if entry is not None else default
        if text is None:
            return None
        try:
            proxy = parse_proxy(text)
            if resolve:
                proxy = resolve_proxy(
                    proxy,
                    default_host=self.get("Ice.Default.Host"),
                    default_protocol=self.get("Ice.Default.Protocol", "tcp"),
                )
        except (ProxyParseError, EndpointParseError) as exc:
            raise self._error(
                key, f"bad proxy: {exc}", hint="e.g. IceGrid/Locator:tcp -h 127.0.0.1 -p 4061"
            ) from exc
        return proxy

    @overload
    def get_path(self, key: str, prefix: Path) -> Path | None: ...
    @overload
    def get_path(self, key: str, prefix: Path, default: str) -> Path: ...
    def get_path(self, key: str, prefix: Path, default: str | None = None) -> Path | None:
        """A path; a relative one is taken relative to `prefix` (the site). None if unset."""
        entry = self._entries.get(key)
        text = entry.value if entry is not None else default
        if text is None:
            return None
        if "\0" in text:
            raise self._error(key, "a path cannot contain a NUL character")
        path = Path(text)
        return path if path.is_absolute() else prefix / path


_ENDPOINT_HINT = "e.g. tcp -h 127.0.0.1 -p 4061, several joined by ':'"
