"""Which server processes a node started, kept on disk so a node restarted after a crash can kill
the ones its death left running (when its watchdog could not: it was killed too).

One append-only file, `RECORD_DIR/journal` (the node uses `var/NODE/pids/`): a line when a server
starts, another when it is reaped, each one `write`. No file is made per process (it was, then
renamed: ~150 us a spawn, ms where making files is slow); a line costs ~10 us.

    +{"server_id": "S1", "pid": 4242, "pgid": 4242, "start_time": 98765}
    -4242

Replayed in order, the lines give the processes still recorded (a pid reused later is added
again after its removal). A line cut short by a crash is skipped with a warning. A reap after
1000 lines rewrites the file with the live entries only (write, then rename).
Earlier versions wrote one `PID.json` file per process: those are still read, and removed with
the rest. A process is identified by pid *and* start time (field 22 of /proc/PID/stat): a pid the
kernel gave to someone else since is never signalled.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PidEntry:
    """One started server process: its group id is its pid (each server leads its own group)."""

    server_id: str
    pid: int
    pgid: int
    start_time: int  # /proc/PID/stat field 22: clock ticks after boot


@dataclass(frozen=True)
class ProcStat:
    """What /proc/PID/stat says about a process, as far as cleaning up needs."""

    pid: int
    state: str  # "R", "S", "Z" (zombie) ...
    pgid: int
    start_time: int

    @property
    def alive(self) -> bool:
        """False for a zombie: it is dead, only its parent has not reaped it yet."""
        return self.state not in ("Z", "X")


def read_proc_stat(pid: int) -> ProcStat | None:
    """The /proc/PID/stat of a process, or None when no such process exists."""
    try:
        # os-level calls: the builtin open's buffered file object costs more than the read, and
        # every spawn reads its process's start time.
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, ProcessLookupError):
        return None
    try:
        text = os.read(fd, 4096).decode(errors="replace")
    except ProcessLookupError:  # it vanished between the open and the read
        return None
    finally:
        os.close(fd)
    # The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    fields = text.rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state), fields[2] field 5 (pgrp), fields[19] field 22 (starttime).
    return ProcStat(pid, fields[0], int(fields[2]), int(fields[19]))


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (clock ticks after boot), or None when `pid` does not exist."""
    stat = read_proc_stat(pid)
    return None if stat is None else stat.start_time


def scan_processes() -> dict[int, ProcStat]:
    """Every process on the host, by pid (one pass over /proc)."""
    found: dict[int, ProcStat] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = read_proc_stat(int(name))
            if stat is not None:
                found[stat.pid] = stat
    return found


JOURNAL = "journal"
#: Lines appended before the journal is rewritten with the live entries only (on a reap).
_COMPACT_AFTER = 1000


