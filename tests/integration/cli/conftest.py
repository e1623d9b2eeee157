"""Fixtures for the CLI against real daemons: a site on its own registry port, the `shoal`
command run as a subprocess, and a teardown that kills every daemon and server by pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("shoal.registry.service")
node_daemon = pytest.importorskip("shoal.node.daemon")
if not hasattr(node_daemon, "run_node"):
    pytest.skip("shoal.node.daemon.run_node is not there yet", allow_module_level=True)

from shoal.cli.daemon import pid_alive, read_pidfile, wait_for_exit  # noqa: E402

WAIT = 60.0


@dataclass
class Site:
    prefix: Path
    port: int
    marker: str

    def shoal(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL")}
        environment["SHOAL_HOME"] = str(self.prefix)
        environment.update(env or {})
        return subprocess.run(
            [sys.executable, "-m", "shoal", *args],
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


def _marked_processes(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _kill_and_confirm(pid: int) -> None:
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
        assert wait_for_exit(pid, WAIT), f"pid {pid} survived SIGKILL"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    prefix = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "shoal", "init", str(prefix)], check=True,
                   capture_output=True)  # fmt: skip
    # A port of this test run's own (pid-derived): not bind-and-close. A clash shows as the
    # daemon's "cannot listen" line, which the tests would report.
    port = 20000 + (os.getpid() * 13 + len(str(tmp_path))) % 20000
    for name in ("internal.cfg", "master.cfg"):
        path = prefix / "etc" / name
        path.write_text(path.read_text().replace("4061", str(port)))
    found = Site(prefix, port, f"shoal-test-{tmp_path.name}")
    try:
        yield found
    finally:
        pids = [read_pidfile(p) for p in prefix.glob("var/*/*.pid")]
        for pid in [p for p in pids if p]:
            _kill_and_confirm(pid)
        for pid in _marked_processes(found.marker):
            _kill_and_confirm(pid)
        assert not [p for p in pids if p and pid_alive(p)]
        assert not _marked_processes(found.marker)
