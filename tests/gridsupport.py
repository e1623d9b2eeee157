"""Helpers for tests that run real grids: a site on a port of its own, bounded polling.

Importable from any test (pytest's `pythonpath` holds tests/); the fixtures live in conftest.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from shoal.cli.daemon import pid_alive, wait_for_exit

T = TypeVar("T")

WAIT = 60.0


@dataclass
class Site:
    prefix: Path
    port: int
    marker: str

    def shoal(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.python("-m", "shoal", *args, env=env)

    def python(
        self, *argv: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The interpreter with `argv`, run in the site as `shoal` is (SHOAL_HOME set)."""
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL")}
        environment["SHOAL_HOME"] = str(self.prefix)
        environment.update(env or {})
        return subprocess.run(
            [sys.executable, *argv],
            cwd=self.prefix,
            env=environment,
            capture_output=True,
            text=True,
            timeout=WAIT * 2,
            check=False,
        )

    def descriptor(self, name: str, servers: str, node1: str = "") -> Path:
        """A descriptor with `servers` on the master (and `node1`'s); `MARK` becomes the marker."""
        path = self.prefix / "etc" / "grid" / name
        path.write_text(
            '<icegrid><application name="Test"><node name="master">'
            + servers.replace("MARK", self.marker)
            + '</node><node name="node1">'
            + node1.replace("MARK", self.marker)
            + "</node></application></icegrid>"
        )
        return path


def sleeper(server_id: str) -> str:
    return (
        f'<server id="{server_id}" exe="${{PYTHON}}" activation="always">'
        "<option>-c</option><option>import signal; signal.pause()</option>"
        "<option>MARK</option></server>"
    )


def crasher(server_id: str) -> str:
    return (
        f'<server id="{server_id}" exe="${{PYTHON}}" activation="always">'
        "<option>-c</option><option>import sys; sys.exit(3)</option>"
        "<option>MARK</option></server>"
    )


def marked_processes(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def kill_and_confirm(pid: int) -> None:
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
        assert wait_for_exit(pid, WAIT), f"pid {pid} survived SIGKILL"


def poll_until(check: Callable[[], T | None], what: str, timeout: float = WAIT) -> T:
    """Call `check` until it returns something other than None or False; fail naming `what`.

    For conditions no event announces (another process's state); the failure says what the
    last call returned, so a timeout explains itself.
    """
    deadline = time.monotonic() + timeout
    delay = 0.01
    seen: object = None
    while time.monotonic() < deadline:
        seen = check()
        if seen is not None and seen is not False:
            return seen  # type: ignore[return-value]
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; last seen: {seen!r}")