class PidRecord:
    """The record directory of one node: `add` when a server starts, `remove` when it is reaped.

    One object per directory at a time (the node's pidfile sees to that); not thread-safe.
    """

    def __init__(self, record_dir: str | os.PathLike[str]) -> None:
        self.record_dir = Path(record_dir)
        self._journal = self.record_dir / JOURNAL
        self._fd: int | None = None
        self._appended = 0  # lines appended since the journal was last rewritten
        self._torn = False  # a write was cut short: the next line starts on a new one

    def add(self, entry: PidEntry) -> None:
        """Record a started process: one line appended (OSError when it cannot be)."""
        self._append(_added(entry))

    def remove(self, pid: int) -> None:
        """Forget a reaped process; forgetting one that is not recorded is not an error."""
        self._append(f"-{pid}\n")
        if self._appended > _COMPACT_AFTER:
            self._compact()

    def entries(self) -> list[PidEntry]:
        """Every recorded process, by pid; an unreadable file or line is logged and skipped."""
        if not self.record_dir.is_dir():
            return []
        found: dict[int, PidEntry] = {}
        for path in sorted(self.record_dir.glob("*.json")):  # earlier versions: a file each
            try:
                entry = _entry(json.loads(path.read_text()))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                _log.warning("ignoring unreadable pid record %s: %s", path, exc)
                continue
            found[entry.pid] = entry
        try:
            text = self._journal.read_text(errors="replace")
        except FileNotFoundError:
            text = ""
        for number, line in enumerate(text.splitlines(), 1):
            try:
                if line.startswith("+"):
                    entry = _entry(json.loads(line[1:]))
                    found[entry.pid] = entry
                elif line.startswith("-"):
                    found.pop(int(line[1:]), None)
                else:
                    raise ValueError("neither + nor -")
            except (ValueError, KeyError, TypeError) as exc:
                _log.warning(
                    "ignoring line %d of the pid record %s: %s", number, self._journal, exc
                )
        return sorted(found.values(), key=lambda entry: entry.pid)

    def clear(self) -> None:
        """Forget every recorded process (the node reaped them all)."""
        self.close()
        self._journal.unlink(missing_ok=True)
        for path in self.record_dir.glob("*.json"):
            path.unlink(missing_ok=True)
        self._appended = 0
        self._torn = False

    def close(self) -> None:
        """Let go of the journal's descriptor (the next `add` or `remove` opens it again)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _append(self, line: str) -> None:
        if self._fd is None:
            self.record_dir.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(
                self._journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644
            )
        # No fsync: the record guards against the node dying, not the host (a crashed host has
        # no processes left to clean), and an fsync per start would cost more than the start.
        data = ("\n" + line if self._torn else line).encode()
        written = os.write(self._fd, data)
        if written != len(data):  # a full disk: what is there is a torn line
            self._torn = True
            raise OSError(errno.ENOSPC, f"short write to {self._journal}")
        self._torn = False
        self._appended += 1

    def _compact(self) -> None:
        """Rewrite the journal with the live entries only (older versions' files included, then
        removed): a reader sees the old file or the new one, whole (write, then rename)."""
        live = self.entries()
        temporary = self.record_dir / f".{JOURNAL}.tmp"
        temporary.write_text("".join(_added(entry) for entry in live))
        os.replace(temporary, self._journal)
        self.close()  # the next line goes to the new file
        self._appended = 0  # counted from this rewrite: with >1000 live, not every reap again
        self._torn = False
        for path in self.record_dir.glob("*.json"):
            path.unlink(missing_ok=True)


def _added(entry: PidEntry) -> str:
    """The journal line of a started process (no dataclasses.asdict: its deep copy is slow)."""
    fields = {
        "server_id": entry.server_id,
        "pid": entry.pid,
        "pgid": entry.pgid,
        "start_time": entry.start_time,
    }
    return f"+{json.dumps(fields)}\n"


def _entry(fields: Any) -> PidEntry:
    """A PidEntry from its JSON object; KeyError, TypeError or ValueError when it is not one."""
    return PidEntry(
        str(fields["server_id"]), int(fields["pid"]), int(fields["pgid"]), int(fields["start_time"])
    )


class Outcome(StrEnum):
    """What `reap_leftovers` did about one recorded process."""

    GONE = "gone"  # nothing of it was running
    PID_REUSED = "pid reused"  # its pid now names another process: left alone
    TERMINATED = "terminated"  # its group ended after SIGTERM
    KILLED = "killed"  # its group outlived the grace period and got SIGKILL


@dataclass(frozen=True)
class Leftover:
    """One recorded process, what was found of it and what was done."""

    entry: PidEntry
    outcome: Outcome
    pids: tuple[int, ...] = ()  # the live processes found in its group (and the leader)

    def __str__(self) -> str:
        found = f" (pids {', '.join(map(str, self.pids))})" if self.pids else ""
        return f"{self.entry.server_id} pid {self.entry.pid}: {self.outcome}{found}"


def _survivors(entry: PidEntry, processes: dict[int, ProcStat]) -> tuple[int, ...]:
    """Live processes that belong to a recorded server: its leader and its process group.

    Members of the group are the server's, even when the leader is gone: the kernel does not hand
    out a number still used as a group id, so the group cannot be someone else's.
    """
    leader = processes.get(entry.pid)
    pids = {stat.pid for stat in processes.values() if stat.pgid == entry.pgid and stat.alive}
    if leader is not None and leader.alive and leader.start_time == entry.start_time:
        pids.add(leader.pid)  # also when it left its group
    return tuple(sorted(pids))


def _signal(entry: PidEntry, pids: tuple[int, ...], signum: int) -> None:
    """Signal a server's group, and its leader (found alive in `pids`) should it have left it."""
    targets = [-entry.pgid] + ([entry.pid] if entry.pid in pids else [])
    for target in targets:
        with suppress(ProcessLookupError):
            os.kill(target, signum)  # a negative pid names a process group


def reap_leftovers(
    record_dir: str | os.PathLike[str],
    *,
    grace: float = 2.0,
    poll_interval: float = 0.02,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Leftover]:
    """Stop what a previous run of this node left running, then empty the record.

    For each recorded process: a pid now held by a process with another start time is left
    alone; otherwise its group (and leader) get SIGTERM, then SIGKILL once `grace` seconds have
    passed. Blocking (it polls /proc): a node calls it at start, before it spawns anything.
    """
    record = PidRecord(record_dir)
    entries = record.entries()
    processes = scan_processes() if entries else {}
    results: dict[int, Leftover] = {}
    pending: list[PidEntry] = []
    for entry in entries:
        leader = processes.get(entry.pid)
        if leader is not None and leader.start_time != entry.start_time:
            results[entry.pid] = Leftover(entry, Outcome.PID_REUSED)
            continue
        pids = _survivors(entry, processes)
        if not pids:
            results[entry.pid] = Leftover(entry, Outcome.GONE)
            continue
        results[entry.pid] = Leftover(entry, Outcome.TERMINATED, pids)
        _signal(entry, pids, signal.SIGTERM)
        pending.append(entry)

    deadline = clock() + grace
    while pending and clock() < deadline:
        sleep(poll_interval)
        processes = scan_processes()
        pending = [entry for entry in pending if _survivors(entry, processes)]

    processes = scan_processes() if pending else processes
    for entry in pending:
        _signal(entry, _survivors(entry, processes), signal.SIGKILL)
        found = results[entry.pid]
        results[entry.pid] = Leftover(entry, Outcome.KILLED, found.pids)

    record.clear()
    for leftover in results.values():
        if leftover.outcome is not Outcome.GONE:
            _log.warning("cleaned up after the previous node run: %s", leftover)
    return [results[entry.pid] for entry in entries]
