"""The activator with real processes: spawn, exit statuses, signals, stop, spawn errors.

Each test that runs processes runs twice: reaped through pidfds, and through the SIGCHLD
fallback. Waits are on the exits themselves, or bounded polls of the server's output file.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from shoal.descriptor.model import ServerDescription
from shoal.node.activator import (
    SIGNAL_NAMES,
    Activator,
    ActivatorError,
    BadSignal,
    Exit,
    NotRunning,
    RunningProcess,
    SpawnError,
    SpawnSpec,
    clean_base_env,
    parse_signal,
    raise_fd_limit,
    signal_name,
)
from shoal.node.pidrecord import PidRecord, read_proc_stat

MISBEHAVE = str(Path(__file__).parents[2] / "servers" / "misbehave.py")
WAIT = 10.0  # the bound on any wait; a passing test waits far less


def misbehave(tmp_path: Path, *options: str, **fields: object) -> SpawnSpec:
    """A spec running misbehave.py with `options`, its output in tmp_path/out."""
    values: dict[str, object] = {
        "server_id": "Misbehave-1",
        "argv": (sys.executable, "-S", MISBEHAVE, *options),
        "env": clean_base_env(),
        "cwd": str(tmp_path),
        "stdout_path": str(tmp_path / "out"),
        "stderr_path": str(tmp_path / "out"),
    }
    values.update(fields)
    return SpawnSpec(**values)  # type: ignore[arg-type]


def read_output(path: Path) -> str:
    """The server's output so far (a small file: reading it does not block the loop long)."""
    return path.read_text() if path.exists() else ""


async def output_until(path: Path, last: str = "ready") -> dict[str, str]:
    """Poll the server's output (bounded) until the line `last`; its `KEY=value` lines."""
    deadline = time.monotonic() + WAIT
    text = ""
    while time.monotonic() < deadline:
        text = read_output(path)
        if last in text.splitlines():
            return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        await asyncio.sleep(0.005)
    raise AssertionError(f"no line {last!r} in {path} after {WAIT} s; it holds {text!r}")


