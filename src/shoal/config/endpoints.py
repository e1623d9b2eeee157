"""Ice endpoint and proxy strings (`tcp -h H -p P -t T`, `Identity:endpoints`, `Identity@Adapter`).

The one module that parses them, following Ice 3.7 (`EndpointFactoryManager::create`,
`IPEndpointI`/`TcpEndpointI`/`UdpEndpointI`/`WSEndpoint::checkOption`, `ReferenceFactory::create`,
`Ice::stringToIdentity`, `IceUtilInternal::{splitString,checkQuote,escapeString,unescapeString}`).

Parsing is pure: a missing host or port is kept as `None` and filled in later by
`resolve_endpoint`, which knows whether the endpoint is a server's (bind) or a client's (connect).
`str()` of an `Endpoint` or a `Proxy` gives a string that parses back to an equal value. It is
Ice's canonical form except that options left at their default are not printed (Ice prints
`-t 60000`, `-t -e 1.1`), so a value read from a file prints back the way it was written.
Errors are `EndpointParseError` / `ProxyParseError` (both `ValueError`s) with Ice's wording;
`shoal.config.properties` wraps them into `ConfigError`s naming the file, line and key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import StrEnum

from shoal.config._icestrings import closing_quote, escape, parse_int32, split_words, unescape

__all__ = [
    "ANY_HOST",
    "DEFAULT_CLIENT_HOST",
    "TRANSPORTS",
    "Endpoint",
    "EndpointParseError",
    "Identity",
    "Mode",
    "Proxy",
    "ProxyOptions",
    "ProxyParseError",
    "format_endpoints",
    "parse_endpoint",
    "parse_endpoints",
    "parse_identity",
    "parse_proxy",
    "resolve_endpoint",
    "resolve_proxy",
]

#: Transports Shoal understands; `default` stands for Ice.Default.Protocol (tcp unless set).
TRANSPORTS = ("tcp", "ssl", "ws", "wss", "udp", "default")
#: `-h *`: every interface. Only valid for a server (object adapter) endpoint.
ANY_HOST = "*"
#: Where a client endpoint with no `-h` connects when Ice.Default.Host is not set.
DEFAULT_CLIENT_HOST = "127.0.0.1"

_WHITESPACE = " \t\r\n"
_VERSION_RE = re.compile(r"([0-9]+)\.([0-9]+)")


class EndpointParseError(ValueError):
    """An endpoint string is malformed; the message quotes the endpoint."""


class ProxyParseError(ValueError):
    """A proxy string (or its identity) is malformed; the message quotes the proxy."""


# --------------------------------------------------------------------------------- endpoints


@dataclass(frozen=True)
class Endpoint:
    """One endpoint as written. `None` means the option was not given (see `resolve_endpoint`).

    `timeout` is in milliseconds, -1 for `-t infinite`; `None` leaves Ice.Default.Timeout
    (60000). `resource` is ws/wss only; `connect`, `interface` and `ttl` are udp only.
    """

    transport: str
    host: str | None = None
    port: int | None = None
    timeout: int | None = None
    compress: bool = False
    source_address: str | None = None
    resource: str | None = None
    connect: bool = False
    interface: str | None = None
    ttl: int | None = None

    def __str__(self) -> str:
        # Ice's option order: IPEndpointI (-h -p --sourceAddress), then the transport's own.
        parts = [self.transport]
        if self.host is not None:
            parts += ["-h", _quote_option(self.host)]
        if self.port is not None:
            parts += ["-p", str(self.port)]
        if self.source_address is not None:
            parts += ["--sourceAddress", _quote_option(self.source_address)]
        if self.interface is not None:
            parts += ["--interface", _quote_option(self.interface)]
        if self.ttl is not None:
            parts += ["--ttl", str(self.ttl)]
        if self.connect:
            parts.append("-c")
        if self.timeout is not None:
            parts += ["-t", "infinite" if self.timeout == -1 else str(self.timeout)]
        if self.compress:
            parts.append("-z")
        if self.resource is not None:
            parts += ["-r", _quote_option(self.resource)]
        return " ".join(parts)


def _quote_option(value: str) -> str:
    # Ice quotes a host (and the like) holding ':' so it is not taken as an endpoint separator.
    return f'"{value}"' if ":" in value else value


def _check_address(value: str, option: str, quoted: str) -> str:
    if any(c in value for c in "\"'" + _WHITESPACE):
        raise EndpointParseError(
            f"invalid value `{value}' for {option} option in endpoint {quoted}"
        )
    return value


def parse_endpoint(text: str) -> Endpoint:
    """Parse one endpoint, e.g. `tcp -h 127.0.0.1 -p 4061 -t 60000` or `ssl -p 4064`."""
    try:
        words = split_words(text, _WHITESPACE)
    except ValueError:
        raise EndpointParseError(f"mismatched quote in endpoint `{text}'") from None
    if not words:
        raise EndpointParseError("endpoint has no non-whitespace characters")
    transport, args = words[0], words[1:]
    if transport == "opaque":
        raise EndpointParseError(f"opaque endpoints are not supported: `{text}'")
    if transport not in TRANSPORTS:
        raise EndpointParseError(
            f"unknown transport `{transport}' in endpoint `{text}' (expected one of "
            f"{', '.join(TRANSPORTS)})"
        )
    quoted = f"`{text.strip()}'"
    fields: dict[str, object] = {}
    index = 0
    while index < len(args):
        option = args[index]
        if len(option) < 2 or option[0] != "-":
            raise EndpointParseError(f"unrecognized argument `{option}' in endpoint {quoted}")
        argument = ""
        # Ice takes the next word as the argument unless it looks like an option.
        if index + 1 < len(args) and not args[index + 1].startswith("-"):
            index += 1
            argument = args[index]
        index += 1
        _apply_endpoint_option(transport, option, argument, quoted, fields)
    return Endpoint(transport, **fields)  # type: ignore[arg-type]


def _apply_endpoint_option(
    transport: str, option: str, argument: str, quoted: str, fields: dict[str, object]
) -> None:
    def needs_argument() -> str:
        if not argument:
            raise EndpointParseError(
                f"no argument provided for {option} option in endpoint {quoted}"
            )
        return argument

    def no_argument() -> None:
        if argument:
            raise EndpointParseError(
                f"unexpected argument `{argument}' provided for {option} option in {quoted}"
            )

    stream = transport in ("tcp", "ssl", "ws", "wss", "default")
    if option == "-h":
        fields["host"] = _check_address(needs_argument(), option, quoted)
    elif option == "-p":
        port = parse_int32(needs_argument())
        if port is None:
            raise EndpointParseError(f"invalid port value `{argument}' in endpoint {quoted}")
        if not 0 <= port <= 65535:
            raise EndpointParseError(f"port value `{argument}' out of range in endpoint {quoted}")
        fields["port"] = port
    elif option == "--sourceAddress":
        fields["source_address"] = _check_address(needs_argument(), option, quoted)
    elif option == "-z":
        no_argument()
        fields["compress"] = True
    elif option == "-t" and stream:
        value = needs_argument()
        timeout = -1 if value == "infinite" else parse_int32(value)
        if timeout is None or (timeout < 1 and value != "infinite"):
            raise EndpointParseError(
                f"invalid timeout value `{value}' in endpoint {quoted} "
                "(expected milliseconds >= 1 or `infinite')"
            )
        fields["timeout"] = timeout
    elif option == "-r" and transport in ("ws", "wss"):
        fields["resource"] = _check_address(needs_argument(), option, quoted)
    elif option == "-c" and transport == "udp":
        no_argument()
        fields["connect"] = True
    elif option == "--interface" and transport == "udp":
        fields["interface"] = _check_address(needs_argument(), option, quoted)
    elif option == "--ttl" and transport == "udp":
        ttl = parse_int32(needs_argument())
        if ttl is None:
            raise EndpointParseError(f"invalid TTL value `{argument}' in endpoint {quoted}")
        fields["ttl"] = ttl
    else:
        raise EndpointParseError(f"unrecognized argument `{option}' in endpoint {quoted}")


def _split_endpoint_list(text: str) -> list[str]:
    """Split on ':' outside double quotes, as ObjectAdapterI::parseEndpoints does."""
    pieces: list[str] = []
    current: list[str] = []
    in_quotes = False
    for char in text:
        if char == '"':
            in_quotes = not in_quotes
        if char == ":" and not in_quotes:
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
    pieces.append("".join(current))
    return pieces


def parse_endpoints(text: str) -> tuple[Endpoint, ...]:
    """Parse `:`-separated endpoints (`tcp -p 4063:ssl -p 4064`); blank text gives ()."""
    if not text.strip(_WHITESPACE):
        return ()
    endpoints = []
    for piece in _split_endpoint_list(text):
        if not piece.strip(_WHITESPACE):
            raise EndpointParseError(f"empty endpoint in `{text}'")
        endpoints.append(parse_endpoint(piece))
    return tuple(endpoints)


def format_endpoints(endpoints: tuple[Endpoint, ...] | list[Endpoint]) -> str:
    """The inverse of `parse_endpoints`."""
    return ":".join(str(endpoint) for endpoint in endpoints)


def resolve_endpoint(
    endpoint: Endpoint,
    *,
    for_server: bool,
    default_host: str = "",
    default_protocol: str = "tcp",
) -> Endpoint:
    """Fill in what Ice fills in when the endpoint is used.

    Server side (an adapter binding): no `-h` means Ice.Default.Host if set, else every interface
    (`ANY_HOST`, as `-h *`); no `-p` means port 0, any free port. `--sourceAddress` is refused.
    Client side (a proxy connecting): no `-h` means Ice.Default.Host if set, else the loopback
    address; `-h *` is refused, and so is a missing `-p` ("no port"). `default` becomes
    `default_protocol` (Ice.Default.Protocol) on both sides.
    """
    transport = default_protocol if endpoint.transport == "default" else endpoint.transport
    if transport not in TRANSPORTS or transport == "default":
        raise EndpointParseError(f"invalid default protocol `{default_protocol}'")
    host = endpoint.host if endpoint.host is not None else default_host or None
    port = endpoint.port
    if for_server:
        if endpoint.source_address is not None:
            raise EndpointParseError(
                f"`--sourceAddress' not valid for server endpoint `{endpoint}'"
            )
        host = host or ANY_HOST
        port = 0 if port is None else port
    else:
        if host == ANY_HOST:
            raise EndpointParseError(f"`-h *' not valid for client endpoint `{endpoint}'")
        host = host or DEFAULT_CLIENT_HOST
        if port is None:
            raise EndpointParseError(f"no port in client endpoint `{endpoint}' (add -p PORT)")
        if port == 0:
            raise EndpointParseError(f"port 0 is not valid for client endpoint `{endpoint}'")
    return replace(endpoint, transport=transport, host=host, port=port)


# --------------------------------------------------------------------------------- identities


@dataclass(frozen=True, order=True)
class Identity:
    """An Ice object identity, `category/name` (category may be empty, the name may not)."""

    name: str
    category: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise ProxyParseError(f"identity `{self.category}/' has an empty name")

    def __str__(self) -> str:
        # Ice::identityToString: escape, with '/' special in both parts.
        if not self.category:
            return escape(self.name, "/")
        return f"{escape(self.category, '/')}/{escape(self.name, '/')}"


def parse_identity(text: str) -> Identity:
    """Ice::stringToIdentity: `name` or `category/name`, with Ice escapes; one unescaped '/'."""
    slash = -1
    for pos, char in enumerate(text):
        if char != "/":
            continue
        backslashes = 0
        while pos - backslashes > 0 and text[pos - backslashes - 1] == "\\":
            backslashes += 1
        if backslashes % 2:
            continue
        if slash >= 0:
            raise ProxyParseError(f"unescaped '/' in identity `{text}'")
        slash = pos
    try:
        if slash < 0:
            category, name = "", unescape(text, "/")
        else:
            category = unescape(text[:slash], "/")
            name = unescape(text[slash + 1 :], "/")
    except ValueError as exc:
        raise ProxyParseError(f"invalid identity `{text}': {exc}") from exc
    if not name:
        raise ProxyParseError(f"identity `{text}' has an empty name")
    return Identity(name=name, category=category)


# ------------------------------------------------------------------------------------ proxies


class Mode(StrEnum):
    """Invocation mode: proxy options -t (default), -o, -O, -d, -D."""

    TWOWAY = "twoway"
    ONEWAY = "oneway"
    BATCH_ONEWAY = "batch-oneway"
    DATAGRAM = "datagram"
    BATCH_DATAGRAM = "batch-datagram"


_MODE_FLAGS = {
    "-t": Mode.TWOWAY,
    "-o": Mode.ONEWAY,
    "-O": Mode.BATCH_ONEWAY,
    "-d": Mode.DATAGRAM,
    "-D": Mode.BATCH_DATAGRAM,
}
_FLAG_OF_MODE = {mode: flag for flag, mode in _MODE_FLAGS.items()}


@dataclass(frozen=True)
class ProxyOptions:
    """Proxy options between the identity and the endpoints. `None` versions mean Ice's default."""

    facet: str = ""
    mode: Mode = Mode.TWOWAY
    secure: bool = False
    encoding: str | None = None
    protocol: str | None = None


