"""The node's watchdog: when the node dies, even by SIGKILL, its servers' process groups die too.

The node starts one small process, the watchdog (`Watchdog.start`), before any server, and keeps
the write end of a pipe to its stdin. Each server's process group is announced on it:

    +PGID START_TIME    a server's group was created (START_TIME: /proc/PGID/stat field 22)
    -PGID               that server was reaped: forget it
    exit                the node is exiting cleanly (it stopped its servers): exit, kill nothing

EOF on stdin without `exit` means the node is gone, whatever killed it: only the node holds the
write end (close-on-exec, and the watchdog is spawned with close_fds), so the kernel closes it
when the node dies. The watchdog then sends SIGTERM to every group it still tracks, waits up to a
grace period (default 2 s) for them to disappear, SIGKILLs what is left, and exits. A group is
signalled only while its number is still ours: if a process with another start time holds the
leader's pid, the server is long gone and the number belongs to someone else.

This replaces PR_SET_PDEATHSIG, which needs Python code between fork and exec (`preexec_fn`):
in a process running gRPC threads that child can crash before exec, and preexec_fn also costs
Popen its vfork fast path. The watchdog covers more, too: a server's own children (its whole
group), not just the server.

The watchdog runs in its own session, so a kill of the node's process group (or a terminal's
^C) does not reach it, and it ignores SIGTERM, SIGINT and SIGHUP: its life is bound to the pipe,
not to signals (SIGKILL still works). It never outlives its cleanup.

    python -m shoal.node.watchdog [--grace SECONDS]

The program part imports only os, sys, _signal and time so that it starts fast and stays small:
`signal` (enum, re) and `contextlib` (collections, functools) would add ~1.5 MiB to its ~9 MiB.
The node side (`Watchdog`) imports what it needs (subprocess, logging, ...) when first used.
"""

from __future__ import annotations

import os
import sys
import time

# typing.TYPE_CHECKING without importing typing (~10 ms of the watchdog's start); mypy takes any
# constant of that name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:  # the watchdog process itself never needs these: imported lazily below
    import logging
    import signal
    import subprocess
    from collections.abc import Sequence
else:  # signal's constants and signal() without its enum wrappers (typeshed has no _signal)
    import _signal as signal

__all__ = ["DEFAULT_GRACE", "Watchdog", "kill_groups", "main"]

DEFAULT_GRACE = 2.0  # seconds between SIGTERM and SIGKILL once the node is gone
_POLL_INTERVAL = 0.02  # how often the watchdog looks whether the groups are gone yet

# --------------------------------------------------------------------------- the watchdog process


