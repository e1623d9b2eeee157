"""A node killed with SIGKILL leaves nothing running.

A "fake node" (tests/servers/fake_node.py, a real Python process using the Activator) starts a
server and prints its pid; the test SIGKILLs the fake node. PR_SET_PDEATHSIG takes the server
down with it; the server's own children are not covered by that, and the pid record cleanup of
the restarted node (`reap_leftovers`) takes them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shoal.node.pidrecord import Outcome, read_proc_stat, reap_leftovers

SERVERS = Path(__file__).parents[2] / "servers"
WAIT = 10.0


def is_alive(pid: int) -> bool:
    stat = read_proc_stat(pid)
    return stat is not None and stat.alive


def until(condition: str, check: object, timeout: float = WAIT) -> None:
    """Poll `check()` (bounded) until true; fail naming `condition`."""
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not {condition} after {timeout} s"
        time.sleep(0.005)


class FakeNode:
    """The fake node process, the server it started, and what that server printed."""

    def __init__(self, tmp_path: Path, *options: str) -> None:
        self.record_dir = tmp_path / "pids"
        self.output = tmp_path / "out"
        fake_node = [sys.executable, str(SERVERS / "fake_node.py")]
        self.process = subprocess.Popen(
            [*fake_node, str(self.record_dir), str(self.output), *options],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # EOF, not a hang, if the fake node fails
        if not line.strip().isdigit():
            self.process.kill()
            self.process.communicate(timeout=WAIT)
            raise AssertionError(f"fake node printed {line!r}")
        self.server_pid = int(line)

    def printed(self, key: str) -> int:
        lines: list[str] = []

        def has_ready() -> bool:
            lines[:] = self.output.read_text().splitlines() if self.output.exists() else []
            return "ready" in lines

        until("ready", has_ready)
        return int(dict(line.split("=", 1) for line in lines if "=" in line)[key])

    def sigkill(self) -> None:
        self.process.kill()
        self.process.wait(WAIT)

    def clean_up(self) -> None:
        self.sigkill()
        assert self.process.stdout is not None
        self.process.stdout.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.server_pid, signal.SIGKILL)


@pytest.fixture
def fake_node_factory(tmp_path: Path) -> Iterator[list[FakeNode]]:
    nodes: list[FakeNode] = []
    yield nodes
    for node in nodes:
        node.clean_up()


def test_a_sigkilled_node_takes_its_server_along(
    tmp_path: Path, fake_node_factory: list[FakeNode]
) -> None:
    node = FakeNode(tmp_path, "--ignore-term", "--show", "pid")
    fake_node_factory.append(node)
    node.printed("pid")

    node.sigkill()

    until(f"server {node.server_pid} gone", lambda: not is_alive(node.server_pid))


def test_what_pdeathsig_misses_the_restarted_node_cleans_by_its_record(
    tmp_path: Path, fake_node_factory: list[FakeNode]
) -> None:
    """The server's child does not get the parent-death signal: reap_leftovers kills it."""
    node = FakeNode(tmp_path, "--grandchild")
    fake_node_factory.append(node)
    grandchild = node.printed("grandchild")

    node.sigkill()
    until(f"server {node.server_pid} gone", lambda: not is_alive(node.server_pid))
    assert is_alive(grandchild), "the parent-death signal is not inherited by a grandchild"

    [leftover] = reap_leftovers(node.record_dir, grace=WAIT)

    assert leftover.outcome is Outcome.TERMINATED and leftover.pids == (grandchild,)
    assert leftover.entry.server_id == "Sleeper" and leftover.entry.pid == node.server_pid
    until(f"grandchild {grandchild} gone", lambda: not is_alive(grandchild))
    assert reap_leftovers(node.record_dir) == [], "the record is emptied"