@dataclass(frozen=True)
class Proxy:
    """A stringified proxy: well-known (identity only), direct (endpoints) or indirect (adapter)."""

    identity: Identity
    endpoints: tuple[Endpoint, ...] = ()
    adapter_id: str | None = None
    options: ProxyOptions = field(default_factory=ProxyOptions)

    def __post_init__(self) -> None:
        if self.endpoints and self.adapter_id is not None:
            raise ProxyParseError("a proxy has endpoints or an adapter id, not both")
        if self.adapter_id == "":
            raise ProxyParseError("empty adapter id")

    @property
    def is_direct(self) -> bool:
        return bool(self.endpoints)

    @property
    def is_indirect(self) -> bool:
        """Located through the registry: by adapter id, or a well-known object."""
        return not self.endpoints

    @property
    def is_well_known(self) -> bool:
        return not self.endpoints and self.adapter_id is None

    def __str__(self) -> str:
        parts = [_quote_proxy_word(str(self.identity))]
        options = self.options
        if options.facet:
            facet = escape(options.facet, "")
            # A facet starting with '-' would read back as the next option: quote it too.
            parts += ["-f", f'"{facet}"' if facet.startswith("-") else _quote_proxy_word(facet)]
        if options.mode is not Mode.TWOWAY:
            parts.append(_FLAG_OF_MODE[options.mode])
        if options.secure:
            parts.append("-s")
        if options.protocol is not None:
            parts += ["-p", options.protocol]
        if options.encoding is not None:
            parts += ["-e", options.encoding]
        text = " ".join(parts)
        if self.endpoints:
            return f"{text}:{format_endpoints(self.endpoints)}"
        if self.adapter_id is not None:
            return f"{text}@{_quote_proxy_word(escape(self.adapter_id, ''))}"
        return text


