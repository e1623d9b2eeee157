"""Fixtures for the whole suite: no test leaves a process behind; sites with real daemons."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridsupport import Site, kill_and_confirm, marked_processes
from shoal.cli.daemon import pid_alive, read_pidfile


def child_processes(parent: int) -> list[tuple[int, str]]:
    """Live (not zombie) processes whose parent is `parent`, from /proc: (pid, command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == parent and state != "Z":
            found.append((int(entry.name), cmdline.strip()))
    return found


@pytest.fixture(autouse=True)
def no_leaked_processes() -> Iterator[None]:
    """Fail a test that leaves a child process of the test runner running."""
    before = {pid for pid, _ in child_processes(os.getpid())}
    yield
    leaked = [(pid, cmd) for pid, cmd in child_processes(os.getpid()) if pid not in before]
    assert not leaked, f"processes left running by this test: {leaked}"


@pytest.fixture
def grid_site(tmp_path: Path) -> Iterator[Site]:
    """A new site on a registry port of its own; every daemon and marked server killed after."""
    prefix = tmp_path / "site"
    command = [sys.executable, "-m", "shoal", "init", str(prefix)]
    subprocess.run(command, check=True, capture_output=True)
    # A port of this test's own (from the pid and test path), not bind-and-close: a clash
    # shows as the daemon's "cannot listen" line, which the tests would report.
    port = 20000 + zlib.crc32(f"{os.getpid()} {tmp_path}".encode()) % 12000  # not ephemeral
    for name in ("internal.cfg", "master.cfg"):
        path = prefix / "etc" / name
        path.write_text(path.read_text().replace("4061", str(port)))
    found = Site(prefix, port, f"shoal-test-{tmp_path.name}")
    try:
        yield found
    finally:
        pids = [read_pidfile(p) for p in prefix.glob("var/*/*.pid")]
        for pid in [p for p in pids if p]:
            kill_and_confirm(pid)
        for pid in marked_processes(found.marker):
            kill_and_confirm(pid)
        assert not [p for p in pids if p and pid_alive(p)]
        assert not marked_processes(found.marker)
