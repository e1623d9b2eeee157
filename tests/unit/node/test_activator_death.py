"""A node killed with SIGKILL leaves nothing running.

A "fake node" (tests/servers/fake_node.py, a real Python process using the Activator and the
node's Watchdog) starts servers and prints their pids; the test SIGKILLs the fake node. Its
watchdog sees its pipe close and kills every server's process group, the servers' own children
included. Should the watchdog die too, the restarted node cleans up from its pid record.
With --grpc the fake node runs gRPC's threads while it spawns: spawning must not crash there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from test_watchdog import is_alive, until  # the same bounded polling as the watchdog tests

from shoal.node.pidrecord import Outcome, read_proc_stat, reap_leftovers

SERVERS = Path(__file__).parents[2] / "servers"
WAIT = 10.0


class FakeNode:
    """The fake node process, its watchdog, the servers it started and what they printed."""

    def __init__(
        self, tmp_path: Path, options: Sequence[str], server_options: Sequence[str], count: int
    ) -> None:
        self.record_dir = tmp_path / "pids"
        self.output = tmp_path / "out"
        self.count = count
        fake_node = [sys.executable, str(SERVERS / "fake_node.py"), "--count", str(count)]
        self.process = subprocess.Popen(
            [*fake_node, *options, str(self.record_dir), str(self.output), *server_options],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # EOF, not a hang, if the fake node fails
        fields = dict(field.split("=", 1) for field in line.split() if "=" in field)
        if set(fields) != {"watchdog", "servers"}:
            self.process.kill()
            self.process.communicate(timeout=WAIT)
            raise AssertionError(f"fake node printed {line!r}")
        self.watchdog_pid = int(fields["watchdog"])
        self.server_pids = [int(pid) for pid in fields["servers"].split(",")]
        # Start times, so that the cleanup never signals a pid that was reused meanwhile.
        self.start_times = {
            pid: stat.start_time
            for pid in [self.watchdog_pid, *self.server_pids]
            if (stat := read_proc_stat(pid)) is not None
        }

    def printed(self, key: str) -> list[int]:
        """The `key=N` values the servers printed, once every one of them is ready."""
        lines: list[str] = []

        def all_ready() -> bool:
            lines[:] = self.output.read_text().splitlines() if self.output.exists() else []
            return lines.count("ready") == self.count

        until("all ready", all_ready)
        return [int(line.split("=", 1)[1]) for line in lines if line.startswith(f"{key}=")]

    def exits(self) -> list[str]:
        """The `exit PID RETURNCODE` lines, once the fake node has exited by itself."""
        assert self.process.stdout is not None
        # Through the file object: its buffer may hold lines already (communicate skips it).
        out = self.process.stdout.read()  # up to EOF: the fake node exits by itself
        assert self.process.wait(WAIT) == 0
        return out.splitlines()

    def sigkill(self) -> None:
        self.process.kill()
        self.process.wait(WAIT)

    def everything_gone(self, *others: int) -> bool:
        return not any(map(is_alive, [*self.server_pids, self.watchdog_pid, *others]))

    def clean_up(self) -> None:
        self.sigkill()
        assert self.process.stdout is not None
        self.process.stdout.close()
        for pid, start_time in self.start_times.items():
            stat = read_proc_stat(pid)
            if stat is not None and stat.start_time == start_time:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for pgid in self.server_pids:
            leader = read_proc_stat(pgid)
            if leader is None or leader.start_time == self.start_times.get(pgid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)


@pytest.fixture
def fake_node(tmp_path: Path) -> Iterator[Callable[..., FakeNode]]:
    """Starts fake nodes: `fake_node(*server_options, node=(fake node options), count=N)`."""
    nodes: list[FakeNode] = []

    def start(*server_options: str, node: Sequence[str] = (), count: int = 1) -> FakeNode:
        nodes.append(FakeNode(tmp_path, node, server_options, count))
        return nodes[-1]

    yield start
    for each in nodes:
        each.clean_up()


def test_a_sigkilled_node_takes_its_servers_and_their_children_along(
    fake_node: Callable[..., FakeNode],
) -> None:
    """SIGTERM ignored, a child in the group: it takes the watchdog's SIGKILL after the grace."""
    node = fake_node("--ignore-term", "--grandchild", node=("--grace", "0.3"), count=2)
    grandchildren = node.printed("grandchild")
    assert len(grandchildren) == 2

    node.sigkill()

    until(
        "servers, their children and the watchdog gone",
        lambda: node.everything_gone(*grandchildren),
    )


def test_a_node_running_grpc_spawns_without_crashes_and_its_death_is_covered(
    fake_node: Callable[..., FakeNode],
) -> None:
    """gRPC's threads run while 20 servers are spawned: each one execs and runs (the old
    pre-exec callback could crash the forked child), and SIGKILL of the node stops them all."""
    node = fake_node("--grandchild", node=("--grpc",), count=20)
    grandchildren = node.printed("grandchild")
    assert len(grandchildren) == 20
    assert all(map(is_alive, node.server_pids))

    node.sigkill()

    until(
        "servers, their children and the watchdog gone",
        lambda: node.everything_gone(*grandchildren),
    )


def test_servers_spawned_under_grpc_threads_all_exit_normally(
    fake_node: Callable[..., FakeNode],
) -> None:
    node = fake_node("--exit", "0", node=("--grpc",), count=20)

    exits = node.exits()

    assert sorted(exits) == sorted(f"exit {pid} 0" for pid in node.server_pids)
    until("the watchdog gone (closed cleanly)", lambda: not is_alive(node.watchdog_pid))


def test_when_the_watchdog_dies_too_the_restarted_node_cleans_by_its_record(
    fake_node: Callable[..., FakeNode],
) -> None:
    node = fake_node("--grandchild")
    [grandchild] = node.printed("grandchild")
    [server] = node.server_pids

    os.kill(node.watchdog_pid, signal.SIGKILL)  # no cleanup: it dies without reading EOF
    node.sigkill()
    until("the watchdog gone", lambda: not is_alive(node.watchdog_pid))
    assert is_alive(server) and is_alive(grandchild)

    [leftover] = reap_leftovers(node.record_dir, grace=WAIT)

    assert leftover.outcome is Outcome.TERMINATED and leftover.pids == (server, grandchild)
    assert leftover.entry.server_id == "Sleeper" and leftover.entry.pid == server
    until("server and grandchild gone", lambda: not is_alive(server) and not is_alive(grandchild))
    assert reap_leftovers(node.record_dir) == [], "the record is emptied"
