"""Call grid servers from Python: resolve proxies through the locator (cached), reuse channels.

    async with Client.from_config() as client:          # etc/shoal.config of the site
        answer = await client.call("hello/greeter", "/hello.Greeter/Greet", b"Shoal",
                                   idempotent=True)
        channel = await client.channel("Hello@HelloServer.Hello")   # a grpc.aio.Channel

    with SyncClient.from_config(path) as client:       # scripts: the same core, one loop
        client.call("hello/greeter", "/hello.Greeter/Greet", b"Shoal")

A proxy is Ice's string: `Identity` (a well-known object, Locator.FindObjectById),
`Identity@AdapterId` (Locator.FindAdapterById) or `Identity:tcp -h H -p P` (direct: no locator).
Locations are cached as Ice's locator cache is (`Ice.Default.LocatorCacheTimeout`, seconds:
-1 forever, Ice's default; 0 never; N seconds); `invalidate` forgets one. A call that finds a
cached endpoint UNAVAILABLE forgets it; an `idempotent` call then re-resolves and retries once
(the server may have restarted on another port); any other raises an UnreachableError naming
the proxy and the endpoint. Channels are made per endpoint set, reused, and closed by `close`.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import grpc
import grpc.aio

from shoal.config.endpoints import (
    Endpoint,
    EndpointParseError,
    Proxy,
    ProxyParseError,
    format_endpoints,
    parse_endpoints,
    parse_proxy,
    resolve_proxy,
)
from shoal.config.properties import Properties, load_file
from shoal.config.site import find_site
from shoal.errors import ConfigError, ShoalError
from shoal.rpc import locator_pb2
from shoal.rpc.channels import TlsConfig, make_channel
from shoal.rpc.errors import Peer, error_from_rpc
from shoal.rpc.wire import WireChannel

__all__ = ["Client", "SyncClient"]

T = TypeVar("T")
Clock = Callable[[], float]

#: Ice.Default.LocatorCacheTimeout when not set: cache forever (Ice's default).
CACHE_FOREVER = -1
_LOCATOR_TIMEOUT = 10.0
_CALL_TIMEOUT = 30.0
_FIND_ADAPTER = "/shoal.v1.Locator/FindAdapterById"
_FIND_OBJECT = "/shoal.v1.Locator/FindObjectById"
#: Distinct locator answers whose parsed endpoints are kept: a grid has few, asked again and again.
_PARSED_ANSWERS = 256


@functools.lru_cache(maxsize=_PARSED_ANSWERS)
def _parse_answer(endpoints: str) -> tuple[Endpoint, ...]:
    """The locator's answer parsed, once per distinct answer (Endpoint values are frozen)."""
    return parse_endpoints(endpoints)


# --------------------------------------------------------------------------------- the cache


@dataclass(frozen=True)
class _Location:
    """Where a proxy resolved: the endpoints (Ice's string form) and, for an object, its
    adapter."""

    endpoints: str
    adapter_id: str = ""


@dataclass(frozen=True)
class _Entry:
    location: _Location
    stored_at: float


class _LocationCache:
    """Ice's LocatorTable: adapters and well-known objects with the time they were resolved.

    `ttl` is Ice.Default.LocatorCacheTimeout in seconds: negative keeps entries forever, 0
    never answers from the cache, N answers with entries at most N seconds old (IceGrid's
    `checkTTL`). Time is an argument: no clock is read here.
    """

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[tuple[str, str], _Entry] = {}

    def get(self, key: tuple[str, str], now: float) -> _Location | None:
        entry = self._entries.get(key)
        if entry is None or self.ttl == 0:
            return None
        if self.ttl > 0 and now - entry.stored_at > self.ttl:
            return None
        return entry.location

    def put(self, key: tuple[str, str], location: _Location, now: float) -> None:
        if self.ttl != 0:
            self._entries[key] = _Entry(location, now)

    def forget(self, key: tuple[str, str]) -> _Location | None:
        entry = self._entries.pop(key, None)
        return entry.location if entry is not None else None


def _cache_key(proxy: Proxy) -> tuple[str, str]:
    if proxy.adapter_id is not None:
        return ("adapter", proxy.adapter_id)
    return ("object", str(proxy.identity))


