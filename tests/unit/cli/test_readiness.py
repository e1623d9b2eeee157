"""What `admin start` and `waitup` wait for, fed WatchServers events with no registry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from shoal.cli.readiness import Readiness, watch_until_ready
from shoal.errors import UnreachableError
from shoal.rpc import admin_pb2, common_pb2


def status(
    server_id: str,
    state: int = common_pb2.INACTIVE,
    *,
    node: str = "master",
    activation: str = "always",
    enabled: bool = True,
    by: int = common_pb2.ServerStatus.NONE,
    pid: int = 0,
    started_at: float | None = None,
) -> common_pb2.ServerStatus:
    started = Timestamp()
    if started_at is not None:
        started.FromNanoseconds(int(started_at * 1e9))
    return common_pb2.ServerStatus(
        started_at=started if started_at is not None else None,
        server_id=server_id,
        node=node,
        application="App",
        state=state,
        activation=activation,
        enabled=enabled,
        disabled_by=by,
        pid=pid,
    )


def snapshot(*servers: common_pb2.ServerStatus) -> admin_pb2.WatchServersReply:
    return admin_pb2.WatchServersReply(snapshot=admin_pb2.ServerSnapshot(servers=servers))


def node(name: str, up: bool) -> admin_pb2.WatchServersReply:
    return admin_pb2.WatchServersReply(
        node=common_pb2.NodeStatus(info=common_pb2.NodeInfo(name=name), up=up)
    )


def test_nothing_is_settled_before_the_snapshot() -> None:
    readiness = Readiness("App", nodes_up={"master"})
    assert not readiness.settled


def test_settled_when_every_always_server_on_an_up_node_is_active() -> None:
    readiness = Readiness("App", nodes_up={"master"})
    readiness.feed(snapshot(status("A"), status("M", activation="manual")))
    assert [s.server_id for s in readiness.waiting] == ["A"]
    readiness.feed(admin_pb2.WatchServersReply(changed=status("A", common_pb2.ACTIVE, pid=7)))
    assert readiness.settled
    assert [s.server_id for s in readiness.active] == ["A"]


def test_servers_of_a_node_that_is_not_up_are_pending_not_failed() -> None:
    readiness = Readiness("App", nodes_up={"master"})
    readiness.feed(snapshot(status("A", common_pb2.ACTIVE), status("R", node="node1")))
    assert readiness.settled
    assert readiness.pending_nodes == {"node1": ["R"]}
    readiness.feed(node("node1", True))
    assert not readiness.settled  # node1 came up: now R is waited for


def test_a_server_disabled_by_failure_is_failed_with_its_last_exit() -> None:
    readiness = Readiness("App", nodes_up={"master"})
    crashed = status("C", enabled=False, by=common_pb2.ServerStatus.FAILURE)
    crashed.last_exit.description = "exited with code 3"
    readiness.feed(snapshot(crashed))
    assert readiness.failed == {"C": "disabled after failing; last exit: exited with code 3"}
    assert readiness.settled


def test_other_applications_and_removed_servers_are_ignored() -> None:
    readiness = Readiness("App", nodes_up={"master"})
    other = status("O")
    other.application = "Other"
    readiness.feed(snapshot(status("A"), other))
    readiness.feed(admin_pb2.WatchServersReply(removed="A"))
    assert readiness.settled
    assert readiness.servers == {}


def test_a_crash_loop_passing_through_active_is_not_ready() -> None:
    readiness = Readiness("App", nodes_up={"master"})
    readiness.feed(snapshot(status("C", common_pb2.ACTIVATING)))
    crashed = status("C", common_pb2.ACTIVATING)
    crashed.last_exit.description = "exited with code 3"
    crashed.last_exit.failure = True
    crashed.restart_count = 1
    readiness.feed(admin_pb2.WatchServersReply(changed=crashed))
    again = status("C", common_pb2.ACTIVE, pid=9)
    again.last_exit.CopyFrom(crashed.last_exit)
    again.restart_count = 1
    readiness.feed(admin_pb2.WatchServersReply(changed=again))
    assert not readiness.settled  # active again, but it failed during the wait
    assert "C" in readiness.failures(settled=False)  # reported when time runs out
    assert readiness.failures(settled=True) == {}


def test_server_ids_sort_with_their_numbers_in_order() -> None:
    readiness = Readiness()
    readiness.feed(node("master", True))
    readiness.feed(snapshot(*(status(f"S-{n}", common_pb2.ACTIVE) for n in (10, 2, 1))))
    assert [s.server_id for s in readiness.active] == ["S-1", "S-2", "S-10"]


def test_a_start_waits_until_each_active_server_outlived_the_grace() -> None:
    readiness = Readiness("App", nodes_up={"master"})
    readiness.feed(
        snapshot(
            status("A", common_pb2.ACTIVE, pid=7, started_at=100.0),
            status("B", common_pb2.ACTIVE, pid=8, started_at=100.1),
        )
    )
    assert readiness.settled
    assert readiness.grace_left(0.25, now=100.2) == pytest.approx(0.15)
    assert readiness.grace_left(0.25, now=100.4) == 0.0
    assert readiness.grace_left(0.0, now=100.2) == 0.0


def test_a_node_clock_ahead_of_ours_stretches_the_grace_no_further() -> None:
    readiness = Readiness("App", nodes_up={"master"})
    readiness.feed(snapshot(status("A", common_pb2.ACTIVE, pid=7, started_at=500.0)))
    assert readiness.grace_left(0.25, now=100.0) == 0.25


# ---------------------------------------------------------------- watch_until_ready, scripted


class ScriptedApi:
    """The two calls a wait makes, answering from a script: no registry, no sockets."""

    def __init__(self, *replies: admin_pb2.WatchServersReply | Exception) -> None:
        self.replies = replies

    async def node_list(self) -> list[common_pb2.NodeStatus]:
        return [common_pb2.NodeStatus(info=common_pb2.NodeInfo(name="master"), up=True)]

    async def watch_servers(
        self, request: admin_pb2.WatchServersRequest
    ) -> AsyncIterator[admin_pb2.WatchServersReply]:
        for reply in self.replies:
            if isinstance(reply, Exception):
                raise reply
            yield reply
        await asyncio.Event().wait()  # the stream stays open, as the registry's does


def watch(api: ScriptedApi, grace: float, seconds: float = 30.0) -> tuple[bool, Readiness, int]:
    readiness = Readiness("App")
    shown: list[int] = []
    settled = asyncio.run(
        watch_until_ready(
            api,  # type: ignore[arg-type]
            readiness,
            seconds,
            lambda r: shown.append(len(r.servers)),
            grace,
        )
    )
    return settled, readiness, len(shown)


def changed(status: common_pb2.ServerStatus) -> admin_pb2.WatchServersReply:
    return admin_pb2.WatchServersReply(changed=status)


def test_a_server_that_dies_within_the_grace_is_reported_though_it_was_active() -> None:
    now = time.time()
    dead = status("A", common_pb2.INACTIVE, enabled=False, by=common_pb2.ServerStatus.FAILURE)
    dead.last_exit.CopyFrom(common_pb2.ExitInfo(code=1, failure=True, description="exit 1"))
    api = ScriptedApi(
        snapshot(status("A", common_pb2.ACTIVE, pid=7, started_at=now)), changed(dead)
    )
    settled, readiness, _ = watch(api, grace=0.25)
    assert settled
    assert readiness.failures(settled) == {"A": "disabled after failing; last exit: exit 1"}


def test_the_wait_ends_once_the_grace_has_passed_for_every_server() -> None:
    started = time.time()
    api = ScriptedApi(snapshot(status("A", common_pb2.ACTIVE, pid=7, started_at=started)))
    settled, readiness, shown = watch(api, grace=0.2)
    assert settled and [s.server_id for s in readiness.active] == ["A"]
    assert time.time() - started >= 0.2
    assert shown >= 1  # the last state is shown


def test_thousands_of_changes_are_taken_in_batches_and_drawn_a_few_times() -> None:
    servers = [status(f"S-{i}", common_pb2.ACTIVATING) for i in range(1000)]
    actives = [changed(status(f"S-{i}", common_pb2.ACTIVE, pid=i + 1)) for i in range(1000)]
    settled, readiness, shown = watch(ScriptedApi(snapshot(*servers), *actives), grace=0.0)
    assert settled and len(readiness.active) == 1000
    assert shown < 50


def test_a_broken_stream_is_the_callers_error() -> None:
    api = ScriptedApi(snapshot(status("A", common_pb2.ACTIVATING)), UnreachableError("gone"))
    with pytest.raises(UnreachableError):
        watch(api, grace=0.0)


def test_time_running_out_is_not_settled() -> None:
    settled, _, _ = watch(ScriptedApi(snapshot(status("A", common_pb2.ACTIVATING))), 0.0, 0.2)
    assert not settled
