"""What is measured: each function drives one started Peer and returns seconds.

Polls go to the manager's own API (Peer.status), every timing.POLL_INTERVAL, always bounded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import IO

from bench.peers import Peer, ServerStatus
from bench.procs import all_gone, cpu_seconds, run_cli
from bench.timing import BenchError, clock, poll_until


@dataclass(frozen=True)
class CrashTimes:
    new_pid: float  # SIGKILL sent → the manager reports a different, non-zero pid
    active: float  # SIGKILL sent → the manager reports the new process active again


def crash_to_restart(peer: Peer, server_id: str, timeout: float = 30.0) -> CrashTimes:
    """SIGKILL one server; time until its manager reports a new pid, then until it is active."""
    before = peer.status(server_id)
    if not before.active or not before.pid:
        raise BenchError(f"{peer.column}: {server_id} is not active before the crash: {before}")

    def new_pid() -> ServerStatus | None:
        status = peer.status(server_id)
        return status if status.pid not in (0, before.pid) else None

    def active_again() -> ServerStatus | None:
        status = peer.status(server_id)
        return status if status.active and status.pid not in (0, before.pid) else None

    start = clock()
    os.kill(before.pid, signal.SIGKILL)
    pid_seen, status = poll_until(new_pid, timeout, f"{peer.column}: new pid of {server_id}")
    active_seen = pid_seen
    if not status.active:
        active_seen, _ = poll_until(active_again, timeout, f"{peer.column}: {server_id} active")
    return CrashTimes(pid_seen - start, active_seen - start)


@dataclass(frozen=True)
class StopTimes:
    servers_gone: float  # stop command started → every server process gone
    all_gone: float  # ... → the command returned and the daemon and its helpers are gone too


def stop(peer: Peer, timeout: float = 60.0) -> StopTimes:
    """The daemon's own stop command with every server running, until nothing is left.

    The processes are watched while the command runs: "servers gone" may come before it returns.
    """
    servers = peer.server_pids()
    if len(servers) != peer.n:
        raise BenchError(f"{peer.column}: {len(servers)} server pids before stop, not {peer.n}")
    daemons = [peer.daemon_pid, *peer.helper_pids()]
    start = clock()
    command = subprocess.Popen(
        peer.stop_argv(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        servers_at, _ = poll_until(
            lambda: all_gone(servers), timeout, f"{peer.column}: servers gone"
        )
        returned_at, code = poll_until(
            lambda: _returned(command), timeout, f"{peer.column}: stop command"
        )
        daemons_at, _ = poll_until(
            lambda: all_gone(daemons), timeout, f"{peer.column}: daemon gone"
        )
    finally:
        if command.poll() is None:
            command.kill()
        command.communicate()
    if code != ("exit", 0):
        raise BenchError(f"{peer.column}: {' '.join(peer.stop_argv())} ended with {code}")
    return StopTimes(servers_at - start, max(servers_at, returned_at, daemons_at) - start)


class _CommandChain:
    """Commands run one after the other without blocking: `advance` is called from a poll loop,
    so the caller watches processes meanwhile; `kill` ends the one running (by its pid).
    Output goes to a file: a pipe nobody reads could fill up and block a command."""

    def __init__(self, argvs: list[list[str]], output: IO[bytes]) -> None:
        self._todo = list(argvs)
        self._output = output
        self._current: subprocess.Popen[bytes] | None = None
        self._current_argv: list[str] = []
        self.returned_at: float | None = None
        self.failure: str | None = None

    def advance(self) -> bool:
        """Start the next command when the current one is done; True once all have returned,
        or one failed (then `failure` says how)."""
        while self.returned_at is None and self.failure is None:
            if self._current is not None:
                code = self._current.poll()
                if code is None:
                    return False
                self._current = None
                if code != 0:
                    self._output.seek(0)
                    output = self._output.read().decode(errors="replace").strip()[-500:]
                    self.failure = f"{' '.join(self._current_argv)[:200]} exited {code}: {output}"
                    break
            if not self._todo:
                self.returned_at = clock()
                break
            self._current_argv = self._todo.pop(0)
            self._current = subprocess.Popen(
                self._current_argv,
                stdin=subprocess.DEVNULL,
                stdout=self._output,
                stderr=subprocess.STDOUT,
            )
        return True

    def kill(self) -> None:
        if self._current is not None and self._current.poll() is None:
            self._current.kill()
            self._current.wait()


def undeploy(peer: Peer, timeout: float = 60.0) -> StopTimes:
    """Remove the application (every server) from a running daemon, the peer's own way;
    time until every server process is gone, then until the command(s) returned too."""
    servers = peer.server_pids()
    if len(servers) != peer.n:
        raise BenchError(f"{peer.column}: {len(servers)} server pids before undeploy, not {peer.n}")
    with tempfile.TemporaryFile() as output:
        commands = _CommandChain(peer.undeploy_argvs(), output)
        start = clock()
        try:
            # A failed command ends the wait for the servers too (checked below).
            servers_at, _ = poll_until(
                lambda: (commands.advance() and commands.failure) or all_gone(servers),
                timeout,
                f"{peer.column}: servers gone",
            )
            poll_until(commands.advance, timeout, f"{peer.column}: undeploy command")
        finally:
            commands.kill()
    if commands.failure is not None or commands.returned_at is None:
        raise BenchError(f"{peer.column}: undeploy: {commands.failure}")
    return StopTimes(servers_at - start, max(servers_at, commands.returned_at) - start)


def state_calls_per_second(peer: Peer, server_id: str, seconds: float) -> float:
    """One server's state from its manager's own API, closed loop, one client; calls/s."""
    status = peer.status(server_id)
    if not status.active:
        raise BenchError(f"{peer.column}: {server_id} is not active: {status}")
    return peer.state_call_rate(server_id, seconds)


def restart_all(peer: Peer, timeout: float) -> float:
    """Every server restarted the manager's natural way; time until all are up with new pids."""
    before = peer.up_pids()
    if len(before) != peer.n:
        raise BenchError(
            f"{peer.column}: {len(before)} servers up before the restart, not {peer.n}"
        )
    old = set(before.values())

    def all_new() -> dict[str, int] | None:
        up = peer.up_pids()
        fresh = {sid: pid for sid, pid in up.items() if pid not in old}
        return fresh if len(fresh) == peer.n else None

    start = clock()
    peer.restart_everything(timeout)
    returned_at = clock()
    seen, _ = poll_until(all_new, timeout, f"{peer.column}: all {peer.n} up with new pids")
    return max(seen, returned_at) - start


