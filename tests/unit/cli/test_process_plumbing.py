"""The CLI's process plumbing with real tiny subprocesses: the ready pipe, pid waits, pidfiles."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shoal.cli import daemon
from shoal.cli.daemon import ReadyKind, parse_ready_line, read_ready, wait_for_exit

# The child blocks on stdin, so the test decides when it exits: no sleeps anywhere.
WRITE_THEN_BLOCK = (
    "import os, sys; fd = int(sys.argv[1]); line = sys.argv[2]\n"
    "if line: os.write(fd, line.replace('PID', str(os.getpid())).encode())\n"
    "os.close(fd); sys.stdin.read()"
)


class Child:
    def __init__(self, line: str, *, keep_pipe_open: bool = False) -> None:
        self.read_end, write_end = os.pipe()
        code = WRITE_THEN_BLOCK
        if keep_pipe_open:  # never writes nor closes: a node still waiting for its registry
            code = "import sys; sys.stdin.read()"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, str(write_end), line],
            stdin=subprocess.PIPE,
            pass_fds=(write_end,),
        )
        os.close(write_end)

    def release(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        os.close(self.read_end)


@pytest.fixture
def children() -> Iterator[list[Child]]:
    made: list[Child] = []
    yield made
    for child in made:
        if child.process.returncode is None:
            child.release()


@pytest.mark.parametrize(
    ("line", "kind", "pid", "message", "hint"),
    [
        ("ready 123\n", ReadyKind.READY, 123, "", ""),
        ("error port 4061 is in use\tstop the other registry\n", ReadyKind.ERROR, 0,
         "port 4061 is in use", "stop the other registry"),
        ("error no hint\n", ReadyKind.ERROR, 0, "no hint", ""),
        ("hello\n", ReadyKind.GARBLED, 0, "hello", ""),
        ("ready soon\n", ReadyKind.GARBLED, 0, "ready soon", ""),
    ],
)  # fmt: skip
def test_ready_lines_are_parsed_as_the_runtime_contract_says(
    line: str, kind: ReadyKind, pid: int, message: str, hint: str
) -> None:
    outcome = parse_ready_line(line)
    assert (outcome.kind, outcome.pid, outcome.message, outcome.hint) == (kind, pid, message, hint)


def test_a_ready_line_from_a_child_gives_its_pid(children: list[Child]) -> None:
    child = Child("ready PID\n")
    children.append(child)
    outcome = read_ready(child.read_end, 30)
    assert outcome.kind is ReadyKind.READY
    assert outcome.pid == child.process.pid


def test_an_error_line_keeps_message_and_hint(children: list[Child]) -> None:
    child = Child("error cannot listen on tcp -p 4061\tis a registry running?\n")
    children.append(child)
    outcome = read_ready(child.read_end, 30)
    assert outcome.kind is ReadyKind.ERROR
    assert outcome.message == "cannot listen on tcp -p 4061"
    assert outcome.hint == "is a registry running?"


def test_a_pipe_closed_with_no_line_means_the_daemon_died(children: list[Child]) -> None:
    child = Child("")
    children.append(child)
    assert read_ready(child.read_end, 30).kind is ReadyKind.CLOSED


def test_no_line_within_the_timeout_is_timed_out() -> None:
    # A write end held open with nothing written: a node that keeps trying to register.
    read_end, write_end = os.pipe()
    try:
        assert read_ready(read_end, 0.05).kind is ReadyKind.TIMED_OUT
    finally:
        os.close(read_end)
        os.close(write_end)


def test_wait_for_exit_returns_when_the_process_exits(children: list[Child]) -> None:
    child = Child("", keep_pipe_open=True)
    children.append(child)
    assert not wait_for_exit(child.process.pid, 0.05)
    assert child.process.stdin is not None
    child.process.stdin.close()
    assert wait_for_exit(child.process.pid, 30)
    child.process.wait(timeout=30)
    os.close(child.read_end)


def test_wait_for_exit_of_a_pid_that_is_gone_is_immediate() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(timeout=30)
    assert wait_for_exit(process.pid, 0)


def test_without_pidfd_the_fallback_waits_too(
    children: list[Child], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pidfd(pid: int) -> int:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "pidfd_open", no_pidfd)
    child = Child("", keep_pipe_open=True)
    children.append(child)
    assert not wait_for_exit(child.process.pid, 0.05)
    assert child.process.stdin is not None
    child.process.stdin.close()
    # A zombie counts as gone, so this returns before Popen reaps it.
    assert wait_for_exit(child.process.pid, 30)
    child.process.wait(timeout=30)
    os.close(child.read_end)


def test_pidfiles_name_live_shoal_processes_only(tmp_path: Path) -> None:
    pidfile = tmp_path / "master.pid"
    assert daemon.read_pidfile(pidfile) is None
    pidfile.write_text("not a pid\n")
    assert daemon.read_pidfile(pidfile) is None
    pidfile.write_text(f"{os.getpid()}\n")
    assert daemon.read_pidfile(pidfile) == os.getpid()
    assert daemon.pid_alive(os.getpid())
    # This pytest process is alive, but is it a Shoal process? Only if "shoal" is in its
    # command line; a reused pid of another program must not count.
    cmdline = Path(f"/proc/{os.getpid()}/cmdline").read_bytes()
    assert (daemon.live_pid(pidfile) is not None) == (b"shoal" in cmdline)


def test_exit_status_words() -> None:
    assert daemon.exit_status_text(3 << 8) == "exited with code 3"
    assert daemon.exit_status_text(9) == "killed by SIGKILL"


def test_tail_lines_gives_the_last_non_empty_lines(tmp_path: Path) -> None:
    log = tmp_path / "master.err"
    assert daemon.tail_lines(log) == []
    log.write_text("one\ntwo\n\nthree\n\n")
    assert daemon.tail_lines(log) == ["two", "three"]


def test_exit_now_flushes_what_was_written_and_keeps_the_code() -> None:
    # The launchers leave through exit_now (os._exit): buffered output must not be lost.
    code = (
        "import logging, sys\n"
        "from shoal.cli.main import exit_now\n"
        "logging.basicConfig(stream=sys.stderr)\n"
        "sys.stdout.write('x' * 100000)\n"
        "logging.getLogger('t').warning('last words')\n"
        "exit_now(3)\n"
    )
    ended = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert ended.returncode == 3
    assert ended.stdout == "x" * 100000
    assert "last words" in ended.stderr
