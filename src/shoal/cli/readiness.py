"""Waiting for a grid to come up: which `always` servers are active, failed or pending.

`Readiness` is pure (fed WatchServers events, no I/O); `watch_until_ready` is its async shell.
A server counts once its node is up; servers on nodes not started yet are `pending`, not failed.
A server seen failing during the wait is not ready while merely active again (a crash loop
passes through ACTIVE): it settles when disabled, else it is reported when time runs out.
"""

from __future__ import annotations

import contextlib
import functools
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shoal.rpc import admin_pb2, common_pb2

if TYPE_CHECKING:
    import asyncio

    from shoal.cli.client import AdminApi

ACTIVE = common_pb2.ACTIVE
ACTIVATION_TIMED_OUT = common_pb2.ACTIVATION_TIMED_OUT
STATE_NAMES: dict[int, str] = {
    common_pb2.INACTIVE: "inactive",
    common_pb2.ACTIVATING: "activating",
    common_pb2.ACTIVATION_TIMED_OUT: "activation timed out",
    common_pb2.ACTIVE: "active",
    common_pb2.DEACTIVATING: "deactivating",
    common_pb2.DESTROYING: "destroying",
    common_pb2.DESTROYED: "destroyed",
}


def state_name(state: int) -> str:
    return STATE_NAMES.get(state, f"state {state}")


_DIGITS = re.compile(r"(\d+)")


@functools.lru_cache(maxsize=65536)
def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders numbers inside names by value: S-2 before S-10 (kept per name:
    a wait sorts the same thousand names again and again)."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(name) if part
    )


def failure_reason(status: common_pb2.ServerStatus) -> str | None:
    """Why an `always` server will not become active without help, or None if it still may."""
    last = status.last_exit.description if status.HasField("last_exit") else ""
    tail = f"; last exit: {last}" if last else ""
    if not status.enabled:
        if status.disabled_by == common_pb2.ServerStatus.FAILURE:
            return f"disabled after failing{tail}"
        return f"disabled by a user{tail}"
    if status.state == ACTIVATION_TIMED_OUT:
        return f"activation timed out{tail}"
    return None


@dataclass
class Readiness:
    """The servers a start waits for. `application` filters (empty: all applications)."""

    application: str = ""
    servers: dict[str, common_pb2.ServerStatus] = field(default_factory=dict)
    nodes_up: set[str] = field(default_factory=set)
    snapshot_seen: bool = False
    #: Servers seen exiting with a failure during the wait.
    flapped: set[str] = field(default_factory=set)

    def feed(self, reply: admin_pb2.WatchServersReply) -> None:
        event = reply.WhichOneof("event")
        if event == "snapshot":
            self.servers = {s.server_id: s for s in reply.snapshot.servers if self._ours(s)}
            self.snapshot_seen = True
        elif event == "changed":
            status = reply.changed
            if self._ours(status):
                before = self.servers.get(status.server_id)
                if _new_failure(before, status):
                    self.flapped.add(status.server_id)
                self.servers[status.server_id] = status
        elif event == "removed":
            self.servers.pop(reply.removed, None)
        elif event == "node":
            self.set_node(reply.node)

    def set_node(self, node: common_pb2.NodeStatus) -> None:
        if node.up:
            self.nodes_up.add(node.info.name)
        else:
            self.nodes_up.discard(node.info.name)

    def set_nodes(self, nodes: Iterable[common_pb2.NodeStatus]) -> None:
        for node in nodes:
            self.set_node(node)

    def _ours(self, status: common_pb2.ServerStatus) -> bool:
        return not self.application or status.application == self.application

    def _always(self) -> list[common_pb2.ServerStatus]:
        return sorted(
            (s for s in self.servers.values() if s.activation == "always"),
            key=lambda s: natural_key(s.server_id),
        )

    def _counted(self, status: common_pb2.ServerStatus) -> bool:
        """An `always` server on an up node: the ones a start waits for."""
        return status.activation == "always" and status.node in self.nodes_up

    def _is_active(self, status: common_pb2.ServerStatus) -> bool:
        """Active, and not seen failing during this wait (a crash loop passes through ACTIVE)."""
        return status.state == ACTIVE and status.server_id not in self.flapped

    @property
    def active(self) -> list[common_pb2.ServerStatus]:
        return [s for s in self._always() if self._counted(s) and self._is_active(s)]

    @property
    def failed(self) -> dict[str, str]:
        found = {}
        for status in self._always():
            reason = failure_reason(status)
            if reason is not None and status.node in self.nodes_up:
                found[status.server_id] = reason
        return found

    @property
    def waiting(self) -> list[common_pb2.ServerStatus]:
        """On an up node, neither active nor failed (yet)."""
        failed = self.failed
        return [
            s
            for s in self._always()
            if self._counted(s) and s.server_id not in failed and not self._is_active(s)
        ]

    @property
    def unstable(self) -> dict[str, str]:
        """Servers that failed during the wait and are neither disabled nor trusted yet."""
        failed = self.failed
        found = {}
        for status in self._always():
            if status.server_id in self.flapped and status.server_id not in failed:
                last = status.last_exit.description or "a failure"
                found[status.server_id] = (
                    f"failing and restarting ({status.restart_count} restart(s)); last exit: {last}"
                )
        return found

    def failures(self, settled: bool) -> dict[str, str]:
        """What to report as failed: disabled servers, and when time ran out, crash loops."""
        return {**self.failed, **({} if settled else self.unstable)}

    @property
    def pending_nodes(self) -> dict[str, list[str]]:
        """Nodes not up, with the `always` servers that wait for them."""
        pending: dict[str, list[str]] = {}
        for status in self._always():
            if status.node not in self.nodes_up:
                pending.setdefault(status.node, []).append(status.server_id)
        return pending

    @property
    def settled(self) -> bool:
        """Every server on an up node is active or failed (needs the first snapshot).

        Asked after every batch of changes: one pass, no sorting, and it stops at the first
        server still on its way (`waiting`'s rule, without building the list)."""
        if not self.snapshot_seen:
            return False
        return not any(
            self._counted(s) and not self._is_active(s) and failure_reason(s) is None
            for s in self.servers.values()
        )

    def grace_left(self, grace: float, now: float) -> float:
        """Seconds until every active server is older than `grace` (0 when all are).

        A server that dies within the start-up grace has failed during activation (its node
        disables it), though it may have been Active for a moment: a start is not called up
        before that window has passed for each server. `now` is wall-clock time, as the
        node's `started_at`; a clock ahead of ours cannot stretch the wait beyond `grace`.
        """
        left = 0.0
        for status in self.servers.values():
            if self._counted(status) and self._is_active(status) and status.HasField("started_at"):
                started = status.started_at.seconds + status.started_at.nanos / 1e9
                left = max(left, min(grace, started + grace - now))
        return left


