"""Fixtures for the whole suite: every test must leave no process of its own behind."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


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