def _quote_proxy_word(escaped: str) -> str:
    # Reference::toString quotes a part holding a character the proxy parser splits on.
    return f'"{escaped}"' if any(c in escaped for c in " :@\t\r\n") else escaped


def _find_first_of(text: str, chars: str, start: int) -> int:
    for pos in range(start, len(text)):
        if text[pos] in chars:
            return pos
    return len(text)


def _find_first_not_of(text: str, chars: str, start: int) -> int:
    for pos in range(start, len(text)):
        if text[pos] not in chars:
            return pos
    return -1


def _read_word(text: str, start: int, stops: str, what: str) -> tuple[str, int]:
    """A word that may be quoted; returns it (still escaped) and the index after it."""
    closing = closing_quote(text, start)
    if closing < 0:
        raise ProxyParseError(f"mismatched quotes around {what} in `{text}'")
    if closing == 0:
        end = _find_first_of(text, stops, start)
        return text[start:end], end
    return text[start + 1 : closing], closing + 1


def _parse_version(value: str, option: str, what: str, text: str) -> str:
    match = _VERSION_RE.fullmatch(value)
    if match is None or int(match[1]) > 255 or int(match[2]) > 255:
        raise ProxyParseError(
            f"invalid {what} version `{value}' for {option} in `{text}' (expected MAJOR.MINOR)"
        )
    return value


