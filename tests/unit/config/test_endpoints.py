"""Endpoint and proxy strings: Ice 3.7's syntax, Shoal's canonical printing, resolution."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shoal.config.endpoints import (
    ANY_HOST,
    DEFAULT_CLIENT_HOST,
    Endpoint,
    EndpointParseError,
    Identity,
    Mode,
    Proxy,
    ProxyOptions,
    ProxyParseError,
    format_endpoints,
    parse_endpoint,
    parse_endpoints,
    parse_identity,
    parse_proxy,
    resolve_endpoint,
    resolve_proxy,
)

# ------------------------------------------------------------------------------ endpoints


def test_full_tcp_endpoint_parses_every_option() -> None:
    endpoint = parse_endpoint("tcp -h 127.0.0.1 -p 4061 -t 60000 -z --sourceAddress 10.0.0.1")
    assert endpoint == Endpoint(
        "tcp", host="127.0.0.1", port=4061, timeout=60000, compress=True, source_address="10.0.0.1"
    )


def test_endpoint_prints_in_ice_option_order() -> None:
    endpoint = parse_endpoint("tcp -z -t 5 --sourceAddress 10.0.0.1 -p 4063 -h example.org")
    assert str(endpoint) == "tcp -h example.org -p 4063 --sourceAddress 10.0.0.1 -t 5 -z"


def test_options_not_given_are_not_printed() -> None:
    assert str(parse_endpoint("ssl -p 4064")) == "ssl -p 4064"
    assert str(parse_endpoint("  default  ")) == "default"


def test_infinite_timeout_is_minus_one_and_prints_back() -> None:
    endpoint = parse_endpoint("tcp -t infinite")
    assert endpoint.timeout == -1
    assert str(endpoint) == "tcp -t infinite"


def test_ipv6_host_is_quoted_and_kept_whole_in_a_list() -> None:
    endpoints = parse_endpoints('tcp -h "::1" -p 4061:ssl -h "fe80::1%eth0" -p 4064')
    assert [e.host for e in endpoints] == ["::1", "fe80::1%eth0"]
    assert format_endpoints(endpoints) == 'tcp -h "::1" -p 4061:ssl -h "fe80::1%eth0" -p 4064'


def test_single_quotes_are_removed_like_double_quotes() -> None:
    assert parse_endpoint("tcp -h 'example.org' -p 1").host == "example.org"


def test_several_endpoints_join_with_colons() -> None:
    endpoints = parse_endpoints("tcp -h 127.0.0.1 -p 4061 -t 60000:ssl -p 4064")
    assert endpoints == (
        Endpoint("tcp", host="127.0.0.1", port=4061, timeout=60000),
        Endpoint("ssl", port=4064),
    )


def test_blank_endpoint_list_is_empty() -> None:
    assert parse_endpoints("") == ()
    assert parse_endpoints(" \t ") == ()


def test_ws_resource_and_udp_options() -> None:
    assert parse_endpoint("wss -p 443 -r /grid").resource == "/grid"
    udp = parse_endpoint('udp -h 239.255.0.1 -p 4061 -c --ttl 5 --interface "::1" -z')
    assert (udp.connect, udp.ttl, udp.interface, udp.compress) == (True, 5, "::1", True)
    assert parse_endpoint(str(udp)) == udp


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tcp -p 70000", "port value `70000' out of range in endpoint `tcp -p 70000'"),
        ("tcp -p 40x", "invalid port value `40x' in endpoint `tcp -p 40x'"),
        ("tcp -p", "no argument provided for -p option in endpoint `tcp -p'"),
        ("tcp -p -1", "no argument provided for -p option"),
        ("tcp -h", "no argument provided for -h option"),
        ('tcp -h ""', "no argument provided for -h option"),
        ("tcp -t 0", "invalid timeout value `0'"),
        ("tcp -t soon", "invalid timeout value `soon'"),
        ("tcp -t", "no argument provided for -t option"),
        ("tcp -z 1", "unexpected argument `1' provided for -z option"),
        ("tcp -x", "unrecognized argument `-x' in endpoint `tcp -x'"),
        ("tcp 4061", "unrecognized argument `4061'"),
        ("tcp -r /a", "unrecognized argument `-r'"),
        ("udp -t 5", "unrecognized argument `-t'"),
        ("udp -c x", "unexpected argument `x' provided for -c option"),
        ("udp --ttl many", "invalid TTL value `many'"),
        ("udp --interface", "no argument provided for --interface option"),
        ("ws -r", "no argument provided for -r option"),
        ("tcp --sourceAddress", "no argument provided for --sourceAddress option"),
        ("tcp -h a'b", "mismatched quote"),
        ('tcp -h "a b"', "invalid value `a b' for -h option"),
        ("http -p 80", "unknown transport `http'"),
        ("opaque -t 1 -v abc", "opaque endpoints are not supported"),
        ("", "no non-whitespace characters"),
    ],
)
def test_malformed_endpoint_is_refused_with_ices_wording(text: str, message: str) -> None:
    with pytest.raises(EndpointParseError) as caught:
        parse_endpoint(text)
    assert message in str(caught.value)


def test_empty_endpoint_between_colons_is_refused() -> None:
    with pytest.raises(EndpointParseError, match="empty endpoint in `tcp -p 1::ssl -p 2'"):
        parse_endpoints("tcp -p 1::ssl -p 2")


def test_endpoint_parse_error_is_a_value_error() -> None:
    assert issubclass(EndpointParseError, ValueError)
    assert issubclass(ProxyParseError, ValueError)


# ------------------------------------------------------------------------------ resolution


def test_missing_port_on_server_endpoint_binds_any_port() -> None:
    resolved = resolve_endpoint(parse_endpoint("tcp -h 10.0.0.5"), for_server=True)
    assert resolved.port == 0


def test_missing_host_on_server_endpoint_binds_every_interface() -> None:
    resolved = resolve_endpoint(parse_endpoint("tcp -p 4061"), for_server=True)
    assert resolved.host == ANY_HOST


def test_missing_host_on_server_endpoint_uses_default_host_when_set() -> None:
    resolved = resolve_endpoint(
        parse_endpoint("tcp -p 4061"), for_server=True, default_host="10.0.0.5"
    )
    assert resolved.host == "10.0.0.5"


def test_star_host_on_server_endpoint_is_every_interface() -> None:
    resolved = resolve_endpoint(parse_endpoint("tcp -h * -p 1"), for_server=True)
    assert resolved.host == ANY_HOST


def test_missing_host_on_client_endpoint_connects_to_loopback() -> None:
    resolved = resolve_endpoint(parse_endpoint("tcp -p 4061"), for_server=False)
    assert resolved.host == DEFAULT_CLIENT_HOST == "127.0.0.1"


def test_missing_host_on_client_endpoint_uses_default_host_when_set() -> None:
    resolved = resolve_endpoint(
        parse_endpoint("ssl -p 4064"), for_server=False, default_host="grid.example.org"
    )
    assert resolved.host == "grid.example.org"


def test_missing_port_on_client_endpoint_is_an_error() -> None:
    with pytest.raises(EndpointParseError, match="no port in client endpoint `tcp -h h'"):
        resolve_endpoint(parse_endpoint("tcp -h h"), for_server=False)


def test_port_zero_on_client_endpoint_is_an_error() -> None:
    with pytest.raises(EndpointParseError, match="port 0 is not valid"):
        resolve_endpoint(parse_endpoint("tcp -p 0"), for_server=False)


def test_star_host_on_client_endpoint_is_an_error() -> None:
    with pytest.raises(EndpointParseError, match="`-h \\*' not valid for client endpoint"):
        resolve_endpoint(parse_endpoint("tcp -h * -p 1"), for_server=False)


def test_source_address_on_server_endpoint_is_an_error() -> None:
    with pytest.raises(EndpointParseError, match="--sourceAddress' not valid for server"):
        resolve_endpoint(parse_endpoint("tcp -p 1 --sourceAddress 1.2.3.4"), for_server=True)


def test_default_transport_resolves_to_default_protocol() -> None:
    endpoint = parse_endpoint("default -p 1")
    assert resolve_endpoint(endpoint, for_server=False).transport == "tcp"
    assert resolve_endpoint(endpoint, for_server=False, default_protocol="ssl").transport == "ssl"


def test_unknown_default_protocol_is_an_error() -> None:
    with pytest.raises(EndpointParseError, match="invalid default protocol `http'"):
        resolve_endpoint(parse_endpoint("default -p 1"), for_server=True, default_protocol="http")


def test_resolving_a_proxy_resolves_its_endpoints_for_connecting() -> None:
    proxy = resolve_proxy(parse_proxy("IceGrid/Locator:tcp -p 4061"), default_host="master")
    assert proxy.endpoints == (Endpoint("tcp", host="master", port=4061),)


# ------------------------------------------------------------------------------ identities


def test_identity_with_category() -> None:
    assert parse_identity("IceGrid/Locator") == Identity(name="Locator", category="IceGrid")
    assert str(Identity(name="Locator", category="IceGrid")) == "IceGrid/Locator"


def test_identity_without_category() -> None:
    assert parse_identity("Jobs") == Identity(name="Jobs")


def test_escaped_slash_belongs_to_the_name() -> None:
    assert parse_identity("a\\/b") == Identity(name="a/b")
    assert str(Identity(name="a/b")) == "a\\/b"
    assert parse_identity("c\\\\/n") == Identity(name="n", category="c\\")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("\\x41\\101\\u0042\\U00000043", "AABC"),
        ("\\t\\n\\'\\\"\\?", "\t\n'\"?"),
        ("a\\q", "a\\q"),
        ("a\\", "a\\"),
        ("\\xc3\\xa9", "é"),
        ("é", "é"),
    ],
)
def test_identity_escapes_follow_ice(text: str, name: str) -> None:
    assert parse_identity(text).name == name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a/b/c", "unescaped '/' in identity `a/b/c'"),
        ("cat/", "identity `cat/' has an empty name"),
        ("a\\u12", "too few hex digits"),
        ("a\\xzz", "no hex digit"),
        ("a\\777", "out of range"),
        ("a\\xff", "valid UTF-8"),
        ("a\\uD800", "Invalid universal character name"),
        ("a\tb", "has invalid ordinal value 9"),
        ("\x01", "first character has invalid ordinal value 1"),
        ("a\\\x01", "invalid ordinal value 1"),
    ],
)
def test_malformed_identity_is_refused(text: str, message: str) -> None:
    with pytest.raises(ProxyParseError) as caught:
        parse_identity(text)
    assert message in str(caught.value)


def test_identity_needs_a_name() -> None:
    with pytest.raises(ProxyParseError, match="empty name"):
        Identity(name="", category="c")


# ------------------------------------------------------------------------------ proxies


def test_direct_locator_proxy_from_internal_cfg() -> None:
    proxy = parse_proxy("IceGrid/Locator:tcp -h 127.0.0.1 -p 4061")
    assert proxy.identity == Identity(name="Locator", category="IceGrid")
    assert proxy.endpoints == (Endpoint("tcp", host="127.0.0.1", port=4061),)
    assert proxy.is_direct and not proxy.is_indirect and not proxy.is_well_known
    assert str(proxy) == "IceGrid/Locator:tcp -h 127.0.0.1 -p 4061"


def test_router_proxy_from_ice_config_prints_canonically() -> None:
    proxy = parse_proxy("OMERO.Glacier2/router:tcp -p 4063 -h 192.168.0.1")
    assert proxy.identity == Identity(name="router", category="OMERO.Glacier2")
    assert str(proxy) == "OMERO.Glacier2/router:tcp -h 192.168.0.1 -p 4063"


def test_well_known_proxy_is_only_an_identity() -> None:
    proxy = parse_proxy("IceGrid/NullPermissionsVerifier")
    assert proxy.is_well_known and proxy.is_indirect
    assert proxy.adapter_id is None and proxy.endpoints == ()


def test_indirect_proxy_names_an_adapter() -> None:
    proxy = parse_proxy("BlitzVerifier@BlitzAdapters")
    assert proxy.adapter_id == "BlitzAdapters"
    assert proxy.is_indirect and not proxy.is_well_known
    assert str(proxy) == "BlitzVerifier@BlitzAdapters"


def test_quoted_adapter_id_and_identity_with_spaces() -> None:
    proxy = parse_proxy('"my object" @ "my adapter"')
    assert proxy.identity == Identity(name="my object")
    assert proxy.adapter_id == "my adapter"
    assert str(proxy) == '"my object"@"my adapter"'


def test_unquoted_adapter_id_may_hold_a_colon() -> None:
    assert parse_proxy("o@a:b").adapter_id == "a:b"


def test_proxy_options_between_identity_and_endpoints() -> None:
    proxy = parse_proxy("Jobs -f admin -o -s -e 1.1 -p 1.0:ssl -p 4064")
    assert proxy.options == ProxyOptions(
        facet="admin", mode=Mode.ONEWAY, secure=True, encoding="1.1", protocol="1.0"
    )
    assert str(proxy) == "Jobs -f admin -o -s -p 1.0 -e 1.1:ssl -p 4064"


@pytest.mark.parametrize(
    ("flag", "mode"),
    [
        ("-t", Mode.TWOWAY),
        ("-o", Mode.ONEWAY),
        ("-O", Mode.BATCH_ONEWAY),
        ("-d", Mode.DATAGRAM),
        ("-D", Mode.BATCH_DATAGRAM),
    ],
)
def test_mode_flags(flag: str, mode: Mode) -> None:
    assert parse_proxy(f"x {flag}").options.mode is mode


def test_quoted_facet_with_spaces_round_trips() -> None:
    proxy = parse_proxy("x -f 'my facet'")
    assert proxy.options.facet == "my facet"
    assert parse_proxy(str(proxy)) == proxy


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no non-whitespace characters"),
        ("   ", "no non-whitespace characters"),
        ('""', "no identity"),
        ('"abc', "mismatched quotes around identity"),
        ("x -q", "unknown option `-q'"),
        ("x -ss", "expected a proxy option but found `-ss'"),
        ("x foo", "expected a proxy option but found `foo'"),
        ("x -t yes", "unexpected argument `yes' provided for -t option"),
        ("x -s yes", "unexpected argument `yes' provided for -s option"),
        ("x -f", "no argument provided for -f option"),
        ("x -f 'abc", "mismatched quotes around value for -f option"),
        ("x -f \\x", "invalid facet"),
        ("x -e one", "invalid encoding version `one'"),
        ("x -p 1.256", "invalid protocol version `1.256'"),
        ("x@", "missing adapter id"),
        ('x@""', "empty adapter id"),
        ('x@"abc', "mismatched quotes around adapter id"),
        ("x@a b", "invalid trailing characters after `x@a '"),
        ("x@\\xff", "invalid adapter id"),
        ("x:", "no endpoint after ':'"),
        ("x:tcp -p 1:", "empty endpoint"),
        ("x:tcp -p 99999", "out of range"),
        ("a/b/c:tcp -p 1", "unescaped '/'"),
    ],
)
def test_malformed_proxy_is_refused(text: str, message: str) -> None:
    with pytest.raises(ProxyParseError) as caught:
        parse_proxy(text)
    assert message in str(caught.value)


def test_proxy_cannot_have_both_endpoints_and_adapter() -> None:
    with pytest.raises(ProxyParseError, match="not both"):
        Proxy(Identity("x"), endpoints=(Endpoint("tcp"),), adapter_id="a")
    with pytest.raises(ProxyParseError, match="empty adapter id"):
        Proxy(Identity("x"), adapter_id="")


def test_quote_after_escaped_backslash_closes_the_identity() -> None:
    # Ice's checkQuote would take `\\"` for an escaped quote; Shoal counts the backslashes.
    proxy = Proxy(Identity(name="x \\"))
    assert str(proxy) == '"x \\\\"'
    assert parse_proxy(str(proxy)) == proxy


# ------------------------------------------------------------------------------ round trips

_HOSTS = st.one_of(
    st.text(string.ascii_lowercase + string.digits + ".-", min_size=1, max_size=20).filter(
        lambda h: not h.startswith("-")
    ),
    st.just("::1"),
    st.just("fe80::1%eth0"),
    st.just(ANY_HOST),
)
_PORTS = st.none() | st.integers(0, 65535)


@st.composite
def endpoints(draw: st.DrawFn) -> Endpoint:
    transport = draw(st.sampled_from(["tcp", "ssl", "ws", "wss", "udp", "default"]))
    udp = transport == "udp"
    return Endpoint(
        transport,
        host=draw(st.none() | _HOSTS),
        port=draw(_PORTS),
        timeout=None if udp else draw(st.none() | st.just(-1) | st.integers(1, 2**31 - 1)),
        compress=draw(st.booleans()),
        source_address=draw(st.none() | st.just("10.0.0.1") | st.just("::1")),
        resource=draw(st.none() | st.just("/a:b")) if transport in ("ws", "wss") else None,
        connect=draw(st.booleans()) if udp else False,
        interface=draw(st.none() | st.just("eth0") | st.just("::1")) if udp else None,
        ttl=draw(st.none() | st.integers(0, 255)) if udp else None,
    )


_NAMES = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)


@st.composite
def proxies(draw: st.DrawFn) -> Proxy:
    identity = Identity(name=draw(_NAMES), category=draw(st.just("") | _NAMES))
    options = ProxyOptions(
        facet=draw(st.just("") | _NAMES),
        mode=draw(st.sampled_from(list(Mode))),
        secure=draw(st.booleans()),
        encoding=draw(st.none() | st.just("1.0") | st.just("1.1")),
        protocol=draw(st.none() | st.just("1.0")),
    )
    kind = draw(st.sampled_from(["well-known", "direct", "indirect"]))
    if kind == "direct":
        return Proxy(
            identity,
            endpoints=tuple(draw(st.lists(endpoints(), min_size=1, max_size=3))),
            options=options,
        )
    if kind == "indirect":
        return Proxy(identity, adapter_id=draw(_NAMES), options=options)
    return Proxy(identity, options=options)


@given(st.lists(endpoints(), min_size=1, max_size=4))
def test_endpoints_round_trip_through_their_string(values: list[Endpoint]) -> None:
    assert parse_endpoints(format_endpoints(values)) == tuple(values)


@given(proxies())
def test_proxies_round_trip_through_their_string(proxy: Proxy) -> None:
    assert parse_proxy(str(proxy)) == proxy


def test_octal_escape_reads_at_most_three_digits() -> None:
    assert parse_identity("\\1014").name == "A4"
    assert parse_identity("\\60x").name == "0x"


def test_escaped_quote_inside_a_quoted_identity() -> None:
    assert parse_proxy('"a\\"b c"').identity == Identity(name='a"b c')


@pytest.mark.parametrize("facet", ["-", "-o", "-x y"])
def test_a_facet_starting_with_a_dash_is_quoted_so_it_reads_back(facet: str) -> None:
    """Unquoted, `-f -o` would read as `-f` with no argument, then the oneway flag."""
    proxy = Proxy(Identity("obj"), options=ProxyOptions(facet=facet))
    assert str(proxy) == f'obj -f "{facet}"'
    assert parse_proxy(str(proxy)) == proxy
