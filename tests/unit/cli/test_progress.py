"""What a wait prints when piped: each failure once, nothing per state change (the command
prints the summary with counts), so a large grid does not flood a log."""

from __future__ import annotations

from typing import Any

import pytest

from shoal.cli.progress import ProgressDisplay
from shoal.cli.readiness import Readiness
from shoal.rpc import admin_pb2, common_pb2


def server(server_id: str, state: Any, *, enabled: bool = True) -> common_pb2.ServerStatus:
    return common_pb2.ServerStatus(
        server_id=server_id,
        node="master",
        state=state,
        activation="always",
        enabled=enabled,
        disabled_by=common_pb2.ServerStatus.NONE if enabled else common_pb2.ServerStatus.FAILURE,
    )


def test_piped_a_wait_for_200_servers_prints_only_the_failures_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    readiness = Readiness(nodes_up={"master"})
    ids = [f"S-{n}" for n in range(1, 201)]
    readiness.feed(
        admin_pb2.WatchServersReply(
            snapshot=admin_pb2.ServerSnapshot(servers=[server(i, common_pb2.INACTIVE) for i in ids])
        )
    )
    with ProgressDisplay(terminal=False) as display:
        display.update(readiness)
        for state in (common_pb2.ACTIVATING, common_pb2.ACTIVE):
            for server_id in ids:
                readiness.feed(admin_pb2.WatchServersReply(changed=server(server_id, state)))
                display.update(readiness)
        for server_id in ("S-10", "S-2"):
            failed = server(server_id, common_pb2.INACTIVE, enabled=False)
            readiness.feed(admin_pb2.WatchServersReply(changed=failed))
            display.update(readiness)
        display.update(readiness)
    assert capsys.readouterr().out.splitlines() == [
        "  S-10 (master): FAILED: disabled after failing",
        "  S-2 (master): FAILED: disabled after failing",
    ]