async def until_dead(pid: int) -> None:
    """Poll /proc (bounded) until `pid` is gone or a zombie."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        stat = read_proc_stat(pid)
        if stat is None or not stat.alive:
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"pid {pid} still alive after {WAIT} s: {read_proc_stat(pid)}")


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


@pytest_asyncio.fixture(params=["pidfd", "sigchld"])
async def activator(request: pytest.FixtureRequest) -> AsyncIterator[Activator]:
    """An activator on each of the two exit watchers; kills what a test left running."""
    activator = Activator(use_pidfd=request.param == "pidfd", clock=lambda: 1234.5)
    yield activator
    for process in list(activator.running.values()):
        kill_group(process.pgid)
    await asyncio.wait_for(activator.stop_all(0), WAIT)
    activator.close()


async def wait(process: RunningProcess) -> Exit:
    return await asyncio.wait_for(process.wait(), WAIT)


# --------------------------------------------------------------------------- exits


@pytest.mark.asyncio
async def test_exit_code_is_reported_with_the_clock_time(
    activator: Activator, tmp_path: Path
) -> None:
    process = await activator.spawn(misbehave(tmp_path, "--exit", "3"))
    assert process.pid in activator.running and "running" in repr(process)

    ended = await wait(process)

    assert repr(process) == f"<RunningProcess Misbehave-1 pid={process.pid} exit code 3>"
    assert ended == Exit(process.pid, 3, None, 1234.5)
    assert ended.reason == "exit code 3" and ended.returncode == 3
    assert process.exit == ended and not activator.running
    assert process._popen.poll() == 3, "Popen must know the status and never wait itself"


@pytest.mark.asyncio
async def test_death_by_signal_is_reported_as_the_signal(
    activator: Activator, tmp_path: Path
) -> None:
    process = await activator.spawn(misbehave(tmp_path, "--segv"))

    ended = await wait(process)

    assert ended.code is None and ended.signal == signal.SIGSEGV
    assert ended.reason.startswith("signal SIGSEGV") and ended.returncode == -signal.SIGSEGV


@pytest.mark.asyncio
async def test_many_exits_at_once_each_get_their_own_status(
    activator: Activator, tmp_path: Path
) -> None:
    """SIGCHLDs coalesce: the fallback must still reap every process with its own code."""
    processes = [
        await activator.spawn(misbehave(tmp_path, "--exit", str(code), stdout_path=None))
        for code in range(5)
    ]

    ended = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in processes)), WAIT)

    assert [e.code for e in ended] == list(range(5))
    assert [e.pid for e in ended] == [p.pid for p in processes]


@pytest.mark.asyncio
async def test_wait_cancelled_in_one_waiter_leaves_the_others(
    activator: Activator, tmp_path: Path
) -> None:
    process = await activator.spawn(misbehave(tmp_path))
    impatient = asyncio.ensure_future(process.wait())
    await asyncio.sleep(0)
    impatient.cancel()

    activator.signal(process, "SIGKILL")

    assert (await wait(process)).signal == signal.SIGKILL
    assert impatient.cancelled()


# --------------------------------------------------------------------------- what the child gets


@pytest.mark.asyncio
async def test_pwd_env_and_config_reach_the_child(activator: Activator, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "work").mkdir(parents=True)
    shows = ["cwd", "env:FOO", "env:SHOAL_CONFIG", "env:SHOAL_SERVER_ID", "env:NODE_SECRET"]
    shows += ["pgid", "umask"]
    server = ServerDescription(
        id="Processor-0",
        node="node1",
        application="App",
        exe=sys.executable,
        options=("-S", MISBEHAVE, *(arg for what in shows for arg in ("--show", what))),
        envs=("FOO=bar=baz", "PATH=/usr/bin:/bin"),
        pwd="work",
    )
    spec = SpawnSpec.for_server(
        server,
        config_path="/site/var/node1/Processor-0/config",
        data_dir=str(data_dir),
        stdout_path=str(tmp_path / "out"),
        base_env=clean_base_env({"PATH": "/nowhere", "LC_ALL": "C", "NODE_SECRET": "x"}),
        umask=0o027,
    )
    assert spec.env["LC_ALL"] == "C" and spec.env["PATH"] == "/usr/bin:/bin"

    process = await activator.spawn(spec)
    shown = await output_until(tmp_path / "out")

    assert shown == {
        "cwd": str(data_dir / "work"),
        "env:FOO": "bar=baz",
        "env:SHOAL_CONFIG": "/site/var/node1/Processor-0/config",
        "env:SHOAL_SERVER_ID": "Processor-0",
        "env:NODE_SECRET": "<unset>",
        "pgid": str(process.pid),
        "umask": "027",
    }
    activator.signal(process, "SIGTERM")
    assert (await wait(process)).signal == signal.SIGTERM


def test_spec_without_pwd_runs_in_the_data_dir_and_the_node_wins_on_its_names() -> None:
    server = ServerDescription(
        id="S", node="n", application="A", exe="srv", envs=("SHOAL_SERVER_ID=fake",)
    )
    spec = SpawnSpec.for_server(server, config_path="/c", data_dir="/d", base_env={})
    assert spec.cwd == "/d" and spec.argv == ("srv",)
    assert dict(spec.env) == {"SHOAL_CONFIG": "/c", "SHOAL_SERVER_ID": "S"}
    assert clean_base_env({})["PATH"] == "/usr/local/bin:/usr/bin:/bin"


@pytest.mark.parametrize("assignment", ["NOEQUALS", "=value"])
def test_spec_refuses_an_env_that_is_not_name_equals_value(assignment: str) -> None:
    server = ServerDescription(id="S", node="n", application="A", exe="srv", envs=(assignment,))
    with pytest.raises(SpawnError, match=f"env `{assignment}' is not NAME=VALUE"):
        SpawnSpec.for_server(server, config_path="/c", data_dir="/d")


def test_spec_needs_an_executable() -> None:
    with pytest.raises(SpawnError, match="no executable"):
        SpawnSpec(server_id="S", argv=(), env={}, cwd="/")


# --------------------------------------------------------------------------- spawn errors


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("exe", "cwd", "message", "code"),
    [
        ("/nonexistent/server", None, "cannot run `/nonexistent/server': No such file", "ENOENT"),
        ("no-such-server-exe", None, "cannot run `no-such-server-exe': No such file", "ENOENT"),
        ("NOT_EXECUTABLE", None, "cannot run `.*/not-executable': Permission denied", "EACCES"),
        ("true", "/nonexistent/dir", "cannot use working directory `/nonexistent/dir'", "ENOENT"),
    ],
)
async def test_exec_failure_is_a_clear_spawn_error_and_fast(
    activator: Activator, tmp_path: Path, exe: str, cwd: str | None, message: str, code: str
) -> None:
    if exe == "NOT_EXECUTABLE":
        exe = str(tmp_path / "not-executable")
        os.close(os.open(exe, os.O_CREAT | os.O_WRONLY, 0o644))
    spec = misbehave(tmp_path, argv=(exe,), cwd=cwd or str(tmp_path))
    started = time.monotonic()

    with pytest.raises(SpawnError, match=message) as raised:
        await activator.spawn(spec)

    assert time.monotonic() - started < 1.0
    assert raised.value.errno == getattr(errno, code) and raised.value.server_id == "Misbehave-1"
    assert raised.value.hint and not activator.running


@pytest.mark.asyncio
async def test_an_output_file_that_cannot_be_opened_is_a_spawn_error(
    activator: Activator, tmp_path: Path
) -> None:
    spec = misbehave(tmp_path, stderr_path=str(tmp_path / "missing" / "err"))
    with pytest.raises(SpawnError, match=r"cannot open output file `.*/missing/err'"):
        await activator.spawn(spec)
    assert not activator.running


@pytest.mark.asyncio
async def test_user_needs_the_node_to_run_as_root(tmp_path: Path) -> None:
    activator = Activator(run_as_root=False)
    with pytest.raises(SpawnError, match="user=nobody needs the node to run as root"):
        await activator.spawn(misbehave(tmp_path, user="nobody"))


@pytest.mark.asyncio
async def test_unknown_user_is_a_spawn_error(tmp_path: Path) -> None:
    activator = Activator(run_as_root=True)
    with pytest.raises(SpawnError, match="unknown user `no-such-user-here'"):
        await activator.spawn(misbehave(tmp_path, user="no-such-user-here"))


@pytest.mark.asyncio
@pytest.mark.skipif(os.geteuid() != 0, reason="switching user needs root")
async def test_user_runs_the_server_as_that_user(tmp_path: Path) -> None:
    activator = Activator()
    spec = misbehave(tmp_path, argv=("id", "-u"), user="nobody")

    process = await activator.spawn(spec)

    assert (await wait(process)).code == 0
    assert (tmp_path / "out").read_text().strip() == "65534"
    activator.close()


# --------------------------------------------------------------------------- signals and stop


@pytest.mark.asyncio
async def test_signal_reaches_the_whole_group_grandchild_included(
    activator: Activator, tmp_path: Path
) -> None:
    process = await activator.spawn(misbehave(tmp_path, "--grandchild"))
    grandchild = int((await output_until(tmp_path / "out"))["grandchild"])
    try:
        assert activator.signal(process, "SIGTERM") == signal.SIGTERM

        assert (await wait(process)).signal == signal.SIGTERM
        await until_dead(grandchild)
    finally:
        kill_group(process.pgid)


@pytest.mark.asyncio
async def test_exit_of_the_leader_takes_its_group_along(
    activator: Activator, tmp_path: Path
) -> None:
    """What a server leaves in its group dies when it is reaped: no orphan outlives it."""
    process = await activator.spawn(misbehave(tmp_path, "--grandchild", "--exit", "0"))
    grandchild = int((await output_until(tmp_path / "out"))["grandchild"])
    try:
        assert (await wait(process)).code == 0
        await until_dead(grandchild)
    finally:
        kill_group(process.pgid)


@pytest.mark.asyncio
async def test_stop_of_a_term_ignoring_server_ends_with_sigkill_after_the_timeout(
    activator: Activator, tmp_path: Path
) -> None:
    process = await activator.spawn(misbehave(tmp_path, "--ignore-term", "--grandchild"))
    grandchild = int((await output_until(tmp_path / "out"))["grandchild"])
    started = time.monotonic()

    ended = await activator.stop(process, 0.2)

    assert ended.signal == signal.SIGKILL
    assert time.monotonic() - started >= 0.2
    await until_dead(grandchild)
    assert await activator.stop(process, 0.2) is ended, "stopping a stopped process is a no-op"


@pytest.mark.asyncio
async def test_stop_of_an_obedient_server_ends_with_sigterm(
    activator: Activator, tmp_path: Path
) -> None:
    process = await activator.spawn(misbehave(tmp_path))
    await output_until(tmp_path / "out")

    assert (await activator.stop(process, WAIT)).signal == signal.SIGTERM


@pytest.mark.asyncio
async def test_signal_to_a_reaped_process_is_refused(activator: Activator, tmp_path: Path) -> None:
    process = await activator.spawn(misbehave(tmp_path, "--exit", "0"))
    await wait(process)
    with pytest.raises(NotRunning, match=f"server `Misbehave-1' \\(pid {process.pid}\\)"):
        activator.signal(process, "SIGTERM")


@pytest.mark.parametrize(
    ("sig", "number"),
    [("SIGHUP", 1), ("SIGTERM", 15), ("SIGKILL", 9), ("SIGSEGV", 11), (9, 9), ("63", 63), (1, 1)],
)
def test_signals_accepted_as_icegrid_sendsignal_does(sig: str | int, number: int) -> None:
    assert parse_signal(sig) == number


@pytest.mark.parametrize(
    "sig", ["SIGFOO", "sigterm", "TERM", "SIGCHLD", "", "0", "64", "-1", "9x", "٣", 0, 64, -9, True]
)
def test_bad_signals_are_refused_with_their_name(sig: str | int) -> None:
    with pytest.raises(BadSignal, match=f"^bad signal `{sig}'$") as raised:
        parse_signal(sig)
    assert "SIGTERM" in raised.value.hint


def test_signal_names_are_icegrids_fifteen() -> None:
    assert len(SIGNAL_NAMES) == 15 and SIGNAL_NAMES["SIGUSR2"] == signal.SIGUSR2
    assert signal_name(15) == "SIGTERM" and signal_name(40) == "40"


def test_exit_reasons() -> None:
    assert Exit(1, None, 11, 0.0, core_dumped=True).reason == "signal SIGSEGV (core dumped)"
    lost = Exit(1, None, None, 0.0)
    assert lost.reason == "unknown status (reaped elsewhere)" and lost.returncode == -255


# --------------------------------------------------------------------------- watchers


@pytest.mark.asyncio
async def test_each_process_has_one_watcher_as_configured(
    activator: Activator, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    process = await activator.spawn(misbehave(tmp_path, "--exit", "0"))
    expected = request.node.callspec.params["activator"]
    assert activator.watcher_of(process) == expected
    await wait(process)


@pytest.mark.asyncio
async def test_a_process_without_pidfd_falls_back_to_sigchld(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Out of fds (EMFILE) for a pidfd: that process is watched through SIGCHLD instead."""
    activator = Activator()

    def no_pidfd(pid: int, flags: int = 0) -> int:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    process = await activator.spawn(misbehave(tmp_path, "--exit", "4"))
    monkeypatch.undo()
    other = await activator.spawn(misbehave(tmp_path, "--exit", "5"))

    assert activator.watcher_of(process) == "sigchld" and activator.watcher_of(other) == "pidfd"
    assert (await wait(process)).code == 4 and (await wait(other)).code == 5
    activator.close()


