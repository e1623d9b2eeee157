"""`admin start`'s head start (shoal.cli.quick_start): the master spawned as
shoal.cli.daemon.spawn_node spawns it, with the start lock start_grid takes; or nothing done
at all, and the full command does it all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shoal.cli import quick_start
from shoal.cli.context import CliContext
from shoal.cli.daemon import NodeFiles, Spawned, read_pidfile, spawn_node
from shoal.cli.grid import Grid
from shoal.cli.quick import MasterFiles
from shoal.cli.quick_start import HeadStart, head_start
from shoal.cli.start import start_grid
from shoal.config.site import MASTER_NODE, Site
from shoal.errors import SiteError

PORT = 4061  # never connected to: the registry's address is probed through _listens


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site made by `shoal init`, found through SHOAL_HOME."""
    prefix = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "shoal", "init", str(prefix)], check=True, capture_output=True
    )
    monkeypatch.setenv("SHOAL_HOME", str(prefix))
    monkeypatch.chdir(tmp_path)
    return prefix


class Spawns:
    """os.posix_spawn recorded (argv with the fd numbers named, environment, file actions,
    setsid), a fake pid returned: nothing runs."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], dict[str, str], list[Any], bool]] = []

    def __call__(
        self, path: str, argv: list[str], env: dict[str, str], *, file_actions: Any, setsid: bool
    ) -> int:
        named = [
            "FD" if previous in ("--ready-fd", "--hold-fd") else word
            for previous, word in zip(["", *argv], argv, strict=False)
        ]
        self.calls.append((named, dict(env), list(file_actions), setsid))
        return 999_999


@pytest.fixture
def spawns(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spawns]:
    recorder = Spawns()
    monkeypatch.setattr(os, "posix_spawn", recorder)
    monkeypatch.setattr(quick_start, "_listens", lambda endpoint: False)
    yield recorder


def _close(head: HeadStart) -> None:
    os.close(head.ready_fd)
    os.close(head.hold_fd)


def test_the_master_is_spawned_as_spawn_node_spawns_it(site: Path, spawns: Spawns) -> None:
    head = head_start("shoal", ["admin", "start", "etc/grid/default.xml"], None)
    assert head is not None
    _close(head)
    full_site = Site(site)
    held = spawn_node(full_site, NodeFiles.load(full_site, MASTER_NODE), detached=True, hold=True)
    for fd in (held.ready_fd, held.hold_fd):
        assert fd is not None
        os.close(fd)
    quick_call, full_call = spawns.calls
    assert quick_call == full_call
    argv, environment, _, setsid = quick_call
    assert argv[-4:] == ["--ready-fd", "FD", "--hold-fd", "FD"] and setsid
    assert environment["SHOAL_HOME"] == str(site)


def test_the_start_lock_is_taken_for_start_grid(site: Path, spawns: Spawns) -> None:
    head = head_start("shoal", ["admin", "start"], None)
    assert head is not None
    _close(head)
    lock = site / "var" / "master" / "master.starting"
    assert lock.read_text() == f"{os.getpid()}\n"
    assert (head.pid, head.claimed, head.prefix) == (999_999, False, str(site))


@pytest.mark.parametrize(
    "args",
    [
        ["admin", "start"],
        ["admin", "start", "app.xml", "NAME=value", "node1"],
        ["admin", "start", "--wait", "5", "app.xml"],
        ["admin", "start", "app.xml", "--wait=0.5"],
        ["admin", "start", "--wait", "0", "--wait=inf"],
    ],
)
def test_words_and_wait_get_a_head_start(site: Path, spawns: Spawns, args: list[str]) -> None:
    head = head_start("shoal", args, None)
    assert head is not None
    _close(head)


@pytest.mark.parametrize(
    "wait",
    [
        ["--wait", "abc"],
        ["--wait", "-3"],
        ["--wait=-inf"],
        ["--wait="],
        ["--wait"],  # no value
        ["--wait", "--foreground"],  # "--foreground" as its value
        ["--wait", "abc", "--wait", "5"],  # click takes the last; any bad one declines here
    ],
)
def test_a_wait_click_refuses_is_left_to_the_full_command(
    site: Path, spawns: Spawns, wait: list[str]
) -> None:
    # A usage error: the full command spawns nothing, and neither does the head start.
    assert head_start("shoal", ["admin", "start", "app.xml", *wait], None) is None
    assert spawns.calls == []
    assert not (site / "var" / "master" / "master.starting").exists()


#: --wait values click takes, then values it refuses (both sides of float() and of 0).
_WAITS = ("5", "0", "-0", "0.5", " 7 ", "1e3", "1_000", "+2", "inf", "nan", "\u0663")
_NOT_WAITS = ("-3", "-1e-3", "-inf", "abc", "", "0x10", "5s", "--foreground")


@pytest.mark.parametrize("value", [*_WAITS, *_NOT_WAITS])
def test_the_wait_check_is_clicks(value: str) -> None:
    import click

    from shoal.cli.start import start

    (wait,) = [p for p in start.params if p.name == "wait"]
    try:
        wait.type.convert(value, wait, None)
    except click.BadParameter:
        takes = False
    else:
        takes = True
    assert quick_start._wait_seconds(value) is takes is (value in _WAITS)


@pytest.mark.parametrize(
    "args",
    [
        ["admin", "start", "--foreground"],
        ["admin", "start", "app.xml", "--help"],
        ["admin", "start", "-h"],
        ["admin", "start", "--", "app.xml"],
        ["--debug", "admin", "start"],
        ["admin", "restart"],
        ["admin", "deploy", "app.xml"],
    ],
)
def test_other_words_are_left_to_the_full_command(
    site: Path, spawns: Spawns, args: list[str]
) -> None:
    assert head_start("shoal", args, None) is None
    assert spawns.calls == []
    assert not (site / "var" / "master" / "master.starting").exists()


def test_a_master_pidfile_or_a_start_lock_is_left_to_the_full_command(
    site: Path, spawns: Spawns
) -> None:
    # Running, starting, or a stale file: the full command tells which, as ever.
    data = site / "var" / "master"
    data.mkdir(parents=True, exist_ok=True)
    for name in ("master.pid", "master.starting"):
        (data / name).write_text("12345\n")
        assert head_start("shoal", ["admin", "start"], None) is None
        assert (data / name).read_text() == "12345\n"
        (data / name).unlink()
    assert spawns.calls == []


def test_a_config_that_is_not_plain_is_left_to_the_full_command(site: Path, spawns: Spawns) -> None:
    master_cfg = site / "etc" / "master.cfg"
    master_cfg.write_text(master_cfg.read_text() + "Ice.StdOut=${SHOAL_HOME}/var/log/m.out\n")
    assert head_start("shoal", ["admin", "start"], None) is None
    assert spawns.calls == []


def test_something_listening_at_the_registrys_address_is_left_to_the_full_command(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        for name in ("internal.cfg", "master.cfg"):
            path = site / "etc" / name
            path.write_text(path.read_text().replace(f"-p {PORT}", f"-p {port}"))
        monkeypatch.setattr(os, "posix_spawn", Spawns())
        assert head_start("shoal", ["admin", "start"], None) is None
    assert not (site / "var" / "master" / "master.starting").exists()


def test_a_spawn_that_fails_is_left_to_the_full_command(
    site: Path, spawns: Spawns, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> int:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(os, "posix_spawn", refuse)
    assert head_start("shoal", ["admin", "start"], None) is None
    assert not (site / "var" / "master" / "master.starting").exists()


@pytest.mark.parametrize("step", ["_listens", "_spawn_held_master"])
def test_a_start_lock_removed_meanwhile_is_still_left_to_the_full_command(
    site: Path, spawns: Spawns, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    # Something listens, or the spawn fails: the lock head_start took is gone already.
    lock = site / "var" / "master" / "master.starting"

    def meanwhile(*args: Any) -> bool:
        lock.unlink()
        if step == "_spawn_held_master":
            raise OSError(24, "Too many open files")
        return True

    monkeypatch.setattr(quick_start, step, meanwhile)
    assert head_start("shoal", ["admin", "start"], None) is None
    assert spawns.calls == [] and not lock.exists()


def test_dropping_a_start_lock_that_is_gone_does_nothing(tmp_path: Path) -> None:
    lock = tmp_path / "master.starting"
    lock.write_text("1\n")
    quick_start._drop_start_lock(str(lock))
    assert not lock.exists()
    quick_start._drop_start_lock(str(lock))  # no FileNotFoundError


def test_the_head_start_loads_neither_click_nor_protobuf() -> None:
    code = "import shoal.cli.entry, shoal.cli.quick_start, sys; print('\\n'.join(sys.modules))"
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    heavy = {"click", "google.protobuf", "asyncio", "typing", "dataclasses", "pathlib", "socket"}
    assert set(found.stdout.split()) & heavy == set()


def test_the_mirrored_constants_are_the_originals() -> None:
    from shoal.cli.grid import PROBE_SECONDS

    assert quick_start.PROBE_SECONDS == PROBE_SECONDS
    assert quick_start.MASTER == MASTER_NODE


# --------------------------------------------------- start_grid with a real held master


@pytest.fixture
def held_master(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], HeadStart]]:
    """head_start's master, really spawned (held, it loads its code and waits); one left
    running by a failed test is killed, by its pid, once it is known to be our live child."""
    monkeypatch.setattr(quick_start, "_listens", lambda endpoint: False)
    pids: list[int] = []

    def spawn() -> HeadStart:
        head = head_start("shoal", ["admin", "start"], None)
        assert head is not None
        pids.append(head.pid)
        return head

    yield spawn
    for pid in pids:
        try:
            if os.waitpid(pid, os.WNOHANG) == (0, 0):  # still running
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        except ChildProcessError:
            pass  # reaped already (called off): the pid may be another's now


def _called_off(head: HeadStart) -> bool:
    """The held master exited and was reaped (not merely abandoned), its lock gone."""
    try:
        os.waitpid(head.pid, os.WNOHANG)
    except ChildProcessError:
        reaped = True
    else:
        reaped = False
    lock = Path(head.files.start_lock)
    return reaped and head.claimed and not lock.exists()


def test_a_head_start_grid_load_refuses_is_called_off(
    site: Path, held_master: Callable[[], HeadStart]
) -> None:
    head = held_master()
    (site / "etc" / "master.cfg").unlink()  # Grid.load: "the master node has no config"
    with pytest.raises(SiteError, match="no config"):
        start_grid(CliContext(head_start=head), (), 60.0, foreground=False)
    assert _called_off(head)


def test_a_head_start_with_other_files_is_called_off_and_a_master_spawned(
    site: Path, held_master: Callable[[], HeadStart], monkeypatch: pytest.MonkeyPatch
) -> None:
    head = held_master()
    files = head.files
    head.files = MasterFiles(files.pidfile, files.start_lock, files.stdout, f"{files.stderr}.x")
    spawned: list[tuple[Path, dict[str, Any]]] = []

    def spawn_node(site: Site, files: NodeFiles, **options: Any) -> Spawned:
        spawned.append((files.stderr, options))
        assert head.claimed and Path(head.files.start_lock).read_text() == f"{os.getpid()}\n"
        raise OSError(11, "stop here: no grid is started")

    monkeypatch.setattr(Grid, "registry_listens", lambda grid: False)
    # The lock's owner is told by its cmdline too (live_pid): pytest's may not say "shoal".
    monkeypatch.setattr(Grid, "starting_pid", lambda grid: read_pidfile(grid.start_lock))
    monkeypatch.setattr("shoal.cli.start.spawn_node", spawn_node)
    with pytest.raises(OSError, match="stop here"):
        start_grid(CliContext(head_start=head), (), 60.0, foreground=False)
    assert _called_off(head)  # the lock start_grid took for its own master is gone too
    assert spawned == [(site / "var" / "log" / "master.err", {"detached": True, "hold": True})]