# --------------------------------------------------------------------------------- the client


class Client:
    """Resolves proxies and calls servers; one per event loop (channels belong to it)."""

    def __init__(
        self,
        properties: Properties | Mapping[str, str] | None = None,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        if properties is None:
            properties = Properties()
        elif not isinstance(properties, Properties):
            properties = Properties.from_mapping(properties)
        self.properties = properties
        self._clock = clock
        self._max_bytes = properties.get_size_kb("Ice.MessageSizeMax")  # in bytes
        self._tls = TlsConfig.from_properties(properties.as_dict())
        self._locator = properties.get_proxy("Ice.Default.Locator")
        if self._locator is not None and not self._locator.endpoints:
            raise ConfigError(
                f"`{self._locator}' has no endpoints",
                key="Ice.Default.Locator",
                hint="e.g. IceGrid/Locator:tcp -h 127.0.0.1 -p 4061",
            )
        #: Who lookups ask, as their errors name it.
        self._locator_peer = (
            Peer.registry(format_endpoints(self._locator.endpoints)) if self._locator else None
        )
        self._cache = _LocationCache(
            properties.get_int("Ice.Default.LocatorCacheTimeout", CACHE_FOREVER)
        )
        self._channels: dict[tuple[Endpoint, ...], grpc.aio.Channel] = {}
        #: The locator's connection (Shoal's wire protocol), made on the first lookup.
        self._locator_channel: WireChannel | None = None
        self._closed = False

    @classmethod
    def from_config(
        cls,
        path: Path | str | None = None,
        *,
        properties: Properties | Mapping[str, str] | None = None,
        clock: Clock = time.monotonic,
    ) -> Client:
        """A client configured by `path` (e.g. etc/internal.cfg), `properties` on top of it,
        or, with neither, by the site's client config (etc/shoal.config; SHOAL_HOME, the
        launcher's site or the current directory's)."""
        return cls(_load_config(path, properties), clock=clock)

    # ------------------------------------------------------------------ resolution

    async def endpoints(self, proxy: str | Proxy) -> str:
        """Where `proxy` is now: its own endpoints, or the locator's answer (cached)."""
        endpoints, _ = await self._resolve(self._parse(proxy))
        return format_endpoints(endpoints)

    async def channel(self, proxy: str | Proxy) -> grpc.aio.Channel:
        """A channel to where `proxy` is (shared: the client closes it, not the caller)."""
        endpoints, _ = await self._resolve(self._parse(proxy))
        return self._channel_to(endpoints)

    def invalidate(self, proxy: str | Proxy) -> None:
        """Forget where `proxy` was: the next use asks the locator again. For a well-known
        object its adapter is forgotten too, as Ice does."""
        parsed = self._parse(proxy)
        if parsed.is_direct:
            return
        forgotten = self._cache.forget(_cache_key(parsed))
        if forgotten is not None and forgotten.adapter_id:
            self._cache.forget(("adapter", forgotten.adapter_id))

    # ------------------------------------------------------------------ calls

    async def call(
        self,
        proxy: str | Proxy,
        method: str,
        request: Any,
        *,
        idempotent: bool = False,
        timeout: float | None = _CALL_TIMEOUT,  # noqa: ASYNC109 (gRPC's deadline, sent along)
        request_serializer: Callable[[Any], bytes] | None = None,
        response_deserializer: Callable[[bytes], Any] | None = None,
    ) -> Any:
        """One unary call of `method` (`/package.Service/Method`) on `proxy`: bytes in and out
        unless serializers are given. A ShoalError names the proxy and the endpoint on failure.
        """
        parsed = self._parse(proxy)
        endpoints, cached = await self._resolve(parsed)
        try:
            return await self._invoke(
                endpoints, method, request, timeout, request_serializer, response_deserializer
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE:
                raise self._call_error(exc, parsed, endpoints) from exc
            # Maybe a stale location (the server restarted elsewhere): forget it either way.
            self.invalidate(parsed)
            if not cached:  # the locator's answer just now: asking again would not help
                raise self._call_error(exc, parsed, endpoints) from exc
            if not idempotent:
                error = self._call_error(exc, parsed, endpoints)
                error.hint = (
                    "the call was not retried because it is not idempotent; the location is "
                    "forgotten, so the next call asks the locator again (pass idempotent=True "
                    "to retry once)"
                )
                raise error from exc
        endpoints, _ = await self._resolve(parsed)
        try:
            return await self._invoke(
                endpoints, method, request, timeout, request_serializer, response_deserializer
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                self.invalidate(parsed)
            raise self._call_error(exc, parsed, endpoints) from exc

    async def _invoke(
        self,
        endpoints: tuple[Endpoint, ...],
        method: str,
        request: Any,
        timeout: float | None,  # noqa: ASYNC109 (gRPC's deadline)
        request_serializer: Callable[[Any], bytes] | None,
        response_deserializer: Callable[[bytes], Any] | None,
    ) -> Any:
        multicallable = self._channel_to(endpoints).unary_unary(
            method,
            request_serializer=request_serializer,
            response_deserializer=response_deserializer,
        )
        return await multicallable(request, timeout=timeout)

    @staticmethod
    def _call_error(
        exc: grpc.aio.AioRpcError, proxy: Proxy, endpoints: tuple[Endpoint, ...]
    ) -> ShoalError:
        address = format_endpoints(endpoints)
        hint = ""
        if proxy.is_indirect:
            hint = "is its server running? See `shoal admin ice server state` and its log"
        return error_from_rpc(exc, Peer(f"`{proxy}'", address, hint))

    # ------------------------------------------------------------------ closing

    async def close(self) -> None:
        """Close every channel this client made."""
        self._closed = True
        locator, self._locator_channel = self._locator_channel, None
        if locator is not None:
            await locator.close()
        channels, self._channels = list(self._channels.values()), {}
        await asyncio.gather(*(channel.close() for channel in channels))

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ inside

    def _parse(self, proxy: str | Proxy) -> Proxy:
        if isinstance(proxy, Proxy):
            parsed = proxy
        else:
            try:
                parsed = parse_proxy(proxy)
            except (ProxyParseError, EndpointParseError) as exc:
                raise ConfigError(
                    f"bad proxy: {exc}",
                    hint="e.g. hello/greeter, Greeter@Server.Adapter or "
                    "Greeter:tcp -h 127.0.0.1 -p 10000",
                ) from exc
        if not parsed.is_direct:
            return parsed
        try:
            return resolve_proxy(
                parsed,
                default_host=self.properties.get("Ice.Default.Host"),
                default_protocol=self.properties.get("Ice.Default.Protocol", "tcp"),
            )
        except EndpointParseError as exc:
            raise ConfigError(f"bad proxy `{parsed}': {exc}") from exc

    def _cached(self, proxy: Proxy) -> _Location | None:
        now = self._clock()
        location = self._cache.get(_cache_key(proxy), now)
        if location is not None and location.adapter_id:
            # An object is where its adapter is: a forgotten adapter means asking again.
            return self._cache.get(("adapter", location.adapter_id), now)
        return location

    async def _resolve(self, proxy: Proxy) -> tuple[tuple[Endpoint, ...], bool]:
        """The endpoints of `proxy`, and whether they came from the cache."""
        if proxy.is_direct:
            return proxy.endpoints, False
        location = self._cached(proxy)
        cached = location is not None
        if location is None:
            location = await self._ask_locator(proxy)
            now = self._clock()
            self._cache.put(_cache_key(proxy), location, now)
            if location.adapter_id:
                self._cache.put(
                    ("adapter", location.adapter_id), _Location(location.endpoints), now
                )
        try:
            endpoints = _parse_answer(location.endpoints)
        except EndpointParseError as exc:
            raise ShoalError(f"the locator gave `{proxy}' bad endpoints: {exc}") from exc
        if not endpoints:
            raise ShoalError(f"the locator gave `{proxy}' no endpoints")
        return endpoints, cached

    async def _ask_locator(self, proxy: Proxy) -> _Location:
        if self._locator is None:
            raise ConfigError(
                f"cannot find `{proxy}': Ice.Default.Locator is not set",
                key="Ice.Default.Locator",
                hint="use the site's etc/shoal.config or etc/internal.cfg, or give the "
                "proxy's endpoints (`Identity:tcp -h HOST -p PORT`)",
            )
        locator = self._locator_channel
        if locator is None:
            if self._closed:
                raise ShoalError("the client is closed")
            locator = self._locator_channel = WireChannel(
                _usable(self._locator.endpoints)[0],
                max_message_bytes=self._max_bytes,
                tls=self._tls,
                peer=self._locator_peer,
            )
        if proxy.adapter_id is not None:
            adapter = await locator.unary(
                _FIND_ADAPTER,
                locator_pb2.FindAdapterByIdRequest(adapter_id=proxy.adapter_id),
                locator_pb2.FindAdapterByIdReply,
                deadline=_LOCATOR_TIMEOUT,
            )
            return _Location(str(adapter.endpoints))
        found = await locator.unary(
            _FIND_OBJECT,
            locator_pb2.FindObjectByIdRequest(identity=str(proxy.identity)),
            locator_pb2.FindObjectByIdReply,
            deadline=_LOCATOR_TIMEOUT,
        )
        return _Location(str(found.endpoints), str(found.adapter_id))

    def _channel_to(self, endpoints: tuple[Endpoint, ...]) -> grpc.aio.Channel:
        """The channel for an endpoint set, made on first use. gRPC connects to one address:
        the first tcp or ssl endpoint of the set."""
        if self._closed:
            raise ShoalError("the client is closed")
        channel = self._channels.get(endpoints)
        if channel is None:
            usable = _usable(endpoints)
            channel = make_channel(usable[0], max_message_bytes=self._max_bytes, tls=self._tls)
            self._channels[endpoints] = channel
        return channel


def _usable(endpoints: tuple[Endpoint, ...]) -> list[Endpoint]:
    """The endpoints a connection can use (the first is used: no failover across them)."""
    usable = [e for e in endpoints if e.transport in ("tcp", "ssl", "default")]
    if not usable:
        raise ConfigError(
            f"no tcp or ssl endpoint in `{format_endpoints(endpoints)}'",
            hint="Shoal speaks tcp and ssl",
        )
    return usable


def _load_config(
    path: Path | str | None, properties: Properties | Mapping[str, str] | None
) -> Properties:
    overrides: Properties | None = None
    if properties is not None:
        overrides = (
            properties
            if isinstance(properties, Properties)
            else Properties.from_mapping(properties)
        )
    if path is None and overrides is None:
        path = find_site(sys.argv[0], os.environ, Path.cwd()).client_config
    loaded = load_file(path) if path is not None else Properties()
    return loaded.merged(overrides) if overrides is not None else loaded


# --------------------------------------------------------------------------------- sync


class SyncClient:
    """The same Client for scripts: every method runs on one private event loop."""

    def __init__(
        self,
        properties: Properties | Mapping[str, str] | None = None,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self._runner = asyncio.Runner()
        self.client = Client(properties, clock=clock)

    @classmethod
    def from_config(
        cls,
        path: Path | str | None = None,
        *,
        properties: Properties | Mapping[str, str] | None = None,
        clock: Clock = time.monotonic,
    ) -> SyncClient:
        """See Client.from_config."""
        return cls(_load_config(path, properties), clock=clock)

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coroutine)

    def endpoints(self, proxy: str | Proxy) -> str:
        return self._run(self.client.endpoints(proxy))

    def invalidate(self, proxy: str | Proxy) -> None:
        self.client.invalidate(proxy)

    def call(
        self,
        proxy: str | Proxy,
        method: str,
        request: Any,
        *,
        idempotent: bool = False,
        timeout: float | None = _CALL_TIMEOUT,
        request_serializer: Callable[[Any], bytes] | None = None,
        response_deserializer: Callable[[bytes], Any] | None = None,
    ) -> Any:
        return self._run(
            self.client.call(
                proxy,
                method,
                request,
                idempotent=idempotent,
                timeout=timeout,
                request_serializer=request_serializer,
                response_deserializer=response_deserializer,
            )
        )

    def close(self) -> None:
        """Close the channels, then the loop."""
        try:
            self._run(self.client.close())
        finally:
            self._runner.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
