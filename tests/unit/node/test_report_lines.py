"""The node's log lines for a server's reports (shoal.node.supervisor._log_reports): one line per
run of state changes, and one per exit nobody asked for. Actions as the machine makes them."""

from __future__ import annotations

import logging
import signal

import pytest

from shoal.node.events import PublicState, Publish, RecordExit
from shoal.node.restart import Exit
from shoal.node.supervisor import _log_reports

SID = "S-1"
KILLED = Exit(at=2.0, signal=signal.SIGTERM, pid=42)


def publish(state: PublicState, reason: str, pid: int | None = None) -> Publish:
    return Publish(SID, state, True, reason, at=2.0, pid=pid)


def lines(
    caplog: pytest.LogCaptureFixture, *actions: Publish | RecordExit
) -> list[tuple[str, str]]:
    with caplog.at_level(logging.INFO, logger="shoal.node.supervisor"):
        _log_reports(actions)
    return [(r.levelname, r.getMessage()) for r in caplog.records]


def test_a_requested_stop_ends_with_its_inactive_line_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stopped = publish(PublicState.INACTIVE, "stopped (killed by SIGTERM)")
    assert lines(caplog, stopped, RecordExit(SID, KILLED, expected=True)) == [
        ("INFO", "server S-1: Inactive (pid -): stopped (killed by SIGTERM)"),
    ]


def test_a_restart_logs_its_inactive_line_before_its_activating_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert lines(
        caplog,
        publish(PublicState.INACTIVE, "stopped (killed by SIGTERM)"),
        RecordExit(SID, KILLED, expected=True),
        publish(PublicState.ACTIVATING, "queued start"),
    ) == [
        ("INFO", "server S-1: Inactive (pid -): stopped (killed by SIGTERM)"),
        ("INFO", "server S-1: Activating (pid -): queued start"),
    ]


def test_an_exit_nobody_asked_for_has_its_own_line(caplog: pytest.LogCaptureFixture) -> None:
    crashed = Exit(at=2.0, signal=signal.SIGSEGV, pid=42)
    ended = Exit(at=2.0, code=0, pid=43)
    assert lines(
        caplog,
        publish(PublicState.INACTIVE, "killed by SIGSEGV"),
        RecordExit(SID, crashed, expected=False),
        RecordExit(SID, ended, expected=False),
    ) == [
        ("INFO", "server S-1: Inactive (pid -): killed by SIGSEGV"),
        ("WARNING", "server S-1: pid 42 killed by SIGSEGV (unexpected)"),
        ("INFO", "server S-1: pid 43 exited with code 0 (unexpected)"),
    ]
