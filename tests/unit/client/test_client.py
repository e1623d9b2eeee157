"""shoal.client against a small in-process Locator and greeters: resolution, the locator cache
(Ice.Default.LocatorCacheTimeout, driven by an injected clock), channel reuse, the retry rule.

The Locator here is a dict behind the real contract (locator.proto, errors included), served
in Shoal's wire protocol as the registry's client endpoints serve it, not the registry's logic:
it stands in so these tests exercise the client's cache and retry alone, and counts what it is
asked. The greeters are gRPC servers, as applications are.
tests/integration/location/test_client.py does the same against a real grid.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
import pytest_asyncio

import shoal.client
from shoal.client import Client
from shoal.errors import (
    AdapterNotFoundError,
    ConfigError,
    ObjectNotFoundError,
    ShoalError,
    UnreachableError,
)
from shoal.rpc import locator_pb2
from shoal.rpc.channels import describe_endpoints, make_server
from shoal.rpc.wire import WireServer

MAX_BYTES = 1 << 20
GREET = "/hello.Greeter/Greet"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TableLocator:
    """Answers from two dicts; `asked` records every question."""

    def __init__(self) -> None:
        self.adapters: dict[str, str] = {}
        self.objects: dict[str, str] = {}  # identity -> adapter id
        self.asked: list[str] = []

    async def FindAdapterById(self, request: Any, context: Any) -> Any:
        self.asked.append(f"adapter {request.adapter_id}")
        if request.adapter_id not in self.adapters:
            raise AdapterNotFoundError(f"adapter `{request.adapter_id}' does not exist")
        return locator_pb2.FindAdapterByIdReply(endpoints=self.adapters[request.adapter_id])

    async def FindObjectById(self, request: Any, context: Any) -> Any:
        self.asked.append(f"object {request.identity}")
        adapter_id = self.objects.get(request.identity)
        if adapter_id is None:
            raise ObjectNotFoundError(f"object `{request.identity}' does not exist")
        return locator_pb2.FindObjectByIdReply(
            endpoints=self.adapters[adapter_id], adapter_id=adapter_id
        )


async def greet(name: bytes, context: Any) -> bytes:
    return b"Hello, " + name + b"!"


async def start_greeter() -> tuple[grpc.aio.Server, str]:
    server, bound = make_server("tcp -h 127.0.0.1 -p 0", max_message_bytes=MAX_BYTES)
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "hello.Greeter", {"Greet": grpc.unary_unary_rpc_method_handler(greet)}
            ),
        )
    )
    await server.start()
    return server, describe_endpoints(bound)


@dataclass
class Grid:
    locator: TableLocator
    locator_endpoints: str
    greeter_endpoints: str
    locator_server: WireServer
    #: The application servers (gRPC, as shoal.client calls them); [0] is the greeter.
    servers: list[grpc.aio.Server] = field(default_factory=list)

    def client(self, cache_timeout: int | None = None, clock: FakeClock | None = None) -> Client:
        properties = {"Ice.Default.Locator": f"IceGrid/Locator:{self.locator_endpoints}"}
        if cache_timeout is not None:
            properties["Ice.Default.LocatorCacheTimeout"] = str(cache_timeout)
        return Client(properties, clock=clock or FakeClock())


@pytest_asyncio.fixture
async def grid() -> AsyncIterator[Grid]:
    """A locator knowing adapter `S.Hello` (holding `hello/greeter`), and its greeter."""
    locator = TableLocator()
    server = WireServer(max_message_bytes=MAX_BYTES, name="the fake locator")
    server.add_service(locator_pb2.DESCRIPTOR.services_by_name["Locator"], locator)
    bound = await server.listen("tcp -h 127.0.0.1 -p 0")
    greeter, greeter_endpoints = await start_greeter()
    locator.adapters["S.Hello"] = greeter_endpoints
    locator.objects["hello/greeter"] = "S.Hello"
    found = Grid(locator, describe_endpoints(bound), greeter_endpoints, server, [greeter])
    try:
        yield found
    finally:
        await server.stop(None)
        for each in found.servers:
            await each.stop(None)


def test_public_surface_is_pinned() -> None:
    assert shoal.client.__all__ == ["Client", "SyncClient"]


@pytest.mark.asyncio
async def test_adapter_ids_and_well_known_objects_resolve_and_answer(grid: Grid) -> None:
    async with grid.client() as client:
        assert await client.endpoints("Hello@S.Hello") == grid.greeter_endpoints
        assert await client.endpoints("hello/greeter") == grid.greeter_endpoints
        assert await client.call("hello/greeter", GREET, b"Shoal") == b"Hello, Shoal!"
        channel = await client.channel("Hello@S.Hello")
        assert await channel.unary_unary(GREET)(b"you", timeout=10) == b"Hello, you!"
        # One channel per endpoint set, whichever proxy led there.
        assert await client.channel("hello/greeter") is channel


@pytest.mark.asyncio
async def test_a_direct_proxy_needs_no_locator(grid: Grid) -> None:
    async with Client() as client:
        proxy = f"Greeter:{grid.greeter_endpoints}"
        assert await client.call(proxy, GREET, b"direct") == b"Hello, direct!"
        with pytest.raises(ConfigError, match=r"Ice\.Default\.Locator is not set"):
            await client.channel("hello/greeter")
    assert grid.locator.asked == []


@pytest.mark.asyncio
async def test_serializers_are_passed_through(grid: Grid) -> None:
    async with grid.client() as client:
        answer = await client.call(
            "hello/greeter",
            GREET,
            "text",
            request_serializer=str.encode,
            response_deserializer=bytes.decode,
        )
    assert answer == "Hello, text!"


@pytest.mark.asyncio
async def test_unknown_adapters_and_objects_are_the_locators_errors(grid: Grid) -> None:
    async with grid.client() as client:
        with pytest.raises(AdapterNotFoundError, match="Nope"):
            await client.channel("X@Nope")
        with pytest.raises(ObjectNotFoundError, match="nope"):
            await client.call("nope", GREET, b"")


@pytest.mark.asyncio
async def test_by_default_the_cache_keeps_locations_forever(grid: Grid) -> None:
    clock = FakeClock()
    async with grid.client(clock=clock) as client:
        await client.endpoints("Hello@S.Hello")
        clock.now += 10**9
        await client.endpoints("Hello@S.Hello")
    assert grid.locator.asked == ["adapter S.Hello"]


@pytest.mark.asyncio
async def test_a_zero_cache_timeout_asks_every_time(grid: Grid) -> None:
    async with grid.client(cache_timeout=0) as client:
        for _ in range(3):
            await client.endpoints("hello/greeter")
    assert grid.locator.asked == ["object hello/greeter"] * 3


@pytest.mark.asyncio
async def test_a_cache_timeout_of_n_seconds_keeps_locations_n_seconds(grid: Grid) -> None:
    clock = FakeClock()
    async with grid.client(cache_timeout=5, clock=clock) as client:
        await client.endpoints("Hello@S.Hello")
        clock.now += 5  # exactly N seconds old: still good (IceGrid's checkTTL is <=)
        await client.endpoints("Hello@S.Hello")
        assert grid.locator.asked == ["adapter S.Hello"]
        clock.now += 0.001
        await client.endpoints("Hello@S.Hello")
        assert grid.locator.asked == ["adapter S.Hello"] * 2


@pytest.mark.asyncio
async def test_a_well_known_object_also_caches_its_adapter(grid: Grid) -> None:
    async with grid.client() as client:
        await client.endpoints("hello/greeter")
        await client.endpoints("Hello@S.Hello")
        assert grid.locator.asked == ["object hello/greeter"]
        # Forgetting the adapter makes the object's location stale too.
        client.invalidate("Hello@S.Hello")
        await client.endpoints("hello/greeter")
        assert grid.locator.asked == ["object hello/greeter"] * 2
        # Forgetting the object forgets its adapter, as Ice does.
        client.invalidate("hello/greeter")
        await client.endpoints("Hello@S.Hello")
        assert grid.locator.asked[-1] == "adapter S.Hello"


async def move_greeter(grid: Grid) -> str:
    """The greeter's server dies and comes back on another port; the locator knows."""
    await grid.servers[0].stop(None)
    server, endpoints = await start_greeter()
    grid.servers[0] = server
    grid.locator.adapters["S.Hello"] = endpoints
    assert endpoints != grid.greeter_endpoints
    return endpoints