def parse_proxy(text: str) -> Proxy:
    """Parse a stringified proxy, e.g. `IceGrid/Locator:tcp -h 127.0.0.1 -p 4061`."""
    delims = _WHITESPACE
    begin = _find_first_not_of(text, delims, 0)
    if begin < 0:
        raise ProxyParseError(f"no non-whitespace characters found in `{text}'")
    id_text, end = _read_word(text, begin, delims + ":@", "identity")
    if not id_text:
        raise ProxyParseError(f"no identity in `{text}'")
    identity = parse_identity(id_text)

    fields: dict[str, object] = {}
    while True:
        begin = _find_first_not_of(text, delims, end)
        if begin < 0 or text[begin] in ":@":
            break
        end = _find_first_of(text, delims + ":@", begin)
        option = text[begin:end]
        if len(option) != 2 or option[0] != "-":
            raise ProxyParseError(f"expected a proxy option but found `{option}' in `{text}'")
        argument = ""
        argument_begin = _find_first_not_of(text, delims, end)
        if argument_begin >= 0 and text[argument_begin] not in "@:-":
            argument, end = _read_word(
                text, argument_begin, delims + ":@", f"value for {option} option"
            )
        _apply_proxy_option(option, argument, text, fields)
    options = ProxyOptions(**fields)  # type: ignore[arg-type]

    if begin < 0:
        return Proxy(identity, options=options)
    if text[begin] == ":":
        try:
            endpoints = parse_endpoints(text[begin + 1 :])
        except EndpointParseError as exc:
            raise ProxyParseError(f"{exc} in proxy `{text}'") from exc
        if not endpoints:
            raise ProxyParseError(f"no endpoint after ':' in `{text}'")
        return Proxy(identity, endpoints=endpoints, options=options)
    # '@': an adapter id, possibly quoted, then nothing.
    begin = _find_first_not_of(text, delims, begin + 1)
    if begin < 0:
        raise ProxyParseError(f"missing adapter id in `{text}'")
    adapter_text, end = _read_word(text, begin, delims, "adapter id")
    if _find_first_not_of(text, delims, end) >= 0:
        raise ProxyParseError(f"invalid trailing characters after `{text[: end + 1]}' in `{text}'")
    try:
        adapter_id = unescape(adapter_text, "")
    except ValueError as exc:
        raise ProxyParseError(f"invalid adapter id in `{text}': {exc}") from exc
    if not adapter_id:
        raise ProxyParseError(f"empty adapter id in `{text}'")
    return Proxy(identity, adapter_id=adapter_id, options=options)


