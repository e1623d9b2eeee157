"""The locator scenario: uncached FindAdapterById lookups in closed loops, and the first call to an
on-demand server, against Shoal (examples/hello) and IceGrid (a Python Ice greeter).

Lookups: each client is a thread with its own connection (a BlockingChannel of Shoal's wire
protocol, shoal.rpc.wire; an Ice communicator and its default Locator proxy) that asks again as
soon as it has its answer, for a bounded duration; one client, then several at once, all in one
process. Figures: lookups per second (all clients together) and the p50/p99 latency of one
lookup. Shoal's clients run here; IceGrid's in peers/icegrid_locator.py under Debian's python3,
whose loop repeats `closed_loops` (keep the two alike).

First call: a fresh client's first call on an adapter of an `on-demand` server that does not
run, until its reply; the lookup starts the server. A different server each sample, so each is
a true first call (Shoal: examples/hello's greeter, `Greet`; IceGrid: the Python Ice greeter,
`ice_ping`).

Floor: the same Shoal client loop against a bare wire-protocol Locator with no registry code (a
WireServer serving a constant answer, in its own process: `python -m bench.locator floor`), to
show what the protocol alone costs in Python.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.peers import application_xml
from bench.peers.icegrid import DEBIAN_PYTHON, LOCATOR_DRIVER
from bench.peers.shoal import ShoalPeer, blocking_channel, greeter_xml
from bench.procs import run_cli
from bench.timing import BenchError, clock
from shoal.config.properties import DEFAULT_MESSAGE_SIZE_MAX_KB
from shoal.errors import ShoalError
from shoal.rpc import locator_pb2
from shoal.rpc.tls import message_size_max_bytes
from shoal.rpc.wire import CallContext, WireServer

#: Lookups before the clock starts (connection set-up, first-call paths).
WARMUP_LOOKUPS = 50
#: The greeter that runs (`always`) on both grids, and its adapter.
HELLO_ADAPTER = "HelloServer.Hello"
REPO = Path(__file__).resolve().parents[1]
#: The lookup, by its full name on the wire.
FIND_ADAPTER_BY_ID = "/shoal.v1.Locator/FindAdapterById"

#: Makes one client's lookup: entered in the client's thread, it opens the client's own
#: connection and yields the call that does one lookup; leaving closes the connection.
Connect = Callable[[], contextlib.AbstractContextManager[Callable[[], object]]]


@dataclass(frozen=True)
class LookupFigures:
    clients: int
    lookups: int
    seconds: float
    p50: float  # seconds
    p99: float  # seconds

    @property
    def per_second(self) -> float:
        return self.lookups / self.seconds


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        raise BenchError("no lookups were measured")
    rank = max(1, round(fraction * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def closed_loops(
    connect: Connect, clients: int, seconds: float, warmup: int = WARMUP_LOOKUPS
) -> LookupFigures:
    """`clients` threads, each with its own connection: `warmup` untimed lookups each, then all
    start at once and ask again as soon as answered, until the same end."""
    start_line = threading.Barrier(clients + 1, timeout=60)
    window: list[float] = []  # [start, end], set between the two waits at the start line

    def client() -> list[float]:
        try:
            with connect() as lookup:
                for _ in range(warmup):
                    lookup()
                start_line.wait()
                start_line.wait()
                end, mine = window[1], list[float]()
                while True:
                    began = clock()
                    if began >= end:
                        return mine
                    lookup()
                    mine.append(clock() - began)
        except BaseException:
            start_line.abort()  # the others stop waiting; the first error is raised below
            raise

    with ThreadPoolExecutor(clients) as pool:
        running = [pool.submit(client) for _ in range(clients)]
        start = clock()
        with contextlib.suppress(threading.BrokenBarrierError):  # a client failed
            start_line.wait()
            start = clock()
            window[:] = [start, start + seconds]
            start_line.wait()
    elapsed = clock() - start
    failures = [error for future in running if (error := future.exception()) is not None]
    if failures:
        real = [f for f in failures if not isinstance(f, threading.BrokenBarrierError)]
        raise (real or failures)[0]
    ordered = sorted(x for future in running for x in future.result())
    return LookupFigures(
        clients, len(ordered), elapsed, percentile(ordered, 0.50), percentile(ordered, 0.99)
    )


# --------------------------------------------------------------------------------- Shoal


def shoal_lookups(
    address: str, adapter_id: str, clients: int, seconds: float, *, registry: bool = True
) -> LookupFigures:
    """Locator.FindAdapterById(adapter_id) at "host:port" from `clients` threads, each with a
    BlockingChannel of its own (Shoal's wire protocol). `registry`: errors name the registry
    (False for the floor)."""
    request = locator_pb2.FindAdapterByIdRequest(adapter_id=adapter_id)
    reply_type = locator_pb2.FindAdapterByIdReply
    with blocking_channel(address, registry=registry) as channel:
        expected = channel.unary(FIND_ADAPTER_BY_ID, request, reply_type, deadline=5).endpoints

    @contextlib.contextmanager
    def connect() -> Iterator[Callable[[], object]]:
        with blocking_channel(address, registry=registry) as channel:
            unary = channel.unary

            def lookup() -> None:
                reply = unary(FIND_ADAPTER_BY_ID, request, reply_type, deadline=5)
                if reply.endpoints != expected:
                    raise BenchError(f"lookup of {adapter_id} answered {reply.endpoints!r}")

            yield lookup

    return closed_loops(connect, clients, seconds)


def on_demand_ids(count: int) -> list[str]:
    return [f"HelloOnDemand-{i}" for i in range(count)]


def deploy_shoal_on_demand(peer: ShoalPeer, server_ids: list[str]) -> None:
    """Deploy examples/hello's greeter again as each of `server_ids`, `on-demand`, in one more
    application on the running grid of `peer.start_hello()`."""
    servers = [greeter_xml(server_id, "on-demand") for server_id in server_ids]
    descriptor = peer.site / "etc" / "grid" / "on-demand.xml"
    descriptor.write_text(application_xml("master", servers, "HelloOnDemand"))
    shoal = str(peer.site / "bin" / "shoal")
    run_cli([shoal, "admin", "deploy", str(descriptor)], cwd=peer.site, timeout=60)


def shoal_first_call(address: str, server_id: str) -> float:
    """Seconds from a fresh shoal.client's first Greet on `server_id`'s adapter until the
    answer: the locator starts the server and answers once it registered its endpoints."""
    # Imported here: shoal.client loads grpc (its calls to servers), which the floor's process
    # (`python -m bench.locator floor`) has no use for.
    from shoal.client import SyncClient

    host, port = address.rsplit(":", 1)
    locator = f"IceGrid/Locator:tcp -h {host} -p {port}"
    with SyncClient({"Ice.Default.Locator": locator}) as client:
        start = clock()
        try:
            answer = client.call(f"greeter@{server_id}.Hello", "/hello.Greeter/Greet", b"bench")
        except ShoalError as error:
            raise BenchError(f"first call to {server_id}: {error}") from error
        seconds = clock() - start
    if answer != b"Hello, bench!":
        raise BenchError(f"{server_id} answered {answer!r}")
    return seconds


# --------------------------------------------------------------------------------- IceGrid


def _driver(*args: str, timeout: float) -> str:
    argv = [DEBIAN_PYTHON, str(LOCATOR_DRIVER), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise BenchError(f"{LOCATOR_DRIVER.name} {args[0]}: {done.stderr.strip()[-300:]}")
    return done.stdout


def icegrid_lookups(config: Path, adapter_id: str, clients: int, seconds: float) -> LookupFigures:
    """IceGrid's Locator.findAdapterById(adapter_id) from `clients` threads (the driver)."""
    out = _driver(
        "lookups",
        str(config),
        adapter_id,
        str(clients),
        str(seconds),
        str(WARMUP_LOOKUPS),
        timeout=seconds + 90,
    )
    try:
        found = json.loads(out)
        return LookupFigures(
            clients, found["lookups"], found["seconds"], found["p50"], found["p99"]
        )
    except (ValueError, KeyError) as exc:
        raise BenchError(f"{LOCATOR_DRIVER.name} lookups printed {out!r}") from exc


def icegrid_first_call(config: Path, server_id: str) -> float:
    """Seconds from a fresh communicator's first ice_ping on `server_id`'s greeter until the
    answer: IceGrid's locator activates the server and answers once it registered."""
    out = _driver("first-call", str(config), f"greeter@{server_id}.Hello", timeout=90)
    try:
        return float(out)
    except ValueError as exc:
        raise BenchError(f"{LOCATOR_DRIVER.name} first-call printed {out!r}") from exc


# --------------------------------------------------------------------------------- floor

_FLOOR_ENDPOINTS = "tcp -h 127.0.0.1 -p 10000"


class _ConstantLocator:
    """FindAdapterById answered with a constant, shaped as the registry's answer (the Locator's
    other methods: the WireServer answers "not implemented")."""

    async def FindAdapterById(
        self, request: locator_pb2.FindAdapterByIdRequest, context: CallContext
    ) -> locator_pb2.FindAdapterByIdReply:
        replica = locator_pb2.ReplicaEndpoints(
            adapter_id=request.adapter_id, endpoints=_FLOOR_ENDPOINTS
        )
        return locator_pb2.FindAdapterByIdReply(endpoints=_FLOOR_ENDPOINTS, replicas=[replica])


async def _serve_floor() -> None:
    """A WireServer as the registry's client endpoint is made (its default message size
    limit), serving the constant Locator until killed; prints its port."""
    server = WireServer(
        max_message_bytes=message_size_max_bytes(DEFAULT_MESSAGE_SIZE_MAX_KB), name="the floor"
    )
    server.add_service(locator_pb2.DESCRIPTOR.services_by_name["Locator"], _ConstantLocator())
    (bound,) = await server.listen("tcp -h 127.0.0.1 -p 0")
    print(bound.port, flush=True)
    await asyncio.Event().wait()


@contextlib.contextmanager
def floor_server() -> Iterator[str]:
    """A bare wire-protocol Locator (WireServer, no registry code) in a process of its own, as
    the registry is; its "host:port"."""
    argv = [sys.executable, "-m", "bench.locator", "floor"]
    with subprocess.Popen(
        argv, cwd=REPO, stdout=subprocess.PIPE, text=True, start_new_session=True
    ) as process:
        try:
            assert process.stdout is not None
            port = process.stdout.readline().strip()
            if not port.isdigit():
                raise BenchError(f"the floor server did not start: {port!r}")
            yield f"127.0.0.1:{port}"
        finally:
            process.kill()


__all__ = [
    "HELLO_ADAPTER",
    "WARMUP_LOOKUPS",
    "LookupFigures",
    "closed_loops",
    "deploy_shoal_on_demand",
    "floor_server",
    "icegrid_first_call",
    "icegrid_lookups",
    "on_demand_ids",
    "shoal_first_call",
    "shoal_lookups",
]


if __name__ == "__main__" and sys.argv[1:] == ["floor"]:
    asyncio.run(_serve_floor())
