"""One module per process manager; each is a Peer the scenarios drive the same way.

A Peer owns one fresh working directory per run (`start` makes it, `cleanup` kills what is left
by pid and removes it). Servers are `sleep 1000`, N of them, ids `Sleep-0` .. `Sleep-{N-1}`,
in one application named `Bench`; the adapter scenario's (`start_adapters`) are N Python
greeters of one adapter each, ids `Greeter-0` .. `Greeter-{N-1}`.
"""

from __future__ import annotations

import abc
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.procs import ProcessLedger, run_cli


class PeerSkipped(Exception):
    """The peer cannot run here (not installable); the message says why."""


@dataclass(frozen=True)
class ServerStatus:
    """What a manager's own API says about one server."""

    pid: int  # 0 when it has no process
    active: bool


#: The application (IceGrid, Shoal) holding the N servers.
APPLICATION = "Bench"

#: The one adapter of every greeter (the locator and adapter scenarios), Shoal's and IceGrid's:
#: `Hello`, on a port the system picks.
ADAPTER = '<adapter name="Hello" endpoints="tcp -h 127.0.0.1"/>'
#: The ids' prefixes: `sleep` servers, and the adapter scenario's greeters.
SLEEP, GREETER = "Sleep", "Greeter"


#: Added to every daemon's port (Shoal 24061, IceGrid 24071, supervisord 24091): lets a second
#: benchmark, or a grid someone left on those ports, share this machine.
PORT_OFFSET = int(os.environ.get("SHOAL_BENCH_PORT_OFFSET", "0"))


def require_free_port(port: int) -> None:
    """Raise PeerSkipped when something already listens on 127.0.0.1:port: the peer's daemon
    could not bind it, and its CLI would talk to the stranger."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
    except OSError:
        return
    raise PeerSkipped(
        f"port {port} on 127.0.0.1 is already in use; stop what listens there, or run with "
        "SHOAL_BENCH_PORT_OFFSET=1000 (every port moves by that much)"
    )


def server_ids(n: int, prefix: str = SLEEP) -> list[str]:
    return [f"{prefix}-{i}" for i in range(n)]


class Peer(abc.ABC):
    #: The column the peer's figures go in.
    column: str
    #: Shown under the table: how this peer was driven (what polls, what differs).
    notes: tuple[str, ...] = ()
    #: The most servers it can run on one node (the scale scenario runs min(this, asked)).
    max_servers: int | None = None
    #: Whether it knows adapters (the adapter scenario runs `start_adapters`).
    has_adapters = False

    def __init__(self) -> None:
        self.ledger = ProcessLedger()
        self.workdir: Path | None = None
        self.n = 0
        self.prefix = SLEEP  # of the running servers' ids: server_ids(self.n, self.prefix)

    # -- set up, once per benchmark
    @abc.abstractmethod
    def install(self) -> None:
        """Make the peer runnable (install it if needed); raise PeerSkipped when impossible."""

    @abc.abstractmethod
    def version(self) -> str: ...

    # -- one run: start, measure, stop, clean up
    def _fresh_workdir(self) -> Path:
        self.workdir = Path(tempfile.mkdtemp(prefix=f"shoal-bench-{self.column.split()[0]}-"))
        return self.workdir

    @abc.abstractmethod
    def start(self, n: int) -> float:
        """Start the daemon on a fresh workdir with n servers; seconds until all are up."""

    def start_adapters(self, n: int) -> float:
        """As `start`, with n Python greeters of one adapter each (ids `Greeter-*`): seconds
        until the manager reports all active (their adapters registered). Peers that have
        adapters (`has_adapters`) override it; PeerSkipped when the greeter cannot run."""
        raise NotImplementedError(f"{self.column} has no adapters")

    @property
    @abc.abstractmethod
    def daemon_pid(self) -> int: ...

    def helper_pids(self) -> list[int]:
        """Other long-lived processes of the manager itself (not servers)."""
        return []

    @abc.abstractmethod
    def status(self, server_id: str) -> ServerStatus:
        """One server's pid and state, from the manager's own API, in-process when possible."""

    @abc.abstractmethod
    def up_pids(self) -> dict[str, int]:
        """server id -> pid of every server its manager reports up (active, RUNNING)."""

    @abc.abstractmethod
    def state_call_rate(self, server_id: str, seconds: float) -> float:
        """Calls per second of the manager's own state call for one server, closed loop, one
        client (timing.closed_loop); raise PeerSkipped when this peer's client is missing."""

    @abc.abstractmethod
    def undeploy_argvs(self) -> list[list[str]]:
        """The command(s), run one after the other, that stop and remove every server."""

    @abc.abstractmethod
    def restart_everything(self, timeout: float) -> None:
        """Ask for every server to be restarted, the manager's natural way; return when the
        command returns (the scenario then waits for new pids)."""

    @abc.abstractmethod
    def list_argv(self) -> list[str]:
        """The admin CLI listing the servers, as a whole process."""

    @abc.abstractmethod
    def server_pids(self) -> list[int]: ...

    @abc.abstractmethod
    def stop_argv(self) -> list[str]:
        """The command that asks the daemon to stop its servers and exit."""

    def request_stop(self) -> None:
        run_cli(self.stop_argv())

    def cleanup(self) -> list[int]:
        """Kill whatever is left by pid; remove the workdir; return the pids that had to die."""
        leftovers = self.ledger.kill_all()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        return leftovers


def descriptor_xml(node_name: str, n: int, exe: str, options: list[str], extra: str = "") -> str:
    """An IceGrid/Shoal application descriptor with n servers on one node."""
    opts = "".join(f"<option>{o}</option>" for o in options)
    return application_xml(
        node_name,
        [
            f'<server id="{sid}" exe="{exe}" activation="always">{opts}{extra}</server>'
            for sid in server_ids(n)
        ],
    )


def application_xml(node_name: str, servers: list[str], application: str = APPLICATION) -> str:
    """An IceGrid/Shoal application descriptor: these `<server>` elements on one node."""
    body = "\n".join(f"      {server}" for server in servers)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<icegrid>\n  <application name="{application}">\n'
        f'    <node name="{node_name}">\n{body}\n    </node>\n  </application>\n</icegrid>\n'
    )