def _returned(command: subprocess.Popen[bytes]) -> tuple[str, int] | None:
    code = command.poll()
    return None if code is None else ("exit", code)


def cli_round_trips(argv: list[str], count: int) -> list[float]:
    """Whole-process times of one command, after one untimed warm-up run (page cache)."""
    run_cli(argv)
    return [run_cli(argv) for _ in range(count)]


#: The floors under any Python CLI: the interpreter alone; with grpc (what Shoal's CLI needed
#: while the registry's client endpoints spoke gRPC); with asyncio and protobuf (what it needs
#: for Shoal's wire protocol); then Shoal's CLI modules.
FLOORS = {
    "floor_python": [sys.executable, "-c", "pass"],
    "floor_grpc": [sys.executable, "-c", "import grpc"],
    "floor_asyncio_protobuf": [sys.executable, "-c", "import asyncio, google.protobuf"],
    "floor_shoal_cli": [sys.executable, "-c", "import shoal.cli.main"],
}


def idle_cpu_percent(pids: dict[str, int], window: float) -> dict[str, float]:
    """CPU (utime+stime) each process used over `window` seconds, in % of one core."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    start = clock()
    time.sleep(window)
    elapsed = clock() - start
    return {name: 100 * (cpu_seconds(pid) - before[name]) / elapsed for name, pid in pids.items()}
