"""The WatchServers fan-out: a slow watcher gets the latest state of each server, never a
transcript it cannot keep up with, and a stuck one is dropped with a reason."""

from __future__ import annotations

import asyncio

import pytest

from shoal.errors import BusyError
from shoal.registry import watch
from shoal.registry.watch import StatusHub, WatchFilter
from shoal.rpc import admin_pb2, common_pb2


def status(server_id: str, state: int, pid: int = 0) -> common_pb2.ServerStatus:
    return common_pb2.ServerStatus(
        server_id=server_id, application="App", node="n", state=state, pid=pid
    )


async def drain(
    events: list[admin_pb2.WatchServersReply], hub: StatusHub, watcher: watch.Watcher
) -> None:
    hub.close()
    async for event in watcher.events():
        events.append(event)


def test_a_slow_watcher_gets_each_servers_latest_state_in_first_place_order() -> None:
    async def scenario() -> list[admin_pb2.WatchServersReply]:
        hub = StatusHub()
        watcher = hub.subscribe(WatchFilter())
        for pid in range(1, 1001):  # a start: thousands of changes before the client reads
            hub.server_changed(status("A", common_pb2.ACTIVATING, pid))
            hub.server_changed(status("B", common_pb2.ACTIVE, pid))
        hub.server_removed("B", "App", "n")
        hub.server_changed(status("A", common_pb2.ACTIVE, 1000))
        events: list[admin_pb2.WatchServersReply] = []
        await drain(events, hub, watcher)
        return events

    events = asyncio.run(scenario())
    assert [e.WhichOneof("event") for e in events] == ["changed", "removed"]
    assert (events[0].changed.server_id, events[0].changed.state) == ("A", common_pb2.ACTIVE)
    assert events[1].removed == "B"


def test_a_watcher_that_reads_along_sees_every_change() -> None:
    async def scenario() -> list[int]:
        hub = StatusHub()
        watcher = hub.subscribe(WatchFilter(application="App"))
        taken: asyncio.Queue[int] = asyncio.Queue()

        async def read() -> None:
            async for event in watcher.events():
                taken.put_nowait(event.changed.pid)

        reader = asyncio.create_task(read())
        seen = []
        for pid in (1, 2, 3):
            hub.server_changed(status("A", common_pb2.ACTIVE, pid))
            seen.append(await asyncio.wait_for(taken.get(), 10))  # read before the next change
        hub.close()
        await reader
        return seen

    assert asyncio.run(scenario()) == [1, 2, 3]


def test_a_stuck_watcher_is_dropped_and_told_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch, "QUEUE_LIMIT", 3)

    async def scenario() -> None:
        hub = StatusHub()
        watcher = hub.subscribe(WatchFilter())
        for index in range(4):  # four different servers waiting: one too many
            hub.server_changed(status(f"S-{index}", common_pb2.ACTIVE))
        assert hub.watcher_count == 0
        with pytest.raises(BusyError, match="fell more than 3 servers behind"):
            async for _ in watcher.events():
                pass

    asyncio.run(scenario())