def test_the_sigchld_watcher_needs_the_main_thread(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    async def spawn() -> None:
        await Activator(use_pidfd=False).spawn(misbehave(tmp_path, "--exit", "0"))

    def run() -> None:
        try:
            asyncio.run(spawn())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(WAIT)

    assert len(errors) == 1 and isinstance(errors[0], ActivatorError), errors
    assert "main thread" in errors[0].hint


def test_the_activator_stays_on_its_first_loop(tmp_path: Path) -> None:
    activator = Activator()

    async def run_one() -> Exit:
        return await wait(await activator.spawn(misbehave(tmp_path, "--exit", "0")))

    assert asyncio.run(run_one()).code == 0
    with pytest.raises(ActivatorError, match="bound to another event loop"):
        asyncio.run(run_one())


@pytest.mark.asyncio
async def test_close_is_refused_while_processes_run(activator: Activator, tmp_path: Path) -> None:
    process = await activator.spawn(misbehave(tmp_path))
    with pytest.raises(ActivatorError, match="1 server process\\(es\\) still running"):
        activator.close()
    await activator.stop(process, 0)


# --------------------------------------------------------------------------- pid record


@pytest.mark.asyncio
async def test_running_processes_are_recorded_until_reaped(tmp_path: Path) -> None:
    record = PidRecord(tmp_path / "pids")
    activator = Activator(record=record)
    process = await activator.spawn(misbehave(tmp_path))

    [entry] = record.entries()
    assert (entry.server_id, entry.pid, entry.pgid) == ("Misbehave-1", process.pid, process.pid)
    assert entry.start_time == process.start_time > 0

    await activator.stop(process, WAIT)
    assert record.entries() == []
    activator.close()


@pytest.mark.asyncio
async def test_a_process_that_cannot_be_recorded_is_killed(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    activator = Activator(record=PidRecord(tmp_path / "file" / "pids"))

    with pytest.raises(SpawnError, match="cannot write the pid record") as raised:
        await activator.spawn(misbehave(tmp_path))

    assert "file/pids is writable" in raised.value.hint and not activator.running


# --------------------------------------------------------------------------- fd limit


@pytest.fixture
def restored_fd_limit() -> Iterator[tuple[int, int]]:
    limits = resource.getrlimit(resource.RLIMIT_NOFILE)
    yield limits
    resource.setrlimit(resource.RLIMIT_NOFILE, limits)


def test_raise_fd_limit_lifts_the_soft_limit_to_the_hard_one(
    restored_fd_limit: tuple[int, int],
) -> None:
    _, hard = restored_fd_limit
    if hard <= 256:
        pytest.skip(f"hard limit {hard} too low to lower the soft one under it")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))

    assert raise_fd_limit() == (256, hard)
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (hard, hard)
    assert raise_fd_limit() == (hard, hard), "already at the hard limit: unchanged"


@pytest.mark.asyncio
@pytest.mark.slow
async def test_a_burst_of_exits_on_the_sigchld_watcher_loses_none(tmp_path: Path) -> None:
    """Hundreds of SIGCHLDs while the loop is busy overflow asyncio's wakeup socket: every exit
    is still reaped, and the dropped wakeup bytes raise no error."""
    activator = Activator(use_pidfd=False)
    spec = SpawnSpec(server_id="True", argv=("true",), env=clean_base_env(), cwd=str(tmp_path))

    processes = [await activator.spawn(spec) for _ in range(400)]  # no await yields the loop
    ended = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in processes)), WAIT)

    assert {e.code for e in ended} == {0} and not activator.running
    activator.close()
