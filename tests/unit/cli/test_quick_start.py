"""`admin start`'s head start (shoal.cli.quick_start): the master spawned as
shoal.cli.daemon.spawn_node spawns it, with the start lock start_grid takes; or nothing done
at all, and the full command does it all."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shoal.cli import quick_start
from shoal.cli.daemon import NodeFiles, spawn_node
from shoal.cli.quick_start import HeadStart, head_start
from shoal.config.site import MASTER_NODE, Site

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
        ["admin", "start", "--wait", "-3"],  # click refuses it: the master is called off then
    ],
)
def test_words_and_wait_get_a_head_start(site: Path, spawns: Spawns, args: list[str]) -> None:
    head = head_start("shoal", args, None)
    assert head is not None
    _close(head)


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


def test_the_head_start_loads_neither_click_nor_protobuf() -> None:
    code = "import shoal.cli.entry, shoal.cli.quick_start, sys; print('\\n'.join(sys.modules))"
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    heavy = {"click", "google.protobuf", "asyncio", "typing", "dataclasses", "pathlib", "socket"}
    assert set(found.stdout.split()) & heavy == set()


def test_the_mirrored_constants_are_the_originals() -> None:
    from shoal.cli.grid import PROBE_SECONDS

    assert quick_start._PROBE_SECONDS == PROBE_SECONDS
    assert quick_start._MASTER == MASTER_NODE
