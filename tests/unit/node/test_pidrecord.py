"""The pid record and the cleanup a restarted node does with it, with real processes.

The "previous node's servers" here are children of the test runner started in their own process
group, so the test reaps them itself; `reap_leftovers` counts a zombie as dead.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shoal.node.pidrecord import (
    Leftover,
    Outcome,
    PidEntry,
    PidRecord,
    process_start_time,
    read_proc_stat,
    reap_leftovers,
    scan_processes,
)

MISBEHAVE = str(Path(__file__).parents[2] / "servers" / "misbehave.py")
WAIT = 10.0


class Servers:
    """Sleeping misbehave.py processes in their own groups, killed and reaped at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, *options: str) -> PidEntry:
        output = self.tmp_path / f"out{len(self.started)}"
        with output.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-S", MISBEHAVE, *options], stdout=out, process_group=0
            )
        self.started.append(process)
        deadline = time.monotonic() + WAIT
        while "ready" not in output.read_text().splitlines():  # bounded: handlers installed
            assert time.monotonic() < deadline and process.poll() is None, output.read_text()
            time.sleep(0.005)
        start_time = process_start_time(process.pid)
        assert start_time is not None
        return PidEntry(f"Server-{len(self.started)}", process.pid, process.pid, start_time)

    def returncode(self, entry: PidEntry) -> int:
        [process] = [p for p in self.started if p.pid == entry.pid]
        return process.wait(WAIT)

    def clean_up(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(WAIT)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    servers = Servers(tmp_path)
    yield servers
    servers.clean_up()


def test_record_keeps_what_was_added_until_removed(tmp_path: Path) -> None:
    record = PidRecord(tmp_path / "var" / "node1" / "pids")
    first, second = PidEntry("A", 20, 20, 100), PidEntry("B", 3, 3, 200)

    record.add(first)
    record.add(second)

    assert record.entries() == [second, first]
    assert [p.name for p in record.record_dir.iterdir()] == ["journal"], "one file for all"
    record.remove(3)
    record.remove(3)  # twice: not an error
    assert record.entries() == [first]
    assert PidRecord(record.record_dir).entries() == [first], "as another run reads it"


def test_a_pid_reused_after_a_removal_is_recorded_again(tmp_path: Path) -> None:
    record = PidRecord(tmp_path)
    record.add(PidEntry("A", 7, 7, 1))
    record.remove(7)
    record.add(PidEntry("B", 7, 7, 2))

    assert PidRecord(tmp_path).entries() == [PidEntry("B", 7, 7, 2)]


def test_record_of_a_node_that_never_ran_is_empty(tmp_path: Path) -> None:
    assert PidRecord(tmp_path / "nowhere").entries() == []
    assert reap_leftovers(tmp_path / "nowhere") == []


def test_unreadable_record_files_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    record = PidRecord(tmp_path)
    record.add(PidEntry("A", 7, 7, 1))
    (tmp_path / "8.json").write_text("{not json")
    (tmp_path / "9.json").write_text(json.dumps({"server_id": "B", "pid": 9}))

    with caplog.at_level(logging.WARNING):
        assert record.entries() == [PidEntry("A", 7, 7, 1)]

    assert "8.json" in caplog.text and "9.json" in caplog.text


def test_a_line_cut_short_by_a_crash_is_skipped_and_the_next_ones_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    record = PidRecord(tmp_path)
    record.add(PidEntry("A", 7, 7, 1))
    with (tmp_path / "journal").open("a") as journal:
        journal.write('+{"server_id": "B", "pi\n-\nbogus\n')
    record.add(PidEntry("C", 9, 9, 3))

    with caplog.at_level(logging.WARNING):
        assert record.entries() == [PidEntry("A", 7, 7, 1), PidEntry("C", 9, 9, 3)]

    assert caplog.text.count("ignoring line") == 3


def test_files_of_earlier_versions_are_read_and_emptied_with_the_rest(
    tmp_path: Path, servers: Servers
) -> None:
    """Before the journal, each process had a `PID.json` file: a node upgraded after a crash
    must still clean up what those name."""
    running = servers.start()
    gone = PidEntry("Old-2", 2**22 + 1, 2**22 + 1, 5)  # above pid_max: never a process
    for entry in (running, gone):
        fields = {"server_id": entry.server_id, "pid": entry.pid, "pgid": entry.pgid}
        (tmp_path / f"{entry.pid}.json").write_text(
            json.dumps({**fields, "start_time": entry.start_time}) + "\n"
        )
    PidRecord(tmp_path).add(PidEntry("New-1", 2**22 + 2, 2**22 + 2, 6))

    outcomes = {left.entry.server_id: left.outcome for left in reap_leftovers(tmp_path, grace=WAIT)}

    assert outcomes == {
        "Server-1": Outcome.TERMINATED,
        "Old-2": Outcome.GONE,
        "New-1": Outcome.GONE,
    }
    assert servers.returncode(running) == -signal.SIGTERM
    assert list(tmp_path.iterdir()) == [tmp_path / "out0"], "record files all removed"


def test_the_journal_is_rewritten_with_the_live_entries_once_long(tmp_path: Path) -> None:
    record = PidRecord(tmp_path)
    live = PidEntry("Live", 5, 5, 50)
    record.add(live)
    (tmp_path / "6.json").write_text(  # an earlier version's, still live
        json.dumps({"server_id": "Old", "pid": 6, "pgid": 6, "start_time": 60})
    )
    for pid in range(100, 700):  # a server crashing and restarted 600 times: 1200 lines
        record.add(PidEntry("Crashing", pid, pid, pid))
        record.remove(pid)

    assert len((tmp_path / "journal").read_text().splitlines()) < 1000, "never rewritten"
    assert record.entries() == [live, PidEntry("Old", 6, 6, 60)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal"]
    record.add(PidEntry("After", 9, 9, 90))  # appended to the new file
    assert PidRecord(tmp_path).entries()[-1] == PidEntry("After", 9, 9, 90)
    record.close()


def test_proc_stat_reads_this_process() -> None:
    stat = read_proc_stat(os.getpid())
    assert stat is not None and stat.alive and stat.pgid == os.getpgid(0)
    assert stat.start_time > 0 and process_start_time(os.getpid()) == stat.start_time
    assert os.getpid() in scan_processes()
    assert read_proc_stat(2**22 + 1) is None  # above pid_max: never a process


def test_leftover_running_server_is_terminated(tmp_path: Path, servers: Servers) -> None:
    entry = servers.start("--grandchild")
    PidRecord(tmp_path / "pids").add(entry)

    [leftover] = reap_leftovers(tmp_path / "pids", grace=WAIT)

    assert leftover.outcome is Outcome.TERMINATED and entry.pid in leftover.pids
    assert len(leftover.pids) == 2, "the leader and its child in the group"
    assert servers.returncode(entry) == -signal.SIGTERM
    assert PidRecord(tmp_path / "pids").entries() == []
    assert str(leftover).startswith(f"Server-1 pid {entry.pid}: terminated (pids ")


def test_leftover_ignoring_sigterm_is_killed_after_the_grace(
    tmp_path: Path, servers: Servers
) -> None:
    entry = servers.start("--ignore-term")
    PidRecord(tmp_path / "pids").add(entry)

    [leftover] = reap_leftovers(tmp_path / "pids", grace=0.1)

    assert leftover == Leftover(entry, Outcome.KILLED, (entry.pid,))
    assert servers.returncode(entry) == -signal.SIGKILL


def test_reused_pid_is_not_killed(tmp_path: Path, servers: Servers) -> None:
    """The pid is recorded, but its process started at another time: someone else's now."""
    running = servers.start()
    stale = PidEntry("Old-0", running.pid, running.pgid, running.start_time - 1)
    PidRecord(tmp_path / "pids").add(stale)

    assert reap_leftovers(tmp_path / "pids", grace=0.1) == [Leftover(stale, Outcome.PID_REUSED)]

    stat = read_proc_stat(running.pid)
    assert stat is not None and stat.alive, "a stranger with a reused pid must live on"
    assert PidRecord(tmp_path / "pids").entries() == []


def test_server_already_gone_is_reported_gone(tmp_path: Path, servers: Servers) -> None:
    entry = servers.start("--exit", "0")
    assert servers.returncode(entry) == 0
    PidRecord(tmp_path / "pids").add(entry)

    assert reap_leftovers(tmp_path / "pids") == [Leftover(entry, Outcome.GONE)]