def _leader(pid: int) -> tuple[str, int, int] | None:
    """(state, pgrp, start time) of /proc/PID/stat, or None when there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            text = stat_file.read().decode(errors="replace")
    except OSError:  # ENOENT, or ESRCH when it vanished mid-read
        return None
    # The command name (field 2) may hold spaces and ')': count fields after the last ')'.
    fields = text.rsplit(")", 1)[1].split()
    return fields[0], int(fields[2]), int(fields[19])  # fields 3, 5 and 22


def _still_ours(pgid: int, start_time: int) -> bool:
    """False when the leader's pid now names another process (another start time).

    When the leader is gone, what is left in its group is still the server's: the kernel does not
    hand out a number that is in use as a group id, so no stranger can have made that group.
    """
    leader = _leader(pgid)
    return leader is None or leader[2] == start_time


def _signal(pgid: int, start_time: int, signum: int) -> None:
    """Signal a tracked group, and its leader should it have moved to another group."""
    if not _still_ours(pgid, start_time):
        return
    try:  # noqa: SIM105 - not contextlib.suppress: see the module docstring
        os.killpg(pgid, signum)
    except ProcessLookupError:
        pass
    leader = _leader(pgid)
    if leader is not None and leader[1] != pgid and leader[2] == start_time:
        try:  # noqa: SIM105
            os.kill(pgid, signum)
        except ProcessLookupError:
            pass


def _live_groups(groups: dict[int, int]) -> dict[int, int]:
    """The tracked groups that still have a live (not zombie) member, or a live leader."""
    maybe = {}
    for pgid, start_time in groups.items():
        if not _still_ours(pgid, start_time):
            continue  # the number was reused, so our group emptied long ago
        try:
            os.killpg(pgid, 0)  # cheap first look: ESRCH means no member at all
        except ProcessLookupError:
            leader = _leader(pgid)
            if leader is None or leader[1] == pgid or leader[0] in "ZX":
                continue
        except PermissionError:
            pass  # someone else's process in it: look at /proc below
        maybe[pgid] = start_time
    if not maybe:
        return maybe
    # kill(-pgid, 0) also counts zombies, which a dead node's reparented children may stay as
    # for a while: decide from /proc, one pass for all groups.
    live: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = _leader(int(name))
            if stat is None or stat[0] in "ZX":
                continue
            if stat[1] in maybe:
                live[stat[1]] = maybe[stat[1]]
            elif int(name) in maybe and stat[2] == maybe[int(name)]:
                live[int(name)] = maybe[int(name)]  # a leader that left its group
    return live


def kill_groups(
    groups: dict[int, int],
    grace: float = DEFAULT_GRACE,
    *,
    poll_interval: float = _POLL_INTERVAL,
) -> dict[int, int]:
    """SIGTERM each group (pgid -> leader start time), SIGKILL what outlives `grace` seconds.

    Returns the groups that got SIGKILL. Blocks for at most about `grace` seconds.
    """
    for pgid, start_time in groups.items():
        _signal(pgid, start_time, signal.SIGTERM)
    deadline = time.monotonic() + grace
    pending = _live_groups(groups)
    while pending and time.monotonic() < deadline:
        time.sleep(poll_interval)
        pending = _live_groups(pending)
    for pgid, start_time in pending.items():
        _signal(pgid, start_time, signal.SIGKILL)
    return pending


def _say(message: str) -> None:
    """One line on stderr (the node's log); a closed stderr must not stop the cleanup."""
    try:  # noqa: SIM105
        os.write(2, f"shoal watchdog {os.getpid()}: {message}\n".encode(errors="replace"))
    except OSError:
        pass


def _apply(line: bytes, groups: dict[int, int]) -> None:
    """One `+PGID START_TIME` or `-PGID` line; anything else is reported and ignored."""
    try:
        if line.startswith(b"+"):
            pgid_text, start_text = line[1:].split()
            pgid, start_time = int(pgid_text), int(start_text)
            # Never 0 or 1 (killpg(0) is our own group, 1 is init), nor our own group.
            if pgid > 1 and pgid != os.getpgrp():
                groups[pgid] = start_time
                return
        elif line.startswith(b"-"):
            groups.pop(int(line[1:]), None)
            return
    except ValueError:
        pass
    _say(f"ignoring bad line {line[:80]!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """Track groups from stdin until `exit` (kill nothing) or EOF (kill them all); exit 0."""
    args = list(sys.argv[1:] if argv is None else argv)
    grace = DEFAULT_GRACE
    if args[:1] == ["--grace"] and len(args) == 2:
        grace = float(args[1])
    elif args:
        _say("usage: python -m shoal.node.watchdog [--grace SECONDS]")
        return 2
    # Bound to the pipe, not to signals: a stray SIGTERM must not leave the node unguarded.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    groups: dict[int, int] = {}
    with os.fdopen(0, "rb", closefd=False) as stdin:
        for raw in stdin:
            line = raw.strip()
            if line == b"exit":
                return 0
            if line:
                _apply(line, groups)
    # EOF without `exit`: the node is gone.
    if groups:
        _say(f"node gone: stopping {len(groups)} server process group(s)")
        killed = kill_groups(groups, grace)
        if killed:
            _say(f"SIGKILL to group(s) {' '.join(map(str, killed))} after {grace:g} s")
    return 0


# --------------------------------------------------------------------------- the node's side

_PIPE_SIZE = 1 << 20  # room for ~50,000 lines: a whole live set fits even on a restart
_STUCK_TIMEOUT = 1.0  # a full pipe that does not drain for this long: the watchdog is stuck


def _logger() -> logging.Logger:
    import logging

    return logging.getLogger(__name__)


class Watchdog:
    """The node's end of its watchdog process: start it once, `track`/`untrack` each server's
    process group, `release` once every server is stopped and the node is leaving (it exits
    meanwhile), `close` at the exit.

    `track` and `untrack` never block for long and never raise: when the watchdog has died (or
    stopped reading), they log it, start a new one and give it every tracked group. Use from one
    thread (the node's event loop). `stderr`: where the watchdog writes (None: the node's).
    """

    def __init__(
        self,
        *,
        grace: float = DEFAULT_GRACE,
        stderr: int | None = None,
        pipe_size: int = _PIPE_SIZE,
        stuck_timeout: float = _STUCK_TIMEOUT,
    ) -> None:
        self.grace = grace
        self._stderr = stderr
        self._pipe_size = pipe_size
        self._stuck_timeout = stuck_timeout
        self._groups: dict[int, int] = {}  # pgid -> leader start time: what a new one is sent
        self._process: subprocess.Popen[bytes] | None = None
        self._failing = False  # a (re)start failed and was logged: do not log every retry
        self._closed = False
        self._released = False  # told to exit: see release()
        self._untracked: list[str] = []  # `-PGID` lines to tell at the end of the loop's turn

    @property
    def pid(self) -> int | None:
        """The watchdog process's pid (None before `start` or after a failed restart)."""
        return None if self._process is None else self._process.pid

    @property
    def tracked(self) -> dict[int, int]:
        """The groups the watchdog is told about: pgid -> leader start time (a copy)."""
        return dict(self._groups)

    def command(self) -> list[str]:
        """How the watchdog is run: this file by path, isolated (-I) and without site (-S).

        By path, not `-m`, so that neither sys.path nor the environment can break or slow it.
        """
        return [sys.executable, "-I", "-S", os.path.abspath(__file__), "--grace", f"{self.grace}"]

    def start(self) -> None:
        """Start the watchdog process; OSError when it cannot be. Call before any server."""
        if self._closed or self._process is not None:
            # A second one would orphan the first's pipe: that one would kill every server.
            raise RuntimeError("the watchdog is closed" if self._closed else "already started")
        self._spawn()
        if self._groups and not self._send(self._live_set()):
            raise OSError("the watchdog process does not read its pipe")

    def track(self, pgid: int, start_time: int) -> None:
        """A server's process group was created (its leader's /proc/PID/stat field 22)."""
        self._tell_untracked()  # first: the same id may come back at once
        self._groups[pgid] = start_time
        if self._released:  # a server started after all: a watchdog again, told every group
            self._released = False
            released, self._process = self._process, None
            if released is not None:
                self._discard(released, timeout=self.grace + 5.0)  # it was exiting: reaped
            self._restart()
            return
        self._event(f"+{pgid} {start_time}\n".encode())

    def untrack(self, pgid: int) -> None:
        """That server was reaped: its group id may be reused from now on.

        Told once the event loop's current callbacks have run (call_soon), with the others
        untracked meanwhile in one write: a stop of 50 servers wakes the watchdog once, not 50
        times (each wake-up costs the node ~25 µs). Meanwhile the group's leader start time
        keeps a reused id safe from it (`_still_ours`). Without a running loop, told at once."""
        if self._groups.pop(pgid, None) is None:
            return
        self._untracked.append(f"-{pgid}\n")
        if len(self._untracked) > 1:
            return  # a write is due already
        import asyncio  # (loaded by the node; not by the watchdog's own process)

        try:
            asyncio.get_running_loop().call_soon(self._tell_untracked)
        except RuntimeError:
            self._tell_untracked()

    def _tell_untracked(self) -> None:
        lines, self._untracked = self._untracked, []
        if lines:
            self._event("".join(lines).encode())

    def release(self) -> None:
        """No server runs any more and the node is exiting: tell the watchdog to exit now,
        killing nothing, so that its exit overlaps the rest of the node's cleanup; `close`
        then only reaps it. A server started after all (`track`) gets a new watchdog. Nothing
        is done while a group is still tracked."""
        if self._closed or self._released or self._groups:
            return
        self._released = True
        process = self._process
        if process is not None and not self._send(self._farewell(), process):
            process.kill()  # stuck or dead: as in close

    def close(self, *, kill: bool = False) -> None:
        """The node is exiting: stop the watchdog and wait for it.

        kill=False (a clean exit, the node has stopped its servers): it exits and kills nothing.
        kill=True: the pipe is just closed, as if the node had died: it kills every group still
        tracked (SIGTERM, SIGKILL after the grace period) before it exits. Once `release`d (no
        group tracked since), it is exiting already: it is reaped.
        """
        if self._closed:
            return
        self._closed = True
        process, self._process = self._process, None
        if process is None:
            return
        if not kill and not self._released and not self._send(self._farewell(), process):
            # Stuck or dead: it must die without reading an EOF it would take for the node's death.
            process.kill()
        self._discard(process, timeout=self.grace + 5.0)

    def _farewell(self) -> bytes:
        """`exit`, after the untracks not yet told (they are moot, but in order)."""
        untracked, self._untracked = self._untracked, []
        return "".join(untracked).encode() + b"exit\n"

    # ----------------------------------------------------------------- internals

    def _spawn(self) -> None:
        import contextlib
        import fcntl
        import subprocess

        # No preexec_fn (vfork, and no Python in the child). close_fds, and the pipe's write end
        # is close-on-exec (os.pipe), so the watchdog holds only the read end and no server ever
        # inherits the write end: when the node dies, the watchdog sees EOF. Its own session:
        # a kill of the node's group or terminal does not reach it.
        process = subprocess.Popen(
            self.command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            close_fds=True,
            start_new_session=True,
            cwd="/",  # hold no directory of the node's busy
        )
        assert process.stdin is not None
        fd = process.stdin.fileno()
        # OSError: above fs.pipe-max-size, or over the user's pipe quota: 64 KiB will do.
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, self._pipe_size)
        os.set_blocking(fd, False)  # the event loop must never wait on the watchdog
        self._process = process

    def _live_set(self) -> bytes:
        return b"".join(f"+{pgid} {start}\n".encode() for pgid, start in self._groups.items())

    def _send(self, data: bytes, process: subprocess.Popen[bytes] | None = None) -> bool:
        """Write all of `data`; False when the watchdog is gone or has stopped reading.

        Lines are far below PIPE_BUF, so each write of one line is atomic: never half a line.
        A full pipe is waited on for `stuck_timeout` at most (only a stopped or hung watchdog
        leaves its pipe full, and 1 MiB takes ~50,000 lines).
        """
        import select

        process = process or self._process
        if process is None or process.stdin is None:
            return False
        fd = process.stdin.fileno()
        view = memoryview(data)
        deadline: float | None = None
        while view:
            try:
                view = view[os.write(fd, view) :]
                deadline = None
            except BlockingIOError:
                now = time.monotonic()
                deadline = deadline or now + self._stuck_timeout
                if now >= deadline:
                    return False
                poller = select.poll()
                poller.register(fd, select.POLLOUT)
                poller.poll((deadline - now) * 1000)
            except OSError:  # EPIPE: it died (SIGPIPE is ignored in Python)
                return False
        return True

    def _event(self, line: bytes) -> None:
        if self._closed or self._released:  # (released: the groups stay in self._groups)
            return
        if self._process is not None and self._send(line):
            return
        self._restart()

    def _restart(self) -> None:
        """The watchdog died or is stuck: replace it, and send the new one every live group."""
        log = _logger()
        old, self._process = self._process, None
        if old is not None:
            log.warning(
                "the watchdog (pid %d) %s: starting a new one",
                old.pid,
                "died" if old.poll() is not None else "stopped reading its pipe",
            )
            # Killed before its pipe is closed: a stuck one that resumed would read EOF and
            # kill every server.
            old.kill()
            self._discard(old, timeout=self.grace + 5.0)
        try:
            self.start()
        except OSError as exc:
            if self._process is not None:
                self._process.kill()
                self._discard(self._process, timeout=self.grace + 5.0)
                self._process = None
            if not self._failing:
                log.error(
                    "cannot run the watchdog (%s): a node killed now would leave its servers"
                    " running until it is restarted; retrying at the next server start or exit",
                    exc,
                )
            self._failing = True
            return
        if self._failing:
            log.info("the watchdog runs again (pid %d)", self._process.pid if self._process else 0)
        self._failing = False

    @staticmethod
    def _discard(process: subprocess.Popen[bytes], timeout: float) -> None:
        """Close our end of its pipe and reap it (SIGKILL if it takes longer than `timeout`)."""
        import contextlib

        assert process.stdin is not None
        with contextlib.suppress(OSError):
            process.stdin.close()  # nothing buffered: we write to the fd directly
        if not _exits_within(process, timeout):
            process.kill()
        process.wait()


def _exits_within(process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait until `process` has exited (it is left to reap), `timeout` seconds at most.

    A pidfd wakes us as it exits; Popen.wait(timeout) polls with doubling sleeps, which adds
    up to half the watchdog's own exit time to the node's (a clean exit takes ~5 ms).
    """
    import select
    import subprocess

    try:
        pidfd = os.pidfd_open(process.pid)
    except OSError:  # no pidfd (Linux < 5.3, seccomp): poll
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        return bool(poller.poll(timeout * 1000))
    finally:
        os.close(pidfd)


if __name__ == "__main__":
    # No interpreter teardown: nothing is buffered (stderr is written with os.write), and the
    # node's clean exit waits for this process to be gone.
    os._exit(main())
