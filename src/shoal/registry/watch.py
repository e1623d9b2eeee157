"""The fan-out behind Admin.WatchServers: every status change goes to each watcher as it
happens; nobody polls.

A watcher's pending events are coalesced: a server (or node) with a change still waiting keeps
only its latest status, in its first place in line. A watcher wants states, not a transcript
(each ServerStatus carries its own history), so one that reads slower than a start of 1000
servers changes (thousands of events in a second) is never more than one entry per server
behind. Only a stuck client, with more than QUEUE_LIMIT different servers waiting, is dropped,
told why."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from shoal.errors import BusyError
from shoal.rpc import admin_pb2, common_pb2

__all__ = ["QUEUE_LIMIT", "StatusHub", "WatchFilter", "Watcher"]

log = logging.getLogger("shoal.registry")

#: Different servers and nodes a watcher may have changes waiting for before it is dropped
#: (repeated changes of one server take one place).
QUEUE_LIMIT = 65536


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


_Key = tuple[str, str]  # ("server", id) or ("node", name): what an event is about


@dataclass(eq=False)
class Watcher:
    """One WatchServers stream: its filter and its pending events, one per server or node."""

    filter: WatchFilter
    # An OrderedDict: popitem(last=False) takes the oldest in constant time (a plain dict's
    # next(iter()) walks past the deleted slots: quadratic over a long queue).
    _pending: OrderedDict[_Key, admin_pb2.WatchServersReply] = field(
        default_factory=OrderedDict, init=False
    )
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _ended: bool = field(default=False, init=False)
    overflowed: bool = field(default=False, init=False)

    def put(self, key: _Key, event: admin_pb2.WatchServersReply) -> bool:
        """Queue `event`, replacing a waiting one about the same thing; False when full."""
        if key not in self._pending and len(self._pending) >= QUEUE_LIMIT:
            return False
        self._pending[key] = event  # a key already waiting keeps its place
        self._wakeup.set()
        return True

    def end(self) -> None:
        """No more events: the stream ends once the waiting ones are read (none if dropped)."""
        if self.overflowed:
            self._pending.clear()  # a dropped watcher does not need what it missed
        self._ended = True
        self._wakeup.set()

    async def events(self) -> AsyncIterator[admin_pb2.WatchServersReply]:
        """The events until the hub closes, or raise BusyError if this watcher fell behind
        (the client watches again and gets a fresh snapshot)."""
        while True:
            while self._pending:
                yield self._pending.popitem(last=False)[1]
            if self._ended:
                if self.overflowed:
                    raise BusyError(
                        f"this watch fell more than {QUEUE_LIMIT} servers behind and was dropped",
                        "watch again: the new stream starts with a fresh snapshot",
                    )
                return
            self._wakeup.clear()
            await self._wakeup.wait()


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
        if not self._watchers:  # the usual case: no copy, no event (a stop of 50 makes 150)
            return
        copy = common_pb2.ServerStatus()
        copy.CopyFrom(status)  # the caller keeps mutating its own
        self._publish(
            (
                w
                for w in self._watchers
                if w.filter.matches(copy.server_id, copy.application, copy.node)
            ),
            ("server", copy.server_id),
            admin_pb2.WatchServersReply(changed=copy),
        )

    def server_removed(self, server_id: str, application: str, node: str) -> None:
        self._publish(
            (w for w in self._watchers if w.filter.matches(server_id, application, node)),
            ("server", server_id),
            admin_pb2.WatchServersReply(removed=server_id),
        )

    def node_changed(self, node: common_pb2.NodeStatus) -> None:
        self._publish(
            (w for w in self._watchers if w.filter.matches_node(node.info.name)),
            ("node", node.info.name),
            admin_pb2.WatchServersReply(node=node),
        )

    def close(self) -> None:
        """End every stream (the registry is stopping)."""
        for watcher in list(self._watchers):
            watcher.end()
        self._watchers.clear()

    def _publish(
        self, watchers: Iterable[Watcher], key: _Key, event: admin_pb2.WatchServersReply
    ) -> None:
        for watcher in list(watchers):
            if not watcher.put(key, event):
                log.warning("dropping a WatchServers stream %d servers behind", QUEUE_LIMIT)
                watcher.overflowed = True
                self._watchers.discard(watcher)
                watcher.end()