@pytest.mark.asyncio
async def test_an_idempotent_call_to_a_stale_location_re_resolves_and_retries_once(
    grid: Grid,
) -> None:
    async with grid.client() as client:
        assert await client.call("hello/greeter", GREET, b"a", idempotent=True) == b"Hello, a!"
        moved = await move_greeter(grid)
        assert await client.call("hello/greeter", GREET, b"b", idempotent=True) == b"Hello, b!"
        assert await client.endpoints("hello/greeter") == moved
    assert grid.locator.asked == ["object hello/greeter"] * 2


@pytest.mark.asyncio
async def test_a_call_to_a_stale_location_that_is_not_idempotent_fails_and_forgets_it(
    grid: Grid,
) -> None:
    async with grid.client() as client:
        await client.call("Hello@S.Hello", GREET, b"a")
        old = grid.greeter_endpoints
        await move_greeter(grid)
        with pytest.raises(UnreachableError) as failed:
            await client.call("Hello@S.Hello", GREET, b"b")
        assert f"`Hello@S.Hello' at {old}" in failed.value.message
        assert failed.value.address == old
        assert "not idempotent" in failed.value.hint
        # Forgotten: the next call asks the locator and reaches the new server.
        assert await client.call("Hello@S.Hello", GREET, b"c") == b"Hello, c!"
    assert grid.locator.asked == ["adapter S.Hello"] * 2


