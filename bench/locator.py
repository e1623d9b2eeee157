"""The locator scenario: FindAdapterById lookups against a running Shoal grid, closed loop.

Each client has its own gRPC channel and asks again as soon as it has its answer, for a bounded
duration; one client, then several at once. Figures: lookups per second (all clients together)
and the p50/p99 latency of one lookup, measured in this process with timing.clock.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import grpc.aio

from bench.timing import BenchError, clock
from shoal.rpc import locator_pb2, locator_pb2_grpc

#: Lookups before the clock starts (connection set-up, first-call paths).
WARMUP_LOOKUPS = 50


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


class _Barrier:
    """Every client warms up, then all start measuring at once, until the same end."""

    def __init__(self, clients: int) -> None:
        self.waiting = clients
        self.warm = asyncio.Event()
        self.go = asyncio.Event()
        self.end = 0.0

    def arrived(self) -> None:
        self.waiting -= 1
        if not self.waiting:
            self.warm.set()


async def _client(
    address: str, adapter_id: str, expected: str, barrier: _Barrier, latencies: list[float]
) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = locator_pb2_grpc.LocatorStub(channel)  # type: ignore[no-untyped-call]
        request = locator_pb2.FindAdapterByIdRequest(adapter_id=adapter_id)
        for _ in range(WARMUP_LOOKUPS):
            await stub.FindAdapterById(request, timeout=5)
        barrier.arrived()
        await barrier.go.wait()
        end = barrier.end
        while True:
            start = clock()
            if start >= end:
                return
            reply = await stub.FindAdapterById(request, timeout=5)
            latencies.append(clock() - start)
            if reply.endpoints != expected:
                raise BenchError(f"lookup of {adapter_id} answered {reply.endpoints!r}")


async def _run(address: str, adapter_id: str, clients: int, duration: float) -> LookupFigures:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = locator_pb2_grpc.LocatorStub(channel)  # type: ignore[no-untyped-call]
        first = await stub.FindAdapterById(
            locator_pb2.FindAdapterByIdRequest(adapter_id=adapter_id), timeout=5
        )
    barrier = _Barrier(clients)
    latencies: list[float] = []
    tasks = [
        asyncio.create_task(_client(address, adapter_id, first.endpoints, barrier, latencies))
        for _ in range(clients)
    ]
    everything = asyncio.gather(*tasks)
    try:
        await asyncio.wait_for(barrier.warm.wait(), timeout=30)
        start = clock()
        barrier.end = start + duration
        barrier.go.set()
        await asyncio.wait_for(everything, timeout=duration + 30)
    finally:
        everything.cancel()
    elapsed = clock() - start
    ordered = sorted(latencies)
    return LookupFigures(
        clients, len(ordered), elapsed, percentile(ordered, 0.50), percentile(ordered, 0.99)
    )


def find_adapter_lookups(
    address: str, adapter_id: str, clients: int, duration: float
) -> LookupFigures:
    """`clients` closed-loop clients asking FindAdapterById(adapter_id) for `duration` s.

    All clients run on this process's one event loop (as one multi-threaded caller would
    not): with 4 clients the figure is the registry's throughput under concurrent callers,
    bounded by this process too on a small machine, which the report says.
    """
    return asyncio.run(_run(address, adapter_id, clients, duration))
