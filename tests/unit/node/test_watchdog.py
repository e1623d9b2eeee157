"""The node's watchdog, with real processes: what it kills when its pipe closes, and what not.

Servers are misbehave.py processes leading their own process groups (as the Activator starts
them), some with a child in their group. The watchdog program is fed lines by hand; the node's
`Watchdog` class is driven directly. No sleeps: bounded polling on /proc, or waiting for exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shoal.node.activator import Activator, SpawnSpec, clean_base_env
from shoal.node.pidrecord import read_proc_stat
from shoal.node.watchdog import Watchdog

MISBEHAVE = str(Path(__file__).parents[2] / "servers" / "misbehave.py")
WAIT = 10.0
GRACE = 0.2  # short: the SIGKILL tests wait for it once


def is_alive(pid: int) -> bool:
    """Running, not a zombie (a dead child of ours stays one until we reap it)."""
    stat = read_proc_stat(pid)
    return stat is not None and stat.alive


def until(condition: str, check: Callable[[], bool], timeout: float = WAIT) -> None:
    """Poll `check()` (bounded) until true; fail naming `condition`."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not {condition} after {timeout} s"
        time.sleep(0.005)


class Group:
    """A misbehave.py server leading its own process group, as the Activator starts one."""

    def __init__(self, *options: str) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-S", MISBEHAVE, *options],
            stdout=subprocess.PIPE,
            text=True,
            process_group=0,
        )
        self.pid = self.pgid = self.popen.pid
        stat = read_proc_stat(self.pid)
        assert stat is not None
        self.start_time = stat.start_time
        self.grandchild: int | None = None
        assert self.popen.stdout is not None
        for line in self.popen.stdout:  # EOF, not a hang, if it fails
            if line.startswith("grandchild="):
                self.grandchild = int(line.split("=")[1])
            if line.strip() == "ready":
                break
        else:
            raise AssertionError(f"server {self.pid} never got ready")

    def line(self, start_time: int | None = None) -> str:
        return f"+{self.pgid} {self.start_time if start_time is None else start_time}\n"

    def all_alive(self) -> bool:
        return is_alive(self.pid) and (self.grandchild is None or is_alive(self.grandchild))

    def all_gone(self) -> bool:
        return not is_alive(self.pid) and (self.grandchild is None or not is_alive(self.grandchild))

    def reap(self) -> int:
        """The server's return code once it has died (it is our child: reap it)."""
        return self.popen.wait(WAIT)

    def clean_up(self) -> None:
        # The group still holds its number while the leader is unreaped: no stranger's group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGKILL)
        self.popen.wait(WAIT)
        assert self.popen.stdout is not None
        self.popen.stdout.close()
        if self.grandchild is not None:
            until(f"grandchild {self.grandchild} gone", lambda: not is_alive(self.grandchild or 0))


@pytest.fixture
def group() -> Iterator[Callable[..., Group]]:
    """Makes server groups; kills each (by its group id) after the test."""
    made: list[Group] = []

    def make(*options: str) -> Group:
        made.append(Group(*options))
        return made[-1]

    yield make
    for each in made:
        each.clean_up()


