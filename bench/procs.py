"""What the benchmark knows about processes: /proc readings, and the ledger of what it started.

Every pid a peer starts or reports goes into a ProcessLedger; `kill_all` sends SIGKILL to each
one still alive, by pid, and waits until they are gone. run.py calls it on success, failure and
Ctrl-C alike.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from bench.timing import clock

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    return text[text.rindex(")") + 2 :].split()


def gone(pid: int) -> bool:
    """The process has exited: no /proc entry, or a zombie (our own children are reaped here)."""
    with contextlib.suppress(ChildProcessError):  # not our child: its parent reaps it
        os.waitpid(pid, os.WNOHANG)
    fields = _stat_fields(pid)
    return fields is None or fields[0] in ("Z", "X")


def all_gone(pids: Iterable[int]) -> bool:
    return all(gone(pid) for pid in pids)


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (not its children), from /proc/PID/stat."""
    fields = _stat_fields(pid)
    if fields is None:
        raise ProcessLookupError(pid)
    # After the name: state is field 3, utime 14 and stime 15 (1-based, man 5 proc).
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Resident set size from /proc/PID/status (VmRSS), in MiB; `field="RssAnon"` for the
    private part only (the heap, not the pages of shared libraries the kernel has mapped in)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise ProcessLookupError(pid)


def descendants(pid: int) -> list[int]:
    """Every live process below `pid`, found through the ppid of each /proc entry."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def run_cli(argv: Sequence[str], cwd: Path | None = None, timeout: float = 60.0) -> float:
    """Run a command to completion; return its whole-process wall time in seconds."""
    start = clock()
    done = subprocess.run(
        argv, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
    )
    seconds = clock() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {done.returncode}: {(done.stderr or done.stdout).strip()}"
        )
    return seconds


class ProcessLedger:
    """The pids one peer is responsible for; killed by pid, never by name."""

    def __init__(self) -> None:
        self._pids: set[int] = set()
        self._roots: set[int] = set()

    def add(self, *pids: int) -> None:
        self._pids.update(p for p in pids if p > 0)

    def add_root(self, pid: int) -> None:
        """A daemon: its descendants at cleanup time are ours too."""
        self._roots.add(pid)
        self.add(pid)

    def kill_all(self, timeout: float = 5.0) -> list[int]:
        """SIGKILL every pid still alive; return the ones that were (a clean run returns [])."""
        targets = set(self._pids)
        for root in self._roots:
            if not gone(root):
                targets.update(descendants(root))
        alive = sorted(p for p in targets if not gone(p))
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while not all_gone(alive) and time.monotonic() < deadline:
            time.sleep(0.01)
        self._pids.clear()
        self._roots.clear()
        return alive