def _new_failure(before: common_pb2.ServerStatus | None, after: common_pb2.ServerStatus) -> bool:
    if not after.HasField("last_exit") or not after.last_exit.failure:
        return False
    return before is None or before.last_exit != after.last_exit


#: Seconds between two redraws of a wait's progress (changes come by the thousand).
_DISPLAY_INTERVAL = 0.1
#: Watched beyond the start-up grace: the node's word of an exit at the very end of the window
#: (a failure during activation) still has to reach the registry and then us.
_GRACE_MARGIN = 0.1


async def watch_until_ready(
    api: AdminApi,
    readiness: Readiness,
    seconds: float | None,
    on_change: Callable[[Readiness], None],
    grace: float = 0.0,
) -> bool:
    """Feed `readiness` from WatchServers until settled, and each active server has outlived
    the start-up `grace` (see Readiness.grace_left); False if `seconds` ran out first."""
    import asyncio  # here, not at the top: console_format's state names load this module

    readiness.set_nodes(await api.node_list())
    request = admin_pb2.WatchServersRequest(application=readiness.application)
    # The stream is read by a task into a queue: waiting on the queue for a bounded time
    # (the grace) cancels nothing but that wait, never the stream itself.
    replies: asyncio.Queue[admin_pb2.WatchServersReply | BaseException | None] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for reply in api.watch_servers(request):
                replies.put_nowait(reply)
            replies.put_nowait(None)
        except Exception as exc:  # the caller's to raise, not the task's
            replies.put_nowait(exc)

    pumping = asyncio.create_task(pump())
    window = grace + _GRACE_MARGIN if grace > 0 else 0.0
    shown, stale = -_DISPLAY_INTERVAL, False  # last redraw; changes fed since then
    try:
        async with asyncio.timeout(seconds):
            while True:
                # The display walks every server: ten times a second is enough for eyes.
                now = time.monotonic()
                if stale and now >= shown + _DISPLAY_INTERVAL:
                    on_change(readiness)
                    shown, stale = now, False
                wait = readiness.grace_left(window, time.time()) if readiness.settled else None
                if wait is not None and wait <= 0:
                    if stale:
                        on_change(readiness)
                    return True
                if stale:  # wake up for the redraw still owed, changes or not
                    owed = shown + _DISPLAY_INTERVAL - now
                    wait = owed if wait is None else min(wait, owed)
                try:
                    async with asyncio.timeout(wait):
                        batch = [await replies.get()]
                except TimeoutError:
                    continue  # a redraw is due, or the grace passed: look again
                # Whatever else has arrived is taken too, before anything looks at the whole:
                # settled, the display and the grace walk every server (a start of 1000
                # servers brings thousands of changes in a few seconds).
                while not replies.empty():
                    batch.append(replies.get_nowait())
                for item in batch:
                    if isinstance(item, BaseException):
                        raise item
                    if item is None:  # the registry ended the stream
                        on_change(readiness)
                        return readiness.settled and not readiness.grace_left(window, time.time())
                    readiness.feed(item)
                stale = True
    except TimeoutError:
        return False
    finally:
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pumping