class Program:
    """The watchdog program itself, fed by hand: `python -m shoal.node.watchdog`."""

    def __init__(self, grace: float = GRACE) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "shoal.node.watchdog", "--grace", str(grace)],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )

    def send(self, text: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(text.encode())
        self.popen.stdin.flush()

    def finish(self, text: str = "") -> str:
        """Send `text`, close stdin (the node's death), wait for the exit; what it wrote."""
        _, err = self.popen.communicate(text.encode(), timeout=WAIT)
        assert self.popen.returncode == 0, err
        return err.decode()

    def clean_up(self) -> None:
        self.popen.kill()  # SIGKILL: it dies without killing anything (no-op once reaped)
        self.popen.wait(WAIT)
        for stream in (self.popen.stdin, self.popen.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def program() -> Iterator[Callable[..., Program]]:
    made: list[Program] = []

    def make(grace: float = GRACE) -> Program:
        made.append(Program(grace))
        return made[-1]

    yield make
    for each in made:
        each.clean_up()


@pytest.fixture
def watchdog() -> Iterator[Callable[..., Watchdog]]:
    """Node-side watchdogs, started; closed (killing nothing) after the test."""
    made: list[Watchdog] = []

    def make(*, pipe_size: int = 1 << 20, stuck_timeout: float = 1.0) -> Watchdog:
        made.append(
            Watchdog(
                grace=GRACE,
                stderr=subprocess.DEVNULL,
                pipe_size=pipe_size,
                stuck_timeout=stuck_timeout,
            )
        )
        made[-1].start()
        return made[-1]

    yield make
    for each in made:
        each.close()


@pytest.fixture
def tracking(
    watchdog: Callable[..., Watchdog], group: Callable[..., Group]
) -> Callable[[], tuple[Group, Watchdog]]:
    """A new group and a new watchdog tracking it, cleaned up as the `group` and `watchdog`
    fixtures clean theirs."""

    def make() -> tuple[Group, Watchdog]:
        server = group()
        guard = watchdog()
        guard.track(server.pgid, server.start_time)
        return server, guard

    return make


# --------------------------------------------------------------------------- the program


def test_eof_terminates_every_tracked_group_and_their_children(
    program: Callable[..., Program], group: Callable[..., Group]
) -> None:
    first, second = group("--grandchild"), group()
    watcher = program(grace=WAIT)  # SIGTERM is enough: the grace must not be waited out

    started = time.monotonic()
    err = watcher.finish(first.line() + second.line())

    assert time.monotonic() - started < WAIT / 2
    assert "node gone: stopping 2 server process group(s)" in err
    assert "SIGKILL" not in err
    assert first.reap() == second.reap() == -signal.SIGTERM
    until("the grandchild gone", first.all_gone)


def test_a_group_ignoring_sigterm_gets_sigkill_after_the_grace(
    program: Callable[..., Program], group: Callable[..., Group]
) -> None:
    stubborn = group("--ignore-term", "--grandchild")  # the grandchild ignores SIGTERM too

    err = program().finish(stubborn.line())

    assert f"SIGKILL to group(s) {stubborn.pgid} after {GRACE:g} s" in err
    assert stubborn.reap() == -signal.SIGKILL
    until("the grandchild gone", stubborn.all_gone)


def test_a_leader_with_another_start_time_is_someone_else_left_alone(
    program: Callable[..., Program], group: Callable[..., Group]
) -> None:
    """The pid was reused: the recorded server is gone, the number names a stranger."""
    stranger = group("--grandchild")

    program().finish(stranger.line(start_time=stranger.start_time + 1))

    assert stranger.all_alive()


def test_an_untracked_group_is_left_alone(
    program: Callable[..., Program], group: Callable[..., Group]
) -> None:
    reaped, running = group(), group()

    program().finish(reaped.line() + running.line() + f"-{reaped.pgid}\n")

    assert reaped.all_alive()
    assert running.reap() == -signal.SIGTERM


def test_exit_makes_it_exit_at_once_without_killing(
    program: Callable[..., Program], group: Callable[..., Group]
) -> None:
    server = group()
    watcher = program()
    watcher.send(server.line() + "exit\n")

    assert watcher.popen.wait(WAIT) == 0  # its stdin is still open: `exit` alone did it
    assert server.all_alive()


def test_bad_lines_are_reported_and_ignored(
    program: Callable[..., Program], group: Callable[..., Group]
) -> None:
    server = group()
    bad = ["+abc 1", "+1 5", "+0 5", f"+{server.pgid}", "-x", "hello"]

    err = program().finish("".join(f"{line}\n" for line in bad) + server.line())

    assert err.count("ignoring bad line") == len(bad)
    assert server.reap() == -signal.SIGTERM


# --------------------------------------------------------------------------- the node's side


def test_close_tells_it_to_exit_killing_nothing(
    tracking: Callable[[], tuple[Group, Watchdog]],
) -> None:
    server, guard = tracking()
    pid = guard.pid

    guard.close()

    assert guard.pid is None and pid is not None and not is_alive(pid)
    assert server.all_alive()


def test_close_without_pidfd_still_waits_for_the_watchdog(
    watchdog: Callable[..., Watchdog], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where pidfd_open is refused (old kernel, seccomp), close polls the process instead."""
    guard = watchdog()
    pid = guard.pid

    def refused(pid: int, flags: int = 0) -> int:
        raise OSError(errno.ENOSYS, "pidfd_open")

    monkeypatch.setattr(os, "pidfd_open", refused)
    guard.close()

    assert pid is not None and not is_alive(pid)


def test_close_kills_a_watchdog_that_does_not_exit_in_time(
    watchdog: Callable[..., Watchdog],
) -> None:
    guard = watchdog()
    pid = guard.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # it cannot read `exit` any more
    guard.grace = -4.9  # close waits grace + 5 s: 0.1 s here

    started = time.monotonic()
    guard.close()

    assert time.monotonic() - started < WAIT
    assert not is_alive(pid)


def test_close_with_kill_is_the_nodes_death(
    watchdog: Callable[..., Watchdog], group: Callable[..., Group]
) -> None:
    tracked, untracked = group("--grandchild"), group()
    guard = watchdog()
    guard.track(tracked.pgid, tracked.start_time)
    guard.track(untracked.pgid, untracked.start_time)
    guard.untrack(untracked.pgid)
    assert guard.tracked == {tracked.pgid: tracked.start_time}

    guard.close(kill=True)

    assert tracked.reap() == -signal.SIGTERM
    until("the grandchild gone", tracked.all_gone)
    assert untracked.all_alive()


@pytest.mark.asyncio
async def test_untracks_of_one_loop_turn_are_told_at_its_end(
    watchdog: Callable[..., Watchdog], group: Callable[..., Group]
) -> None:
    tracked, untracked = group(), [group(), group()]
    guard = watchdog()
    for server in (tracked, *untracked):
        guard.track(server.pgid, server.start_time)
    for server in untracked:
        guard.untrack(server.pgid)
    assert guard.tracked == {tracked.pgid: tracked.start_time}
    await asyncio.sleep(0)  # the end of this turn: the lines are written

    # The pipe closed as if the node died: only the group still tracked is stopped.
    guard.close(kill=True)

    assert tracked.reap() == -signal.SIGTERM
    assert all(server.all_alive() for server in untracked)


@pytest.mark.asyncio
async def test_a_group_id_tracked_again_in_the_same_turn_stays_tracked(
    tracking: Callable[[], tuple[Group, Watchdog]],
) -> None:
    server, guard = tracking()
    guard.untrack(server.pgid)  # told at the end of the turn...
    guard.track(server.pgid, server.start_time)  # ...unless a new group takes the id first
    await asyncio.sleep(0)

    guard.close(kill=True)

    assert server.reap() == -signal.SIGTERM


class _Recorder(Watchdog):
    """A Watchdog whose process only copies what it is sent to a file, until EOF."""

    def __init__(self, record: Path) -> None:
        super().__init__(grace=GRACE, stderr=subprocess.DEVNULL)
        self.record = record

    def command(self) -> list[str]:
        copy = "import shutil, sys; shutil.copyfileobj(sys.stdin.buffer, open(sys.argv[1], 'wb'))"
        return [sys.executable, "-S", "-c", copy, str(self.record)]


@pytest.mark.asyncio
async def test_close_tells_pending_untracks_before_exit(tmp_path: Path) -> None:
    guard = _Recorder(tmp_path / "told")
    guard.start()
    guard.track(4242, 17)
    guard.untrack(4242)  # not told yet: the loop's turn has not ended

    guard.close()

    assert (tmp_path / "told").read_bytes() == b"+4242 17\n-4242\nexit\n"


def test_release_lets_it_exit_before_close(
    tracking: Callable[[], tuple[Group, Watchdog]],
) -> None:
    server, guard = tracking()
    guard.untrack(server.pgid)  # the node's servers are all stopped
    pid = guard.pid
    assert pid is not None

    guard.release()

    until("the watchdog gone", lambda: not is_alive(pid))
    guard.close()
    assert guard.pid is None
    assert server.all_alive()


def test_a_group_tracked_after_release_gets_a_new_watchdog(
    watchdog: Callable[..., Watchdog], group: Callable[..., Group]
) -> None:
    guard = watchdog()
    released = guard.pid
    guard.release()
    late = group("--grandchild")  # started after all: the released watchdog is exiting
    guard.track(late.pgid, late.start_time)
    assert guard.pid not in (None, released)

    guard.close(kill=True)  # the node's death: the new watchdog stops the group

    assert late.reap() == -signal.SIGTERM
    until("the grandchild gone", late.all_gone)


def test_release_waits_while_a_group_is_tracked(
    tracking: Callable[[], tuple[Group, Watchdog]],
) -> None:
    server, guard = tracking()
    pid = guard.pid
    assert pid is not None

    guard.release()  # a server still runs: nothing is done

    assert guard.pid == pid and is_alive(pid)
    guard.close(kill=True)
    assert server.reap() == -signal.SIGTERM


def test_it_runs_in_its_own_session_and_ignores_stray_signals(
    watchdog: Callable[..., Watchdog],
) -> None:
    guard = watchdog()
    pid = guard.pid
    assert pid is not None
    assert os.getsid(pid) == pid  # a kill of the node's group or session misses it

    def ignored() -> set[int]:
        status = Path(f"/proc/{pid}/status").read_text()
        mask = int(
            next(ln for ln in status.splitlines() if ln.startswith("SigIgn:")).split()[1], 16
        )
        return {number for number in range(1, 65) if mask >> (number - 1) & 1}

    wanted = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    until("SIGTERM, SIGINT and SIGHUP ignored", lambda: wanted <= ignored())


def test_a_dead_watchdog_is_replaced_and_told_every_live_group(
    watchdog: Callable[..., Watchdog], group: Callable[..., Group], caplog: pytest.LogCaptureFixture
) -> None:
    before, after = group(), group("--grandchild")
    guard = watchdog()
    guard.track(before.pgid, before.start_time)
    old = guard.pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    until("the watchdog dead", lambda: not is_alive(old))

    with caplog.at_level(logging.WARNING, logger="shoal.node.watchdog"):
        guard.track(after.pgid, after.start_time)  # EPIPE: replaced, and given both groups

    assert guard.pid not in (None, old)
    assert [r.getMessage() for r in caplog.records] == [
        f"the watchdog (pid {old}) died: starting a new one"
    ]
    guard.close(kill=True)
    assert before.reap() == after.reap() == -signal.SIGTERM
    until("the grandchild gone", after.all_gone)


def test_a_watchdog_that_stops_reading_is_replaced(watchdog: Callable[..., Watchdog]) -> None:
    """A full pipe that does not drain: the stuck one is SIGKILLed (no EOF cleanup), replaced."""
    guard = watchdog(pipe_size=4096, stuck_timeout=0.5)
    old = guard.pid
    assert old is not None
    os.kill(old, signal.SIGSTOP)

    def stopped() -> bool:
        stat = read_proc_stat(old)
        return stat is not None and stat.state == "T"

    until("the watchdog stopped", stopped)
    # Group ids above pid_max: no such group can exist, so nothing real is ever tracked here.
    beyond = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
    for index in range(2000):
        guard.track(beyond + index, 0)
        if guard.pid != old:
            break

    assert guard.pid not in (None, old)
    assert not is_alive(old), "SIGKILLed and reaped"
    assert len(guard.tracked) == index + 1


def test_the_pipe_write_end_stays_in_the_node(
    watchdog: Callable[..., Watchdog], tmp_path: Path
) -> None:
    """Only the node holds it (else the node's death would not be the watchdog's EOF)."""
    guard = watchdog()

    def pipes(pid: int) -> dict[int, str]:
        found = {}
        for entry in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                found[int(entry.name)] = os.readlink(entry)
        return {fd: target for fd, target in found.items() if target.startswith("pipe:")}

    [write_end] = [fd for fd, target in pipes(os.getpid()).items() if target == _pipe_of(guard)]
    assert os.get_inheritable(write_end) is False
    assert guard.pid is not None
    watchdog_pipes = pipes(guard.pid)
    assert [fd for fd, target in watchdog_pipes.items() if target == _pipe_of(guard)] == [0]
    flags = Path(f"/proc/{guard.pid}/fdinfo/0").read_text().split("flags:")[1].split()[0]
    assert int(flags, 8) & os.O_ACCMODE == os.O_RDONLY

    async def spawn_one() -> None:
        activator = Activator(watchdog=guard)
        spec = SpawnSpec(
            server_id="S",
            argv=(sys.executable, "-S", MISBEHAVE),
            env=clean_base_env(),
            cwd=str(tmp_path),
        )
        process = await activator.spawn(spec)
        try:
            assert _pipe_of(guard) not in pipes(process.pid).values()
            assert guard.tracked == {process.pgid: process.start_time}
        finally:
            await activator.stop(process, WAIT)
            activator.close()
        assert guard.tracked == {}

    asyncio.run(spawn_one())


def _pipe_of(guard: Watchdog) -> str:
    """`pipe:[INODE]` of the watchdog's pipe, as /proc/PID/fd shows it."""
    assert guard._process is not None and guard._process.stdin is not None
    return f"pipe:[{os.fstat(guard._process.stdin.fileno()).st_ino}]"


# --------------------------------------------------------------------------- the activator


class Recorder:
    """A GroupTracker that writes down what it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int | None]] = []

    def track(self, pgid: int, start_time: int) -> None:
        self.calls.append(("track", pgid, start_time))

    def untrack(self, pgid: int) -> None:
        self.calls.append(("untrack", pgid, None))


@pytest.mark.asyncio
async def test_the_activator_tracks_each_group_from_spawn_to_reap(tmp_path: Path) -> None:
    recorder = Recorder()
    activator = Activator(watchdog=recorder)
    spec = SpawnSpec(
        server_id="S",
        argv=(sys.executable, "-S", MISBEHAVE, "--exit", "0"),
        env=clean_base_env(),
        cwd=str(tmp_path),
    )
    process = await activator.spawn(spec)
    assert recorder.calls == [("track", process.pid, process.start_time)]
    assert process.start_time > 0

    await process.wait()

    assert recorder.calls[1:] == [("untrack", process.pid, None)]
    activator.close()
