"""The fan-out behind Admin.WatchServers: every status change goes to each watcher's own bounded
queue as it happens; nobody polls. A watcher that falls too far behind is dropped, told why."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from shoal.errors import BusyError
from shoal.rpc import admin_pb2, common_pb2

__all__ = ["QUEUE_LIMIT", "StatusHub", "WatchFilter", "Watcher"]

log = logging.getLogger("shoal.registry")

#: Events a watcher may have waiting before it is dropped. A status display reads them at once;
#: only a stuck client gets this far behind.
QUEUE_LIMIT = 1024


@dataclass(frozen=True)
class WatchFilter:
    """Which servers a watcher wants; empty fields match everything, set fields must all match."""

    server_ids: frozenset[str] = frozenset()
    application: str = ""
    node: str = ""

    @classmethod
    def from_request(cls, request: admin_pb2.WatchServersRequest) -> WatchFilter:
        return cls(frozenset(request.server_ids), request.application, request.node)

    def matches(self, server_id: str, application: str, node: str) -> bool:
        return (
            (not self.server_ids or server_id in self.server_ids)
            and (not self.application or application == self.application)
            and (not self.node or node == self.node)
        )

    def matches_node(self, node: str) -> bool:
        return not self.node or node == self.node


@dataclass(eq=False)
class Watcher:
    """One WatchServers stream: its filter and its queue (None in the queue ends the stream)."""

    filter: WatchFilter
    queue: asyncio.Queue[admin_pb2.WatchServersReply | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_LIMIT)
    )
    overflowed: bool = False

    async def events(self) -> AsyncIterator[admin_pb2.WatchServersReply]:
        """The queued events until the hub closes, or raise BusyError if this watcher fell
        behind (the client watches again and gets a fresh snapshot)."""
        while True:
            event = await self.queue.get()
            if event is None:
                if self.overflowed:
                    raise BusyError(
                        f"this watch fell more than {QUEUE_LIMIT} changes behind and was dropped",
                        "watch again: the new stream starts with a fresh snapshot",
                    )
                return
            yield event


class StatusHub:
    """Every open watcher; the registry publishes here whenever a server or node changes."""

    def __init__(self) -> None:
        self._watchers: set[Watcher] = set()

    def subscribe(self, watch_filter: WatchFilter) -> Watcher:
        """A new watcher. Take the snapshot right after this (same loop turn): no change can
        fall between them."""
        watcher = Watcher(watch_filter)
        self._watchers.add(watcher)
        return watcher

    def unsubscribe(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)

    @property
    def watcher_count(self) -> int:
        return len(self._watchers)

    def server_changed(self, status: common_pb2.ServerStatus) -> None:
        copy = common_pb2.ServerStatus()
        copy.CopyFrom(status)  # the caller keeps mutating its own
        self._publish(
            (
                w
                for w in self._watchers
                if w.filter.matches(copy.server_id, copy.application, copy.node)
            ),
            admin_pb2.WatchServersReply(changed=copy),
        )

    def server_removed(self, server_id: str, application: str, node: str) -> None:
        self._publish(
            (w for w in self._watchers if w.filter.matches(server_id, application, node)),
            admin_pb2.WatchServersReply(removed=server_id),
        )

    def node_changed(self, node: common_pb2.NodeStatus) -> None:
        self._publish(
            (w for w in self._watchers if w.filter.matches_node(node.info.name)),
            admin_pb2.WatchServersReply(node=node),
        )

    def close(self) -> None:
        """End every stream (the registry is stopping)."""
        for watcher in list(self._watchers):
            _end(watcher)
        self._watchers.clear()

    def _publish(self, watchers: Iterable[Watcher], event: admin_pb2.WatchServersReply) -> None:
        for watcher in list(watchers):
            try:
                watcher.queue.put_nowait(event)
            except asyncio.QueueFull:
                log.warning("dropping a WatchServers stream %d events behind", QUEUE_LIMIT)
                watcher.overflowed = True
                self._watchers.discard(watcher)
                _end(watcher)


def _end(watcher: Watcher) -> None:
    # Make room for the end marker: a dropped watcher does not need what it missed.
    while watcher.queue.full():
        watcher.queue.get_nowait()
    watcher.queue.put_nowait(None)
