"""The one place that makes grpc.aio servers and channels: endpoints, TLS, size limits, keepalive.

Endpoints are Ice's (`tcp -h 127.0.0.1 -p 4061`, `ssl -p 4064`), parsed by
shoal.config.endpoints; `tcp` is plaintext and `ssl` is TLS from IceSSL-style settings
(`TlsConfig`). Every server and channel caps messages at Ice.MessageSizeMax (KB) in both
directions, and every server maps ShoalErrors raised by servicers to gRPC status
(shoal.rpc.errors.ErrorInterceptor).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

import grpc
import grpc.aio

from shoal.config.endpoints import (
    ANY_HOST,
    Endpoint,
    EndpointParseError,
    format_endpoints,
    parse_endpoint,
    resolve_endpoint,
)
from shoal.errors import ConfigError
from shoal.rpc.errors import ErrorInterceptor
from shoal.rpc.tls import (
    TlsConfig,
    check_transport,
    message_size_max_bytes,
    server_endpoints,
)

__all__ = [
    "DEFAULT_MESSAGE_SIZE_MAX_KB",
    "TlsConfig",
    "channel_options",
    "describe_endpoints",
    "make_channel",
    "make_server",
    "message_size_max_bytes",
    "server_options",
]

#: Ice.MessageSizeMax (KB) when not set: 64 MB, as OMERO configures it (Ice's own is 1024).
DEFAULT_MESSAGE_SIZE_MAX_KB = 65536

# Dead-peer detection for long-lived streams (WatchServers, output --follow, node sessions):
# a client pings every 30 s, even when idle, and gives up after 10 s without an answer.
# Servers accept pings up to every 10 s, so a client never gets "too many pings".
_KEEPALIVE_TIME_MS = 30_000
_KEEPALIVE_TIMEOUT_MS = 10_000
_MIN_RECV_PING_INTERVAL_MS = 10_000
# Room for ErrorDetail trailers (shoal.rpc.errors bounds them well below this).
_MAX_METADATA_BYTES = 64 * 1024


def _common_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_metadata_size", _MAX_METADATA_BYTES),
        ("grpc.keepalive_time_ms", _KEEPALIVE_TIME_MS),
        ("grpc.keepalive_timeout_ms", _KEEPALIVE_TIMEOUT_MS),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ]


def server_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    """The options of every Shoal server (exposed for tests and diagnostics)."""
    return [
        *_common_options(max_message_bytes),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", _MIN_RECV_PING_INTERVAL_MS),
        # gRPC sets SO_REUSEPORT by default on Linux: a second registry could then bind the
        # same port and share its traffic. Ice refuses that; so do we.
        ("grpc.so_reuseport", 0),
    ]


def channel_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    """The options of every Shoal channel."""
    return [*_common_options(max_message_bytes), ("grpc.enable_retries", 0)]


def _address(host: str, port: int) -> str:
    if host == ANY_HOST:
        host = "[::]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def make_server(
    endpoints: str | Iterable[Endpoint],
    *,
    max_message_bytes: int,
    tls: TlsConfig | None = None,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> tuple[grpc.aio.Server, tuple[Endpoint, ...]]:
    """A grpc.aio server bound to every endpoint (not started), and the endpoints as bound.

    A port 0 (or no `-p`) binds a free port; the returned endpoints carry the real ports, in
    the order given, for publishing (node endpoints, registry endpoints in diagnostics).
    Servicers are added by the caller, then `await server.start()`. Call it from the event
    loop that will run the server (grpc.aio binds the server to it).
    """
    # Check everything (and read the TLS files) before making the server: all or nothing.
    resolved = server_endpoints(endpoints, tls)
    credentials = None
    if tls is not None and any(endpoint.transport == "ssl" for endpoint in resolved):
        credentials = tls.server_credentials()

    server = grpc.aio.server(
        interceptors=[ErrorInterceptor(), *interceptors],
        options=server_options(max_message_bytes),
    )
    bound: list[Endpoint] = []
    for endpoint in resolved:
        assert endpoint.host is not None and endpoint.port is not None  # resolve fills both
        address = _address(endpoint.host, endpoint.port)
        try:
            if endpoint.transport == "ssl":
                port = server.add_secure_port(address, credentials)
            else:
                port = server.add_insecure_port(address)
        except RuntimeError:
            port = 0
        if port == 0:
            raise ConfigError(
                f"cannot listen on `{endpoint}'",
                hint=f"is another process (a registry or node already running?) using port "
                f"{endpoint.port}? Or is {endpoint.host} not an address of this host?",
            )
        bound.append(replace(endpoint, port=port))
    return server, tuple(bound)


def make_channel(
    endpoint: str | Endpoint,
    *,
    max_message_bytes: int,
    tls: TlsConfig | None = None,
) -> grpc.aio.Channel:
    """A grpc.aio channel to one endpoint (the caller closes it: `await channel.close()`).

    The connection is made lazily on the first call; an unreachable peer surfaces as that
    call's error (see shoal.rpc.errors.translate_errors).
    """
    if isinstance(endpoint, str):
        try:
            endpoint = parse_endpoint(endpoint)
        except EndpointParseError as exc:
            raise ConfigError(str(exc)) from exc
    try:
        resolved = resolve_endpoint(endpoint, for_server=False)
    except EndpointParseError as exc:
        raise ConfigError(str(exc)) from exc
    check_transport(resolved, tls)
    assert resolved.host is not None and resolved.port is not None
    target = _address(resolved.host, resolved.port)
    options = channel_options(max_message_bytes)
    compression = grpc.Compression.Gzip if resolved.compress else None
    if resolved.transport == "ssl":
        assert tls is not None
        if tls.server_name:
            options.append(("grpc.ssl_target_name_override", tls.server_name))
        return grpc.aio.secure_channel(
            target, tls.channel_credentials(), options=options, compression=compression
        )
    return grpc.aio.insecure_channel(target, options=options, compression=compression)


def describe_endpoints(endpoints: Iterable[Endpoint]) -> str:
    """Ice's string form of bound endpoints, e.g. for NodeInfo.endpoints."""
    return format_endpoints(tuple(endpoints))
