"""`admin stop` and `admin ice application remove` on the quick path (shoal.cli.quick), against
a real grid: the same words and exit codes as the full command, without loading it."""

from __future__ import annotations

import os
import subprocess
import sys

from gridsupport import marked_processes, poll_until

from .conftest import Site, sleeper

#: What the quick path must not load: the command tree, protobuf, the event loop, and the idna
#: codec (with `re`) that getaddrinfo would load for a host given as str (~13 ms).
_FULL_COMMAND_MODULES = {"click", "google.protobuf", "asyncio", "encodings.idna", "re"}


def _run(site: Site, *code_and_args: str) -> subprocess.CompletedProcess[str]:
    return site.python("-X", "importtime", *code_and_args)


def _quick(site: Site, *args: str) -> subprocess.CompletedProcess[str]:
    return _run(site, "-m", "shoal", *args)


def _full(site: Site, *args: str) -> subprocess.CompletedProcess[str]:
    """The same command through the command tree only (a launcher made before the quick path)."""
    return _run(site, "-c", "from shoal.cli.main import main; main()", *args)


def _imported(result: subprocess.CompletedProcess[str]) -> set[str]:
    return {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }


def _said(result: subprocess.CompletedProcess[str]) -> str:
    return "".join(
        line + "\n" for line in result.stderr.splitlines() if not line.startswith("import time:")
    )


def test_remove_and_stop_answer_without_the_command_tree(site: Site) -> None:
    descriptor = site.descriptor("two.xml", sleeper("A") + sleeper("B"))
    assert site.shoal("admin", "start", str(descriptor), "--wait", "60").returncode == 0
    assert len(marked_processes(site.marker)) == 2

    removed = _quick(site, "admin", "ice", "application", "remove", "Test")
    assert (removed.returncode, removed.stdout, _said(removed)) == (0, "", "")
    assert not _imported(removed) & _FULL_COMMAND_MODULES
    poll_until(lambda: not marked_processes(site.marker) or None, "servers gone")

    assert site.shoal("admin", "deploy", str(descriptor)).returncode == 0
    poll_until(lambda: len(marked_processes(site.marker)) == 2 or None, "servers back")
    master = int((site.prefix / "var" / "master" / "master.pid").read_text())
    stopped = _quick(site, "admin", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout == (
        "stopping the grid: 2 server(s) stopped; nodes stopped: master\nthe grid is stopped\n"
    )
    assert not _imported(stopped) & _FULL_COMMAND_MODULES
    assert not os.path.exists(f"/proc/{master}") or _zombie(master)
    assert marked_processes(site.marker) == []


def test_the_site_launcher_answers_before_pythons_site_set_up(site: Site) -> None:
    # bin/shoal starts Python with -S: the quick path runs without site-packages' set-up; a
    # command it leaves to the full CLI gets the set-up first (shoal.cli.entry.SiteOnFirstMiss).
    launcher = site.prefix / "bin" / "shoal"
    assert launcher.read_text().startswith(f"#!{sys.executable} -S\n")
    descriptor = site.descriptor("one.xml", sleeper("A"))
    assert site.shoal("admin", "start", str(descriptor), "--wait", "60").returncode == 0

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SHOAL")}
        environment["PYTHONPROFILEIMPORTTIME"] = "1"
        return subprocess.run(
            [str(launcher), *args],
            cwd=site.prefix,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    listed = run("admin", "ice", "server", "list")
    assert (listed.returncode, listed.stdout) == (0, "A\n"), listed.stderr
    assert {"site", "click"} <= _imported(listed)
    stopped = run("admin", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.endswith("the grid is stopped\n")
    assert not _imported(stopped) & (_FULL_COMMAND_MODULES | {"site"})
    assert marked_processes(site.marker) == []


def _zombie(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "Z"


def test_an_error_reply_is_told_as_the_full_command_tells_it(site: Site) -> None:
    assert (
        site.shoal("admin", "start", str(site.descriptor("one.xml", sleeper("A")))).returncode == 0
    )
    words = ("admin", "ice", "application", "remove", "Nope")
    quick, full = _quick(site, *words), _full(site, *words)
    assert quick.returncode == full.returncode == 12
    assert _said(quick) == _said(full)
    assert "application `Nope' is not deployed" in _said(quick)
    # The full stop_grid on a running grid (every other `admin stop` here takes the quick path)
    stopped = _full(site, "admin", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout == (
        "stopping the grid: 1 server(s) stopped; nodes stopped: master\nthe grid is stopped\n"
    )


def test_a_start_lock_sends_the_stop_to_the_full_command(site: Site) -> None:
    # A lock left by a start that died (its pid exited): the quick path sends nothing, the full
    # command sees no start in progress and stops the grid as usual.
    assert (
        site.shoal("admin", "start", str(site.descriptor("one.xml", sleeper("A")))).returncode == 0
    )
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    (site.prefix / "var" / "master" / "master.starting").write_text(dead.stdout)

    stopped = _quick(site, "admin", "stop")

    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.endswith("the grid is stopped\n")
    assert "click" in _imported(stopped)
    assert marked_processes(site.marker) == []


def test_a_stopped_grid_goes_to_the_full_command(site: Site) -> None:
    # Nothing runs: the quick path declines (no master pid) and the full command says so.
    quick, full = _quick(site, "admin", "stop"), _full(site, "admin", "stop")
    assert (
        (quick.returncode, quick.stdout)
        == (full.returncode, full.stdout)
        == (
            0,
            "the grid is not running\n",
        )
    )
    assert "click" in _imported(quick)


def test_a_registry_that_does_not_answer_goes_to_the_full_command(site: Site) -> None:
    """Accepting but silent (a hung registry): the quick path's ping gets nothing in 3 s and
    hands over before asking anything (the full command then waits for it, then signals)."""
    import socket
    import time

    from shoal.cli import quick

    listener = socket.create_server(("127.0.0.1", 0))
    try:
        connection = quick._connect(listener.getsockname()[:2])
        assert connection is not None
        started = time.monotonic()
        assert not quick._answers(connection)
        assert 2.5 < time.monotonic() - started < 10
    finally:
        listener.close()