@pytest.mark.asyncio
async def test_a_freshly_resolved_location_that_is_down_is_not_retried(grid: Grid) -> None:
    await grid.servers[0].stop(None)
    async with grid.client() as client:
        with pytest.raises(UnreachableError, match="hello/greeter"):
            await client.call("hello/greeter", GREET, b"x", idempotent=True)
        assert grid.locator.asked == ["object hello/greeter"]
        # Not kept either: the next call asks the locator again.
        with pytest.raises(UnreachableError):
            await client.call("hello/greeter", GREET, b"x", idempotent=True)
    assert grid.locator.asked == ["object hello/greeter"] * 2


@pytest.mark.asyncio
async def test_closing_closes_the_channels_and_refuses_more_calls(grid: Grid) -> None:
    client = grid.client()
    channel = await client.channel("hello/greeter")
    await client.close()
    with pytest.raises(grpc.aio.UsageError):
        await channel.unary_unary(GREET)(b"late", timeout=10)
    with pytest.raises(ShoalError, match="closed"):
        await client.channel("hello/greeter")


def test_from_config_reads_a_file_and_properties_on_top(tmp_path: Path) -> None:
    config = tmp_path / "client.cfg"
    config.write_text(
        "Ice.Default.Locator=IceGrid/Locator:tcp -h 127.0.0.1 -p 4999\n"
        "Ice.Default.LocatorCacheTimeout=7\n"
    )
    client = Client.from_config(config, properties={"Ice.MessageSizeMax": "10"})
    assert client.properties.get("Ice.Default.LocatorCacheTimeout") == "7"
    assert client.properties.get_size_kb("Ice.MessageSizeMax") == 10 * 1024
    assert client.properties.get("Ice.Default.Locator").endswith("-p 4999")


def test_from_config_defaults_to_the_sites_client_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "shoal.config").write_text(
        "Ice.Default.Locator=IceGrid/Locator:tcp -h 127.0.0.1 -p 4998\n"
    )
    monkeypatch.setenv("SHOAL_HOME", str(tmp_path))
    assert Client.from_config().properties.get("Ice.Default.Locator").endswith("-p 4998")


def test_a_locator_without_endpoints_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"Ice\.Default\.Locator"):
        Client({"Ice.Default.Locator": "IceGrid/Locator"})


@pytest.mark.asyncio
async def test_a_bad_proxy_is_a_config_error() -> None:
    async with Client() as client:
        with pytest.raises(ConfigError, match="bad proxy"):
            await client.channel("a:b:c")