def _apply_proxy_option(option: str, argument: str, text: str, fields: dict[str, object]) -> None:
    if option in _MODE_FLAGS or option == "-s":
        if argument:
            raise ProxyParseError(
                f"unexpected argument `{argument}' provided for {option} option in `{text}'"
            )
        if option == "-s":
            fields["secure"] = True
        else:
            fields["mode"] = _MODE_FLAGS[option]
        return
    if option not in ("-f", "-e", "-p"):
        raise ProxyParseError(f"unknown option `{option}' in `{text}'")
    if not argument:
        raise ProxyParseError(f"no argument provided for {option} option in `{text}'")
    if option == "-f":
        try:
            fields["facet"] = unescape(argument, "")
        except ValueError as exc:
            raise ProxyParseError(f"invalid facet in `{text}': {exc}") from exc
    elif option == "-e":
        fields["encoding"] = _parse_version(argument, option, "encoding", text)
    else:
        fields["protocol"] = _parse_version(argument, option, "protocol", text)


def resolve_proxy(proxy: Proxy, *, default_host: str = "", default_protocol: str = "tcp") -> Proxy:
    """A proxy's endpoints resolved for connecting (see `resolve_endpoint`, client side)."""
    endpoints = tuple(
        resolve_endpoint(
            endpoint, for_server=False, default_host=default_host, default_protocol=default_protocol
        )
        for endpoint in proxy.endpoints
    )
    return replace(proxy, endpoints=endpoints)
